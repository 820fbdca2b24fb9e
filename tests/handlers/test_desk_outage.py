"""The desk when the database cannot be reached (DESIGN §10: nothing is lost).

`tests.outage.Switchable` stands for the database going away: while `down`, every unit of work fails
to start with ConnectionRefusedError (as asyncpg's connect does) and the reachability probe
says no. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.clock import FrozenClock
from handlers import desk as desk_module
from handlers import texts
from handlers.config import DeskConfig
from handlers.desk import Desk, StoreUnavailable
from handlers.inbound import Inbound, Kind
from storage.models import OutboxMessage, ProcessedUpdate
from storage.uow import UnitOfWorkFactory
from tests.outage import Switchable

HAN = 800001


@pytest.fixture
async def store(uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> Switchable:
    from tests.factories import load_example_org

    await load_example_org(uow_factory, clock.now())
    return Switchable(uow_factory)


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desk_module, "OUTAGE_FIRST_WAIT", 0.02)
    monkeypatch.setattr(desk_module, "OUTAGE_MOST_WAIT", 0.1)


def notices() -> tuple[list[str], Callable[[], Awaitable[None]]]:
    """(what the person was told, the `on_delay` that tells them)."""
    told: list[str] = []

    async def tell() -> None:
        told.append(texts.STORE_WAIT)

    return told, tell


def help_from_han(update_id: int) -> Inbound:
    return Inbound(update_id=update_id, user_id=HAN, chat_id=HAN, first_name="韩经理",
                   kind=Kind.COMMAND, text="/help", command="help")


async def applied(real: UnitOfWorkFactory) -> tuple[int, int]:
    """(processed updates, outbox rows)."""
    async with real() as uow:
        updates = (await uow.session.execute(
            select(func.count()).select_from(ProcessedUpdate))).scalar_one()
        rows = (await uow.session.execute(
            select(func.count()).select_from(OutboxMessage))).scalar_one()
    return int(updates), int(rows)


async def test_an_update_waits_for_the_database_and_the_person_is_told_once(
        store: Switchable, clock: FrozenClock, config: DeskConfig, tagger: Any) -> None:
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    told, tell = notices()
    store.down = True
    handling = asyncio.create_task(desk.handle(help_from_han(1), on_delay=tell))
    await asyncio.sleep(0.5)
    assert not handling.done() and told == [texts.STORE_WAIT]
    assert store.attempts >= 4  # tried again and again, told once
    store.down = False
    await asyncio.wait_for(handling, 5)
    assert await applied(store.real) == (1, 1)  # applied once: the help text is queued
    assert told == [texts.STORE_WAIT]


async def test_past_its_patience_nothing_is_applied_and_the_caller_hears_why(
        store: Switchable, clock: FrozenClock, config: DeskConfig, tagger: Any) -> None:
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    told, tell = notices()
    store.down = True
    with pytest.raises(StoreUnavailable):
        await desk.handle(help_from_han(2), on_delay=tell, patience=0.2)
    # Delivered again (webhook redelivery): waits again, but is not told twice.
    with pytest.raises(StoreUnavailable):
        await desk.handle(help_from_han(2), on_delay=tell, patience=0.1)
    assert told == [texts.STORE_WAIT]
    store.down = False
    assert await applied(store.real) == (0, 0)
    await desk.handle(help_from_han(2))
    assert await applied(store.real) == (1, 1)


async def test_a_connection_lost_once_is_retried_at_once_without_a_word(
        store: Switchable, clock: FrozenClock, config: DeskConfig, tagger: Any) -> None:
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    told, tell = notices()
    store.fail = [ConnectionResetError(104, "Connection reset by peer")]
    await desk.handle(help_from_han(3), on_delay=tell)
    assert (store.attempts, told) == (2, [])
    assert await applied(store.real) == (1, 1)


async def test_a_fault_that_is_not_an_outage_is_raised_not_waited_out(
        store: Switchable, clock: FrozenClock, config: DeskConfig, tagger: Any) -> None:
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    # The database answers, yet the update fails twice the same way: a real fault.
    store.fail = [OSError("disk full"), OSError("disk full")]
    with pytest.raises(OSError, match="disk full"):
        await desk.handle(help_from_han(4))
    assert store.attempts == 2
    store.fail = [ValueError("a bug")]
    with pytest.raises(ValueError):
        await desk.handle(help_from_han(5))
    assert store.attempts == 3  # not retried
    assert await applied(store.real) == (0, 0)
