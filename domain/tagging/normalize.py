"""Text normalisation before tagging: traditional → simplified, full-width → half-width."""

from __future__ import annotations

import threading
import unicodedata
from importlib import resources
from typing import Any

_lock = threading.Lock()
_trad_chars: frozenset[str] | None = None
_converter: Any = None


def _load_trad_chars() -> frozenset[str]:
    """Characters that differ between traditional and simplified, from opencc's own table.

    Used as a fast gate: almost every message is already simplified, and opencc's pure-Python
    converter costs more than segmenting the message, so it only runs when it has work to do.
    """
    global _trad_chars
    if _trad_chars is None:
        with _lock:
            if _trad_chars is None:
                table = resources.files("opencc").joinpath("dictionary", "TSCharacters.txt")
                chars = set()
                for line in table.read_text(encoding="utf-8").splitlines():
                    parts = line.split("\t")
                    if len(parts) == 2 and parts[0] != parts[1].split(" ")[0]:
                        chars.add(parts[0])
                _trad_chars = frozenset(chars)
    return _trad_chars


def _opencc() -> Any:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                from opencc import OpenCC

                _converter = OpenCC("t2s")
    return _converter


def to_simplified(text: str) -> str:
    """Convert traditional Chinese (繁體) to simplified; simplified text comes back unchanged."""
    if _load_trad_chars().isdisjoint(text):
        return text
    return str(_opencc().convert(text))


def normalize(text: str) -> str:
    """Simplified characters, half-width digits/letters/punctuation, trimmed.

    NFKC maps full-width digits (２３００) and punctuation typed on phones to ASCII, which the
    amount parser and the features rely on.
    """
    return unicodedata.normalize("NFKC", to_simplified(text)).strip()


def warm_up() -> None:
    """Load the traditional-character table now rather than on the first message."""
    _load_trad_chars()
