"""`TicketRepo.compare_and_set`: the guarded UPDATE, and the ticket object brought in line with
what was stored (no second UPDATE; a value the database computes is read again)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from domain.clock import FrozenClock
from storage.models import SWEEP_NOW, Ticket
from tests.factories import load_example_org, submit


async def test_the_winner_sees_the_stored_values_without_a_second_update(
        uow_factory: Any, clock: FrozenClock) -> None:
    await load_example_org(uow_factory, clock.now())
    filed = await submit(uow_factory, clock.now())
    updates: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE TICKETS"):
            updates.append(statement)

    async with uow_factory() as uow:
        engine = uow.session.bind.sync_engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            t = await uow.tickets.get(filed.id)
            assert t is not None
            won = await uow.tickets.compare_and_set(
                t, t.status, t.unit_id,
                {"status": "in_progress", "rating_asks": Ticket.rating_asks + 2})
            assert won
            assert t.status == "in_progress" and t.sweep_at == SWEEP_NOW
            assert (await uow.tickets.get(filed.id)) is t
            assert t.rating_asks == 2  # computed by the database, read back
            lost = await uow.tickets.compare_and_set(t, "submitted", t.unit_id,
                                                     {"status": "resolved"})
            assert not lost and t.status == "in_progress"
            await uow.commit()
        finally:
            event.remove(engine, "before_cursor_execute", before)
    assert len(updates) == 2  # the two guarded UPDATEs; nothing flushed after them
    async with uow_factory() as uow:
        stored = await uow.tickets.get(filed.id)
        assert stored is not None and stored.status == "in_progress" and stored.rating_asks == 2
