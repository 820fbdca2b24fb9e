"""Helpers for the scheduler tests: Beijing times, sweeps at a moment, who got what.

People of ../shared/org.example.yaml, by Telegram id: wang is the official of gaj (category
`site`, 3 working days, for P2026-001); zhao is admin and official of the dispatcher zdb; li is the
分包领导 of P2026-001 and P2026-003, sun of P2026-002; han is the enterprise contact of P2026-001.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers.config import DeskConfig
from scheduler.sweeps import run_all_sweeps
from storage.models import OutboxMessage

TZ = ZoneInfo("Asia/Shanghai")

ZHAO, LI, SUN, WANG, HAN, QIAN = 900001, 900002, 900003, 900015, 800001, 900011


def bj(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


async def sweep(uow_factory: Any, at: datetime, config: DeskConfig,
                **kw: Any) -> dict[str, list[str]]:
    """The ticket sweeps (the project sweeps have their own tests)."""
    kw.setdefault("projects", False)
    return await run_all_sweeps(uow_factory, at, config, **kw)


async def outbox_rows(uow_factory: Any, keys: list[str]) -> dict[str, OutboxMessage]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.idem_key.in_(keys)))).scalars().all()
        uow.session.expunge_all()
        return {r.idem_key: r for r in rows}


async def chats(uow_factory: Any, keys: list[str]) -> set[int]:
    """The chats the messages with these keys go to."""
    return {r.chat_id for r in (await outbox_rows(uow_factory, keys)).values()}


async def by_chat(uow_factory: Any, keys: list[str]) -> dict[int, list[str]]:
    """Texts by chat for these keys."""
    out: dict[int, list[str]] = defaultdict(list)
    for r in (await outbox_rows(uow_factory, keys)).values():
        out[r.chat_id].append(r.payload["text"])
    return dict(out)


def nonempty(result: dict[str, list[str]]) -> dict[str, int]:
    return {k: len(v) for k, v in result.items() if v}
