"""Measuring the tagger against labelled records (the held-out set): shared by tests and benchmark."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from domain.tagging.corpus import CorpusRecord
from domain.tagging.tagger import TagResult


@dataclass
class Evaluation:
    total: int = 0
    intent_ok: int = 0
    category_ok: int = 0
    category_total: int = 0  # problem reports only: a progress report has no category to route
    amount_ok: int = 0
    milestone_ok: int = 0
    urgent_ok: int = 0
    urgent_tp: int = 0
    urgent_fp: int = 0
    urgent_fn: int = 0
    low_confidence: int = 0
    low_confidence_wrong: int = 0
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)  # (gold, predicted)
    errors: list[tuple[str, str, object, object]] = field(default_factory=list)

    @staticmethod
    def _ratio(n: int, d: int) -> float:
        return n / d if d else 1.0

    @property
    def intent_accuracy(self) -> float:
        return self._ratio(self.intent_ok, self.total)

    @property
    def category_accuracy(self) -> float:
        return self._ratio(self.category_ok, self.category_total)

    @property
    def amount_accuracy(self) -> float:
        return self._ratio(self.amount_ok, self.total)

    @property
    def milestone_accuracy(self) -> float:
        return self._ratio(self.milestone_ok, self.total)

    @property
    def urgent_accuracy(self) -> float:
        return self._ratio(self.urgent_ok, self.total)

    @property
    def urgent_precision(self) -> float:
        return self._ratio(self.urgent_tp, self.urgent_tp + self.urgent_fp)

    @property
    def urgent_recall(self) -> float:
        return self._ratio(self.urgent_tp, self.urgent_tp + self.urgent_fn)


def _same_amount(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-6


def evaluate(
    tag: Callable[[str], TagResult], records: Sequence[CorpusRecord], low_confidence: float
) -> Evaluation:
    ev = Evaluation()
    for rec in records:
        r = tag(rec.text)
        ev.total += 1
        fields: list[tuple[str, object, object, bool]] = [
            ("intent", rec.intent, r.intent, rec.intent == r.intent),
            ("amount_wan", rec.amount_wan, r.amount_wan, _same_amount(rec.amount_wan, r.amount_wan)),
            ("milestone", rec.milestone, r.milestone, rec.milestone == r.milestone),
            ("urgent", rec.urgent, r.urgent, rec.urgent == r.urgent),
        ]
        if rec.intent == "issue":
            ev.category_total += 1
            ok = rec.category == r.category
            fields.append(("category", rec.category, r.category, ok))
            ev.category_ok += ok
            key = (rec.category, r.category)
            ev.confusion[key] = ev.confusion.get(key, 0) + 1
            if r.intent == "issue" and r.confidence < low_confidence:
                ev.low_confidence += 1
                ev.low_confidence_wrong += not ok
        ev.intent_ok += fields[0][3]
        ev.amount_ok += fields[1][3]
        ev.milestone_ok += fields[2][3]
        ev.urgent_ok += fields[3][3]
        ev.urgent_tp += rec.urgent and r.urgent
        ev.urgent_fp += (not rec.urgent) and r.urgent
        ev.urgent_fn += rec.urgent and not r.urgent
        for name, gold, got, ok in fields:
            if not ok:
                ev.errors.append((name, rec.text, gold, got))
    return ev
