"""Longest-match scanning of a text for a fixed word list.

Python's `re` tries the branches of a big alternation one by one at every position; with a
thousand keywords that costs more than segmenting the message. Here each position costs one
dict lookup for the lengths of the words starting with that character, then one set lookup per
length, longest first, so scanning stays a small fraction of jieba's own time.
"""

from __future__ import annotations

from collections.abc import Iterable


class LongestMatch:
    """Non-overlapping matches of `words`, scanning left to right, longest word first."""

    __slots__ = ("_lengths", "_words")

    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(w for w in words if w)
        lengths: dict[str, set[int]] = {}
        for word in self._words:
            lengths.setdefault(word[0], set()).add(len(word))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}

    def find(self, text: str) -> list[tuple[int, str]]:
        """(start, word) for each match, in order."""
        out: list[tuple[int, str]] = []
        lengths = self._lengths
        words = self._words
        i, n = 0, len(text)
        while i < n:
            for size in lengths.get(text[i], ()):
                word = text[i : i + size]
                if word in words:
                    out.append((i, word))
                    i += size
                    break
            else:
                i += 1
        return out

    def count(self, text: str) -> int:
        return len(self.find(text))
