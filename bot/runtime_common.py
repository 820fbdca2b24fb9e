"""Bits both Telegram runtimes share (no framework imports here)."""

from __future__ import annotations

from handlers.texts import SYSTEM_ERROR

__all__ = ["SYSTEM_ERROR", "command_parts", "unsupported_kind"]


def command_parts(text: str) -> tuple[str, str] | None:
    """'/start@bot abc' → ('start', 'abc'); None when the text is not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return None
    return name, rest.strip()


def unsupported_kind(present: list[str]) -> str:
    return present[0] if present else "unknown"
