"""The labelled corpus: reading it, training the model from it, feeding corrections back into it.

Corpus lines are JSON objects: text, intent ('issue'|'progress'), category, urgent, amount_wan
(万元 or null), milestone (code or null). Progress reports carry category 'other'.
`heldout.jsonl` has the same shape and is never trained on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from domain.tagging import lexicon, rules, texts
from domain.tagging.amounts import parse_amount_wan
from domain.tagging.lexicon import CATEGORIES
from domain.tagging.model import LinearModel, Sample, train
from domain.tagging.normalize import normalize
from domain.tagging.rules import MILESTONES, is_urgent, milestone

# Bump when feature extraction changes meaning, so a stale model is detected.
FEATURE_VERSION = 1
INTENTS = ("issue", "progress")


@dataclass(frozen=True, slots=True)
class CorpusRecord:
    text: str
    intent: str
    category: str
    urgent: bool
    amount_wan: float | None
    milestone: str | None

    @property
    def label(self) -> str:
        """The model's class: the category of a problem, or 'progress'."""
        return "progress" if self.intent == "progress" else self.category


class CorpusError(ValueError):
    pass


def parse_record(data: Any, lineno: int = 0) -> CorpusRecord:
    def bad(detail: str) -> CorpusError:
        return CorpusError(texts.ERROR_BAD_CORPUS_LINE.format(lineno=lineno, detail=detail))

    if not isinstance(data, dict):
        raise bad("not an object")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad("text")
    intent = data.get("intent")
    if intent not in INTENTS:
        raise bad(f"intent {intent!r}")
    category = data.get("category")
    if category not in CATEGORIES:
        raise bad(f"category {category!r}")
    urgent = data.get("urgent")
    if not isinstance(urgent, bool):
        raise bad("urgent")
    amount = data.get("amount_wan")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise bad("amount_wan")
    stage = data.get("milestone")
    if stage is not None and stage not in MILESTONES:
        raise bad(f"milestone {stage!r}")
    return CorpusRecord(
        text=text,
        intent=str(intent),
        category=str(category),
        urgent=urgent,
        amount_wan=None if amount is None else float(amount),
        milestone=stage,
    )


def read_records(lines: Iterable[str]) -> list[CorpusRecord]:
    records = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise CorpusError(texts.ERROR_BAD_CORPUS_LINE.format(lineno=lineno, detail="JSON")) from exc
        records.append(parse_record(data, lineno))
    return records


def load_records(path: Path) -> list[CorpusRecord]:
    with open(path, encoding="utf-8") as fh:
        return read_records(fh)


def default_corpus_path() -> Path:
    return Path(__file__).with_name("data") / "corpus.jsonl"


def default_heldout_path() -> Path:
    return Path(__file__).with_name("data") / "heldout.jsonl"


def source_digest(corpus_path: Path, userdict_path: Path) -> str:
    """Fingerprint of everything the model is trained from, stored in the model's meta."""
    h = hashlib.sha256()
    h.update(f"features:{FEATURE_VERSION}\n".encode())
    h.update(corpus_path.read_bytes())
    h.update(userdict_path.read_bytes())
    for table in (lexicon.STRONG, lexicon.WEAK):
        for category in sorted(table):
            h.update(f"{category}:{','.join(table[category])}\n".encode())
    h.update(",".join(lexicon.NEUTRAL).encode())
    h.update(rules.signature().encode())
    return h.hexdigest()


class _Featurizer(Protocol):
    def features(self, text: str) -> tuple[tuple[str, ...], dict[str, float]]: ...


def build_model(
    featurizer: _Featurizer, records: Iterable[CorpusRecord], classes: tuple[str, ...]
) -> LinearModel:
    """Train the category-and-intent model on labelled records."""
    index = {c: i for i, c in enumerate(classes)}
    samples = []
    for record in records:
        feats, rules = featurizer.features(record.text)
        samples.append(Sample(feats, rules, index[record.label]))
    model = train(samples, classes)
    model.meta["samples"] = len(samples)
    return model


# --- corrections -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorrectionRecord:
    """A category someone fixed: the reporter's 改类别 before submitting.

    A transfer (转办) is not a correction: it changes who handles a ticket, not its category.
    """

    text: str
    old_category: str
    new_category: str


def corrections_to_jsonl(
    corrections: Iterable[CorrectionRecord | tuple[str, str, str]],
) -> list[str]:
    """Corpus lines (JSON, no newline) for corrected categories, ready to append to corpus.jsonl.

    Only the category is known from a correction; urgency and amount are filled in by the rules
    (the model never learns those fields), milestone is left empty because a corrected message is
    a problem report. Lines whose category did not change, whose new category is unknown, whose
    text is blank, or which repeat an earlier text are dropped. Extra fields (`source`, `was`)
    say where the line came from; the corpus reader ignores them.
    """
    out: list[str] = []
    seen: set[str] = set()
    for item in corrections:
        rec = item if isinstance(item, CorrectionRecord) else CorrectionRecord(*item)
        text = rec.text.strip()
        key = normalize(text)
        if not text or key in seen:
            continue
        if rec.new_category not in CATEGORIES or rec.new_category == rec.old_category:
            continue
        seen.add(key)
        line = {
            "text": text,
            "intent": "issue",
            "category": rec.new_category,
            "urgent": is_urgent(key),
            "amount_wan": parse_amount_wan(text),
            "milestone": milestone(key, progress=False),
            "source": "correction",
            "was": rec.old_category,
        }
        out.append(json.dumps(line, ensure_ascii=False))
    return out


def train_model(corpus_path: Path, userdict_path: Path) -> tuple[LinearModel, int]:
    """Train from a corpus file with a fresh private tokenizer; the model records its sources."""
    from domain.tagging.tagger import CLASSES, Tagger

    records = load_records(corpus_path)
    tagger = Tagger(userdict_path=userdict_path)
    model = build_model(tagger, records, CLASSES)
    model.meta["source_digest"] = source_digest(corpus_path, userdict_path)
    return model, len(records)
