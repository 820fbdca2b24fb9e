"""Tagging of enterprise messages (DESIGN §7): intent, category, urgency, amount, milestone.

Pure logic; the only I/O is reading this package's data files (dictionary, model).
"""

from __future__ import annotations

from domain.tagging.amounts import parse_amount_wan
from domain.tagging.corpus import CorrectionRecord, corrections_to_jsonl
from domain.tagging.lexicon import CATEGORIES
from domain.tagging.normalize import to_simplified
from domain.tagging.rules import MILESTONES
from domain.tagging.tagger import LOW_CONFIDENCE, ModelUnavailable, Tagger, TagResult

__all__ = [
    "CATEGORIES",
    "LOW_CONFIDENCE",
    "MILESTONES",
    "CorrectionRecord",
    "ModelUnavailable",
    "TagResult",
    "Tagger",
    "corrections_to_jsonl",
    "parse_amount_wan",
    "to_simplified",
]
