"""What the desk needs from a tagger (domain.tagging.Tagger provides it)."""

from __future__ import annotations

from typing import Protocol


class TagLike(Protocol):
    intent: str
    category: str
    urgent: bool
    amount_wan: float | None
    milestone: str | None
    keywords: tuple[str, ...]
    confidence: float


class TaggerLike(Protocol):
    def tag(self, text: str) -> TagLike: ...

    def similarity(self, a: str, b: str) -> float: ...
