"""The Tagger: one message in, intent / category / urgency / amount / milestone / keywords out."""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from domain.errors import DomainError
from domain.tagging import texts
from domain.tagging.amounts import Amount, choose_amount, find_amounts, is_done_amount
from domain.tagging.lexicon import CATEGORIES, segment_words
from domain.tagging.model import LinearModel
from domain.tagging.normalize import normalize, warm_up
from domain.tagging.rules import (
    KeywordHit,
    intent_cue_counts,
    keyword_hits,
    milestone,
    urgency_cues,
)

# Under this category confidence the confirmation card asks the reporter to pick the category.
# Chosen on the held-out set: it asks about one report in forty and catches a third of the
# wrong categories; a higher bar would ask far more often to catch few more.
LOW_CONFIDENCE = 0.7

PROGRESS = "progress"
CLASSES: tuple[str, ...] = (*CATEGORIES, PROGRESS)
MAX_KEYWORDS = 8

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_RUNS = re.compile(r"[0-9a-z\u4e00-\u9fff]+")
_WORDLIKE = re.compile(r"^[0-9a-z\u4e00-\u9fff]+$")
# Function words and pleasantries: never keywords.
_STOPWORD_TEXT = """
    我们 你们 他们 它们 我司 我方 贵方 这个 那个 这边 那边 一直 现在 目前 已经 还是
    但是 因为 所以 没有 什么 怎么 可以 希望 能否 请问 一下 领导 麻烦 帮忙 问题 项目
    公司 企业 情况 一个 这样 那样 还有 就是 如果 然后 而且 或者 这些 那些 不是 时候
    自己 非常 比较 特别 今天 明天 昨天 谢谢 您好 你好 各位 老师 同志 感谢 请求 反映
    协调 解决 尽快 需要 已 了 的 是 在 和 也 都 就 还 又 吧 呢 啊 吗 哦 嗯 呀
    本月 本周 上月 能不能 有没有 一些 有点 有些 多少 为什么 怎么办 咋办 这里 那里
    之后 之前 以后 以前 左右 大概 可能 应该 万元 亿元 今年 去年 明年 上周 下周 下月
    方便 回复 时间 天天 每天 好几 几次 多次 到底 一点 东西 事情 这件 那件 同时 以及
    还要 一样
"""
# Counts and durations (两天, 三个月, 两千五百) say nothing about the subject.
_NUMERAL_WORD = re.compile(r"^[零〇一二两三四五六七八九十百千万亿几半多个天月年周次号]+$")
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@functools.lru_cache(maxsize=1 << 16)
def _word_info(word: str) -> tuple[str | None, bool]:
    """(model feature or None for punctuation and spaces, usable as a keyword) for one token.

    Messages repeat the same few thousand words, so this is computed once per word.
    """
    if not _WORDLIKE.match(word):
        return None, False
    feature = "w:" + (_DIGITS.sub("0", word) if word[0].isdigit() else word)
    keyword = not (
        len(word) < 2 or word in _STOPWORDS or word.isdigit() or _NUMERAL_WORD.match(word)
    )
    return feature, keyword


@dataclass(frozen=True, slots=True)
class _Analysis:
    """What the rules read in one normalised message; computed once, used for features and output."""

    hits: list[KeywordHit]
    progress_cues: int
    help_cues: int
    milestone_any: str | None  # the furthest milestone, reading the message as a progress report
    amount: Amount | None
    amount_done: bool
    urgency: list[str]


def _analyse(normal: str) -> _Analysis:
    progress_cues, help_cues = intent_cue_counts(normal)
    amount = choose_amount(normal, find_amounts(normal))
    return _Analysis(
        hits=keyword_hits(normal),
        progress_cues=progress_cues,
        help_cues=help_cues,
        milestone_any=milestone(normal, progress=True),
        amount=amount,
        amount_done=amount is not None and is_done_amount(normal, amount),
        urgency=urgency_cues(normal),
    )


class ModelUnavailable(DomainError):
    """The trained model file is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class TagResult:
    intent: str  # 'issue' | 'progress'
    category: str  # one of CATEGORIES; 'other' for progress reports
    urgent: bool
    amount_wan: float | None
    milestone: str | None
    keywords: tuple[str, ...]
    confidence: float  # of the category (of the intent, for a progress report), in [0, 1]
    category_scores: tuple[tuple[str, float], ...]  # best first

    def as_json(self) -> dict[str, Any]:
        """The fields `zhitong tag` prints."""
        return {
            "intent": self.intent,
            "category": self.category,
            "urgent": self.urgent,
            "amount_wan": self.amount_wan,
            "milestone": self.milestone,
            "keywords": list(self.keywords),
            "confidence": self.confidence,
        }


def _data_file(name: str) -> Path:
    return Path(str(resources.files("domain.tagging").joinpath("data", name)))


def default_model_path() -> Path:
    return _data_file("model.json")


def default_userdict_path() -> Path:
    return _data_file("userdict.txt")


class Tagger:
    """Built once at start-up; `initialize()` before the first message; then thread-safe reads.

    Uses its own `jieba.Tokenizer`, so the domain dictionary never leaks into (or depends on)
    jieba's global tokenizer that other code may use.
    """

    def __init__(
        self,
        extra_words: Iterable[str] = (),
        *,
        model_path: Path | None = None,
        userdict_path: Path | None = None,
    ) -> None:
        self._extra_words = tuple(extra_words)
        self._model_path = model_path
        self._userdict_path = userdict_path
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: LinearModel | None = None

    # --- start-up --------------------------------------------------------------------------

    def initialize(self) -> None:
        """Load the private tokenizer, the domain dictionary and the model. Idempotent."""
        self._ensure_tokenizer()
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_model()

    def _ensure_tokenizer(self) -> Any:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    import jieba  # deferred: importing jieba is part of start-up cost

                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    tokenizer.load_userdict(str(self._userdict_path or default_userdict_path()))
                    # suggest_freq(tune=True) gives each word just the frequency that keeps it
                    # whole, computed against the dictionary actually loaded.
                    for word in segment_words():
                        tokenizer.suggest_freq(word, tune=True)
                    for word in self._extra_words:
                        word = normalize(word)
                        if word:
                            tokenizer.suggest_freq(word, tune=True)
                    warm_up()
                    self._tokenizer = tokenizer
        return self._tokenizer

    def _load_model(self) -> LinearModel:
        path = self._model_path or default_model_path()
        try:
            with open(path, encoding="utf-8") as fh:
                return LinearModel.from_json(json.load(fh))
        except FileNotFoundError as exc:
            raise ModelUnavailable(texts.ERROR_MODEL_MISSING.format(path=path)) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(texts.ERROR_MODEL_BROKEN.format(path=path)) from exc

    @property
    def model(self) -> LinearModel:
        if self._model is None:
            self.initialize()
        assert self._model is not None
        return self._model

    # --- features --------------------------------------------------------------------------

    def _words(self, normal: str) -> list[str]:
        return self._ensure_tokenizer().lcut(normal.lower(), HMM=False)

    def features(self, text: str) -> tuple[tuple[str, ...], dict[str, float]]:
        """Model features of a raw message (used by training; sorted for a reproducible model)."""
        normal = normalize(text)
        feats, rules = self._features(self._words(normal), _analyse(normal))
        return tuple(sorted(feats)), rules

    @staticmethod
    def _features(words: list[str], an: _Analysis) -> tuple[set[str], dict[str, float]]:
        feats: set[str] = set()
        prev_single = ""
        for word in words:
            feature, _ = _word_info(word)
            if feature is None:
                prev_single = ""
                continue
            feats.add(feature)
            # Words jieba does not know fall apart into single characters; pairs of them keep
            # some of the unknown word (挖机 → 挖 机 → b:挖机).
            if len(word) == 1:
                if prev_single:
                    feats.add("b:" + prev_single + word)
                prev_single = word
            else:
                prev_single = ""
        rules: dict[str, float] = {}
        strong: Counter[str] = Counter()
        weak: Counter[str] = Counter()
        for hit in an.hits:
            (strong if hit.strong else weak)[hit.category] += 1
        for category, n in strong.items():
            rules["K:" + category] = min(1.0 + 0.5 * (n - 1), 2.0)
        for category, n in weak.items():
            rules["k:" + category] = min(0.5 + 0.25 * (n - 1), 1.0)
        if not strong and not weak:
            rules["K:none"] = 1.0  # lets the model learn that no domain word leans to 'other'
        if an.progress_cues:
            rules["Q:progress"] = min(an.progress_cues, 4) / 2.0
        if an.help_cues:
            rules["Q:help"] = min(an.help_cues, 4) / 2.0
        if an.milestone_any:
            rules["Q:milestone"] = 1.0
        if an.amount is not None:
            # "完成投资800万" reports progress; "欠我们800万" asks for help: keep them apart.
            rules["Q:amount_done" if an.amount_done else "Q:amount"] = 1.0
        for kind in set(an.urgency):
            rules["U:" + kind] = 1.0  # hazards lean to safety, distress to labour or site
        return feats, rules

    # --- tagging ---------------------------------------------------------------------------

    def tag(self, text: str) -> TagResult:
        model = self.model
        normal = normalize(text)
        words = self._words(normal)
        an = _analyse(normal)
        feats, rules = self._features(words, an)
        probs = model.probabilities(feats, rules)
        p_progress = probs[model.classes.index(PROGRESS)]
        rest = max(1e-12, 1.0 - p_progress)
        ranked = sorted(
            ((c, p / rest) for c, p in zip(model.classes, probs, strict=True) if c != PROGRESS),
            key=lambda cp: cp[1],
            reverse=True,
        )
        is_progress = p_progress >= 0.5
        if is_progress:
            category, confidence = "other", p_progress
            stage = an.milestone_any
        else:
            category, confidence = ranked[0]
            # A problem report names a milestone only when it says it was reached; checking
            # that costs a second pass, needed only if a progress reading found one at all.
            stage = milestone(normal, progress=False) if an.milestone_any else None
        return TagResult(
            intent=PROGRESS if is_progress else "issue",
            category=category,
            urgent=bool(an.urgency),
            amount_wan=None if an.amount is None else float(an.amount.wan),
            milestone=stage,
            keywords=self._keywords(an.hits, words),
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            category_scores=tuple((c, round(p, 4)) for c, p in ranked[:3]),
        )

    @staticmethod
    def _keywords(hits: list[KeywordHit], words: list[str]) -> tuple[str, ...]:
        """Domain terms first (they say what the problem is), then other content words."""
        out: list[str] = []
        seen: set[str] = set()
        for word in [h.word for h in hits if len(h.word) >= 2] + words:
            if word in seen or not _word_info(word)[1]:
                continue
            seen.add(word)
            out.append(word)
            if len(out) == MAX_KEYWORDS:
                break
        return tuple(out)

    # --- duplicates ------------------------------------------------------------------------

    @staticmethod
    def similarity(a: str, b: str) -> float:
        """Cosine similarity of character-bigram counts, 0..1; used to spot repeated reports.

        Works on the normalised text, so a traditional-character repeat of a simplified report
        still matches; needs no tokenizer, so it costs nothing at start-up.
        """
        va, vb = _bigram_vector(a), _bigram_vector(b)
        if not va or not vb:
            return 0.0
        dot = sum(n * vb[g] for g, n in va.items() if g in vb)
        norm = math.sqrt(sum(n * n for n in va.values()) * sum(n * n for n in vb.values()))
        return min(1.0, dot / norm) if norm else 0.0


def _bigram_vector(text: str) -> Counter[str]:
    runs = _RUNS.findall(normalize(text).lower())
    grams: Counter[str] = Counter()
    for run in runs:
        if len(run) == 1:
            grams[run] += 1
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams
