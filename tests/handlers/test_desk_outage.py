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


class SlowRefusal(Switchable):
    """Each attempt takes `seconds` to be refused, as behind a network that drops packets."""

    def __init__(self, real: UnitOfWorkFactory, seconds: float) -> None:
        super().__init__(real)
        self.seconds = seconds

    def __call__(self) -> Any:
        outer = super().__call__()
        if not self.down:
            return outer
        seconds = self.seconds

        class Slow:
            async def __aenter__(self) -> Any:
                await asyncio.sleep(seconds)
                return await outer.__aenter__()

            async def __aexit__(self, *exc: object) -> None:
                return None

        return Slow()


async def test_patience_counts_the_time_attempts_take_not_only_the_pauses(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock, config: DeskConfig,
        tagger: Any) -> None:
    store = SlowRefusal(uow_factory, seconds=0.3)
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    store.down = True
    with pytest.raises(StoreUnavailable):
        await desk.handle(help_from_han(6), patience=0.5)
    # Counting only the pauses (0.02, 0.04 … up to 0.5 s) it would have tried eight times,
    # 2.4 s in all; by the clock it stops after the second or third.
    assert store.attempts <= 3


async def test_deliveries_repeated_during_an_outage_are_charged_to_the_rate_limit_once(
        store: Switchable, clock: FrozenClock, tagger: Any) -> None:
    desk = Desk(store, clock, DeskConfig(rate_limit_per_minute=2), tagger)  # type: ignore[arg-type]
    store.down = True
    for _ in range(3):  # a webhook delivery, answered 503, delivered again …
        with pytest.raises(StoreUnavailable):
            await desk.handle(help_from_han(7), patience=0.05)
    store.down = False
    await desk.handle(help_from_han(7))
    await desk.handle(help_from_han(8))  # the person's second message this minute
    async with store.real() as uow:
        said = [r.payload["text"] for r in await uow.outbox.all()]
    assert texts.RATE_LIMITED not in said
    assert len(said) == 2  # both answered with the help text


async def test_a_press_told_to_wait_gets_its_outcome_as_a_message(
        store: Switchable, clock: FrozenClock, config: DeskConfig, tagger: Any) -> None:
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    told, tell = notices()

    def press(update_id: int, data: str) -> Inbound:
        return Inbound(update_id=update_id, user_id=HAN, chat_id=HAN, first_name="韩经理",
                       kind=Kind.CALLBACK, callback_id=str(update_id), callback_data=data,
                       message_id=1)

    for update_id, data in ((9, "garbage"), (10, "t:acc:999999")):
        store.down = True
        handling = asyncio.create_task(desk.handle(press(update_id, data), on_delay=tell))
        await asyncio.sleep(0.2)
        store.down = False
        await asyncio.wait_for(handling, 5)
    assert told == [texts.STORE_WAIT, texts.STORE_WAIT]
    async with store.real() as uow:
        said = [r.payload["text"] for r in sorted(await uow.outbox.all(), key=lambda r: r.id)]
    # The toasts were spent on "wait"; what came of each press reaches the chat instead.
    assert said[0] == texts.BAD_CALLBACK and len(said) == 2 and said[1]
