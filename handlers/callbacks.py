"""Callback data: short ASCII strings (<= 64 bytes), parsed strictly.

Data comes from the client and old keyboards stay clickable, so nothing here is trusted: the
desk re-checks permission and state on every press (DESIGN §5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")


@dataclass(frozen=True)
class Callback:
    scope: str  # t ticket, d draft, r rating, p page, x proxy
    op: str
    target: int
    arg: str | None = None


def encode(scope: str, op: str, target: int, arg: str | int | None = None) -> str:
    parts = [scope, op, str(target)] + ([str(arg)] if arg is not None else [])
    data = ":".join(parts)
    if len(data.encode()) > MAX_BYTES or not all(_PART.match(p) for p in parts):
        raise ValueError(f"callback data not encodable: {data!r}")
    return data


def parse(data: str | None) -> Callback | None:
    """None for anything malformed (forged or from an older version)."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) not in (3, 4) or not all(_PART.match(p) for p in parts):
        return None
    scope, op, target = parts[0], parts[1], parts[2]
    if not target.isdigit() or len(target) > 12:
        return None
    return Callback(scope, op, int(target), parts[3] if len(parts) == 4 else None)
