"""Text normalisation before tagging: traditional → simplified, full-width → half-width.

The conversion tables are OpenCC's own t2s dictionaries (shipped with the
opencc-python-reimplemented dependency): phrases first, longest match, then single characters,
as OpenCC does. Applying them here with a dict scan and `str.translate` costs a few
microseconds, where the package's pure-Python converter costs more than segmenting the message.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from importlib import resources

from domain.tagging.trie import LongestMatch

# Where OpenCC's t2s leaves a character that is also valid simplified but not what a simplified
# writer uses in this domain: 批覆 (Taiwan) is 批复 on the mainland, as in 环评批复.
SUPPLEMENT_PHRASES = {"批覆": "批复", "回覆": "回复", "答覆": "答复", "函覆": "函复"}
SUPPLEMENT_CHARS = {"擡": "抬"}


@dataclass(frozen=True, slots=True)
class _Tables:
    chars: dict[int, str]  # for str.translate
    phrases: dict[str, str]
    phrase_scan: LongestMatch
    trad: frozenset[str]  # characters that convert to something else


_lock = threading.Lock()
_tables: _Tables | None = None


def _read(name: str) -> list[tuple[str, str]]:
    text = resources.files("opencc").joinpath("dictionary", name).read_text(encoding="utf-8")
    pairs = []
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        if source and targets:
            pairs.append((source, targets.split(" ")[0]))  # OpenCC takes the first candidate
    return pairs


def _load() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                pairs = [(s, t) for s, t in _read("TSCharacters.txt") if len(s) == 1]
                pairs += SUPPLEMENT_CHARS.items()
                phrases = {s: t for s, t in _read("TSPhrases.txt") if len(s) > 1 and s != t}
                phrases.update(SUPPLEMENT_PHRASES)
                # The gate: any character OpenCC has an entry for (乾 maps to itself alone but
                # to 干 in 乾净), plus the characters a phrase changes (沈默 → 沉默).
                gate = {s for s, _ in pairs}
                for phrase, target in phrases.items():
                    gate.update(a for a, b in zip(phrase, target, strict=False) if a != b)
                _tables = _Tables(
                    chars={ord(s): t for s, t in pairs if s != t},
                    phrases=phrases,
                    phrase_scan=LongestMatch(phrases),
                    trad=frozenset(gate),
                )
    return _tables


def to_simplified(text: str) -> str:
    """Convert traditional Chinese (繁體) to simplified; simplified text comes back unchanged."""
    tables = _load()
    if tables.trad.isdisjoint(text):
        return text  # almost every message: nothing to do
    out: list[str] = []
    pos = 0
    for start, phrase in tables.phrase_scan.find(text):
        out.append(text[pos:start].translate(tables.chars))
        out.append(tables.phrases[phrase])
        pos = start + len(phrase)
    out.append(text[pos:].translate(tables.chars))
    return "".join(out)


def normalize(text: str) -> str:
    """Simplified characters, half-width digits/letters/punctuation, trimmed.

    NFKC maps full-width digits (２３００) and punctuation typed on phones to ASCII, which the
    amount parser and the features rely on.
    """
    return unicodedata.normalize("NFKC", to_simplified(text)).strip()


def warm_up() -> None:
    """Load the conversion tables now rather than on the first message."""
    _load()
