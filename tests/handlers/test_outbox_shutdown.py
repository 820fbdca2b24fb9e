"""A sender that is stopped releases what it claimed, so a restart sends it at once."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.clock import FrozenClock
from handlers import outmsg
from handlers.outbox_sender import OutboxSender


class StuckTransport:
    """Accepts the first call and never answers: the process is stopped meanwhile."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        self.started.set()
        await asyncio.Event().wait()
        return None


async def test_stopped_sender_releases_its_claims(uow_factory: Any, clock: FrozenClock) -> None:
    async with uow_factory() as uow:
        for i in range(3):
            await uow.outbox.enqueue(idem_key=f"k{i}", chat_id=5, payload=outmsg.send(f"m{i}"),
                                     now=clock.now())
        await uow.commit()
    transport = StuckTransport()
    sender = OutboxSender(uow_factory, transport, clock, per_chat_interval=0,
                          global_per_second=0)
    task = asyncio.create_task(sender.run(asyncio.Event()))
    await asyncio.wait_for(transport.started.wait(), 10)
    async with uow_factory() as uow:
        assert all(r.claimed_until is not None for r in await uow.outbox.all())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with uow_factory() as uow:
        rows = await uow.outbox.all()
        assert [(r.status, r.claimed_until) for r in rows] == [("pending", None)] * 3
