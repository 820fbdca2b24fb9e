"""The outbox sender's leases when a renewal, a give-back, a postpone and a claim cross: the
row is released by the lease it is held by, is never held in no lane, and is never sent twice
by the same sender. Each case forces one interleaving (a gated transport, a repository call
that pauses at the right moment). Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from domain.clock import SystemClock
from handlers.outbox_sender import OutboxSender, Permanent, RetryLater
from storage.repositories import OutboxRepo
from storage.uow import UnitOfWorkFactory
from tests.handlers.test_outbox_sender import (
    A,
    B,
    FakeMonotonic,
    RecordingTransport,
    SlowTransport,
    _until,
    enqueue,
    row_of,
)


class Gated(SlowTransport):
    """Each message waits for its text's gate before it is answered."""

    def __init__(self, gates: dict[str, asyncio.Event]) -> None:
        super().__init__({})
        self.gates = gates

    async def answer_later(self, text: str) -> None:
        gate = self.gates.get(text)
        if gate is not None:
            await gate.wait()


async def x_in_flight_y_behind(
        uow_factory: UnitOfWorkFactory) -> tuple[OutboxSender, Gated, FakeMonotonic]:
    """Chat A's x in flight (held until `t.gates["x"]` is set), y behind it; a 3 s pace."""
    now = SystemClock().now()
    await enqueue(uow_factory, now, A, "x")
    await enqueue(uow_factory, now, A, "y")
    t = Gated({"x": asyncio.Event()})
    mono = FakeMonotonic()
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=3.0,
                     global_per_second=0, monotonic=mono, linger=0)
    assert await s._claim(10) == 2
    await asyncio.sleep(0.05)
    assert t.started == ["x"]
    return s, t, mono


def answer_x_during_renewal(monkeypatch: pytest.MonkeyPatch, t: Gated) -> None:
    """The next renewal, once its UPDATE ran, lets x be answered and waits a moment (the
    lane gives y back meanwhile: its pace is 3 s off)."""
    real = OutboxRepo.renew_many

    async def renew_while_x_is_answered(self: OutboxRepo, *a: Any, **k: Any) -> set[int]:
        got = await real(self, *a, **k)
        t.gates["x"].set()
        await asyncio.sleep(0.1)
        return got

    monkeypatch.setattr(OutboxRepo, "renew_many", renew_while_x_is_answered)


async def test_a_give_back_made_during_a_renewal_is_released(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chat A: x in flight, y behind it. A renewal of both is on its way to the database when
    # x is answered; y's pace is then 3 s off, so the lane gives y back. The renewal moves
    # y's lease on: the release must use the new lease, or nothing matches and y stays leased
    # a whole lease with nobody holding it.
    s, t, mono = await x_in_flight_y_behind(uow_factory)
    answer_x_during_renewal(monkeypatch, t)
    mono.t += 5.0  # both due for renewal
    await s._renew_leases()
    await s._end_lanes(wait=True)
    await s._tidy()
    assert t.texts() == ["x"]
    assert s._claimed == {}
    assert (await row_of(uow_factory, "y")).claimed_until is None


async def test_give_backs_not_yet_tidied_are_released_at_shutdown(
        uow_factory: UnitOfWorkFactory) -> None:
    # y is given back (its chat's pace is 3 s off) and the sender stops before its loop
    # tidies: y is released at shutdown all the same (a restart need not wait out its lease).
    now = SystemClock().now()
    await enqueue(uow_factory, now, A, "x")
    await enqueue(uow_factory, now, A, "y")
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=3.0,
                     global_per_second=0, linger=0)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=30))

    async def given_back() -> bool:
        return bool(s._giving_back)

    await _until(given_back)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert t.texts() == ["x"]
    assert (await row_of(uow_factory, "y")).claimed_until is None


async def take_over_then_give_back(uow_factory: UnitOfWorkFactory, s: OutboxSender,
                                   row_id: int, armed: asyncio.Event) -> None:
    """Another sender takes the row over (its lease ends, then a 60 s claim); once `s`'s
    renewal has dropped it, `armed` is set and the other sender gives it back."""
    async with uow_factory() as uow:
        await uow.outbox.release_many([row_id])
        [taken] = await OutboxRepo.claim_due(uow.outbox, SystemClock().now(), 10,
                                             timedelta(seconds=60))
        await uow.commit()
    assert taken.id == row_id

    async def dropped() -> bool:
        return row_id not in s._claimed

    await _until(dropped)
    armed.set()
    async with uow_factory() as uow:
        await uow.outbox.release_many([row_id], leased_until=taken.until)
        await uow.commit()


async def test_a_lost_row_answered_during_a_claim_is_not_sent_again_by_its_sender(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # r is in flight (slow answer) when another sender takes its lease over; the renewal
    # drops it. The other sender gives it back. r's answer comes while the loop's next claim
    # is at the database, which returns r: r is no longer in its lane (it went out) nor in
    # _claimed (dropped), but its "sent" mark is not written yet: it must not be taken as
    # fresh and sent a second time by the same sender.
    # (q keeps a second lane busy, so r's "sent" mark is not written at once.)
    lease = timedelta(seconds=0.4)
    r_id = await enqueue(uow_factory, SystemClock().now(), A, "r")
    await enqueue(uow_factory, SystemClock().now(), B, "q")
    gates = {"r": asyncio.Event(), "q": asyncio.Event()}
    t = Gated(gates)
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                     lease=lease, linger=0)
    armed = asyncio.Event()
    real = OutboxRepo.claim_due

    async def claim_while_r_is_answered(self: OutboxRepo, *a: Any, **k: Any) -> Any:
        rows = await real(self, *a, **k)
        if armed.is_set() and any(row.id == r_id for row in rows):
            gates["r"].set()
            await asyncio.sleep(0.01)  # r's answer comes in meanwhile
        return rows

    monkeypatch.setattr(OutboxRepo, "claim_due", claim_while_r_is_answered)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=0.05))

    async def both_started() -> bool:
        return sorted(t.started) == ["q", "r"]

    await _until(both_started)
    await take_over_then_give_back(uow_factory, s, r_id, armed)

    async def r_answered() -> bool:
        return gates["r"].is_set()

    await _until(r_answered)
    await asyncio.sleep(0.2)
    gates["q"].set()
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert t.attempts["r"] == 1, t.started


async def test_a_give_back_during_a_renewal_does_not_let_a_later_row_overtake(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the first test, with z claimed later (not yet due for renewal) behind y: had the
    # tidy released z but not y (renewed meanwhile), the next claim would send z ahead of y.
    s, t, mono = await x_in_flight_y_behind(uow_factory)
    mono.t += 5.0
    await enqueue(uow_factory, SystemClock().now(), A, "z")
    assert await s._claim(10) == 1  # z joins the lane, behind y
    answer_x_during_renewal(monkeypatch, t)
    await s._renew_leases()  # x and y are due, z is not
    await s._end_lanes(wait=True)
    await s._tidy()
    mono.t += 3.5  # the chat's pace allows the next send
    await s._claim(10)
    await s._end_lanes(wait=True)
    await s._tidy()
    assert t.texts()[:2] == ["x", "y"], t.texts()


class _PausingUow:
    def __init__(self, outer: PauseAfterCommit) -> None:
        self.outer = outer
        self.uow = outer.real()

    async def __aenter__(self) -> Any:
        return await self.uow.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self.uow.__aexit__(*exc)
        if self.outer.armed:  # committed; its caller has not gone on yet
            self.outer.armed = False
            await self.outer.during()


class PauseAfterCommit:
    """A unit-of-work factory: once `armed`, the next unit of work to end runs `during()`
    before its caller goes on."""

    def __init__(self, real: UnitOfWorkFactory, during: Callable[[], Awaitable[None]]) -> None:
        self.real = real
        self.armed = False
        self.during = during

    def __call__(self) -> Any:
        return _PausingUow(self)


async def test_a_row_claimed_while_its_postpone_finishes_is_not_held_forever(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # r gets a 429 with retry_after 0: the lane postpones it (not_before = now, lease
    # cleared). The loop's claim lands right after that commit, while r is still lane[0], so
    # it only takes the new lease. When the lane moves on, that lease is given back: r must
    # not stay held in no lane (renewed for ever, never sent, closed to other senders).
    r_id = await enqueue(uow_factory, SystemClock().now(), A, "r")
    t = RecordingTransport()
    t.fail["r"] = [RetryLater(0.0, "429")]
    postponed, resume = asyncio.Event(), asyncio.Event()

    async def pause() -> None:  # the lane is still in _postpone
        postponed.set()
        await resume.wait()

    factory = PauseAfterCommit(uow_factory, pause)
    real_postpone = OutboxRepo.postpone

    async def postpone(self: OutboxRepo, *a: Any, **k: Any) -> None:
        factory.armed = True
        await real_postpone(self, *a, **k)

    monkeypatch.setattr(OutboxRepo, "postpone", postpone)
    mono = FakeMonotonic()
    s = OutboxSender(factory, t, SystemClock(), per_chat_interval=0,  # type: ignore[arg-type]
                     global_per_second=0, monotonic=mono, linger=0)
    assert await s._claim(10) == 1
    await asyncio.wait_for(postponed.wait(), 5)
    await asyncio.sleep(0.01)  # now due again (retry_after 0)
    assert await s._claim(10) == 0  # r: still in its lane, so only re-adopted
    resume.set()
    await s._end_lanes(wait=True)
    for _ in range(3):  # loop rounds: tidy, renew, claim
        await s._tidy()
        mono.t += 5.0
        await s._renew_leases()
        await s._claim(10)
        await s._end_lanes(wait=True)
    assert not s._lanes
    assert r_id not in s._claimed  # not held with no lane to send it
    assert t.texts() == ["r"]


async def test_a_lost_row_recorded_while_its_claim_commits_is_not_sent_again(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the test before, but r's answer comes, and its mark is written, after the claim that
    # returned r committed and before the claim looks at what it got: r is then in no lane,
    # held by no lease and has no mark pending, yet must not be taken as fresh.
    lease = timedelta(seconds=0.4)
    r_id = await enqueue(uow_factory, SystemClock().now(), A, "r")
    gates = {"r": asyncio.Event()}
    t = Gated(gates)

    async def during() -> None:
        gates["r"].set()  # r's answer comes in, and its lane writes its mark

        async def recorded() -> bool:
            return (await row_of(uow_factory, "r")).status == "sent" and not s._recording
        await _until(recorded)

    factory = PauseAfterCommit(uow_factory, during)
    s = OutboxSender(factory, t, SystemClock(), per_chat_interval=0,  # type: ignore[arg-type]
                     global_per_second=0, lease=lease, linger=0)
    armed = asyncio.Event()
    real = OutboxRepo.claim_due

    async def claim(self: OutboxRepo, *a: Any, **k: Any) -> Any:
        rows = await real(self, *a, **k)
        if armed.is_set() and any(row.id == r_id for row in rows):
            factory.armed = True  # the claim's unit of work pauses once it has committed
        return rows

    monkeypatch.setattr(OutboxRepo, "claim_due", claim)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=0.05))

    async def started() -> bool:
        return t.started == ["r"]

    await _until(started)
    await take_over_then_give_back(uow_factory, s, r_id, armed)

    async def answered() -> bool:
        return gates["r"].is_set()

    await _until(answered)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert t.attempts["r"] == 1, t.started


@pytest.mark.parametrize("error", [RetryLater(5.0, "429 Too Many Requests"),
                                   Permanent("400 Bad Request: chat not found")],
                         ids=["429", "400"])
async def test_a_lost_row_that_meets_an_error_is_left_to_its_new_holder(
        uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture,
        error: Exception) -> None:
    # r is in flight when another sender takes it over (r's lease ran out: say this sender's
    # renewals could not get through). Telegram then answers this sender with a 429 or a
    # 400. Its postpone or failure must leave r alone: written by row id, it cleared the new
    # holder's lease (a third sender could take r while the second is still sending it) or
    # marked r failed under it.
    r_id = await enqueue(uow_factory, SystemClock().now(), A, "r")
    t = Gated({"r": asyncio.Event()})
    t.fail["r"] = [error]
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                     linger=0)
    assert await s._claim(10) == 1
    await asyncio.sleep(0.05)
    assert t.started == ["r"]
    async with uow_factory() as uow:  # the other sender's claim, once r's lease ran out
        await uow.outbox.release_many([r_id])
        [taken] = await OutboxRepo.claim_due(uow.outbox, SystemClock().now(), 10,
                                             timedelta(seconds=60))
        await uow.commit()
    assert taken.id == r_id
    t.gates["r"].set()
    await s._end_lanes(wait=True)
    await s._tidy()
    row = await row_of(uow_factory, "r")
    assert (row.status, row.last_error, row.attempts) == ("pending", None, 0)
    assert row.claimed_until is not None  # still the other sender's
    assert s._claimed == {}
    assert f"row {r_id} is no longer this sender's" in caplog.text


async def test_a_release_that_fails_is_tried_again_next_round(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lane gives y back (its chat's pace is 3 s off) and the loop's release of it fails
    # once. y stays held and is released on the next round: before, it was let go of
    # unreleased and waited out its whole lease, with the chat's later messages behind it.
    s, t, _ = await x_in_flight_y_behind(uow_factory)
    t.gates["x"].set()
    await s._end_lanes(wait=True)
    y_id = (await row_of(uow_factory, "y")).id
    assert set(s._giving_back) == {y_id}
    real = OutboxRepo.release_many
    failures = [RuntimeError("release failed")]

    async def release_failing_once(self: OutboxRepo, *a: Any, **k: Any) -> None:
        if failures:
            raise failures.pop()
        await real(self, *a, **k)

    monkeypatch.setattr(OutboxRepo, "release_many", release_failing_once)
    with pytest.raises(RuntimeError):
        await s._tidy()
    assert (await row_of(uow_factory, "y")).claimed_until is not None
    await s._tidy()
    assert (await row_of(uow_factory, "y")).claimed_until is None
    assert s._claimed == {} and s._giving_back == {}
    assert t.texts() == ["x"]


def meanwhile_the_next_claim(monkeypatch: pytest.MonkeyPatch,
                             meanwhile: Callable[[], Awaitable[None]]) -> None:
    """The sender's next claim runs `meanwhile` after it was made (its `held` sent) and
    before it reaches the database."""
    real = OutboxRepo.claim_due

    async def claim(self: OutboxRepo, *a: Any, **k: Any) -> Any:
        monkeypatch.setattr(OutboxRepo, "claim_due", real)
        await meanwhile()
        return await real(self, *a, **k)

    monkeypatch.setattr(OutboxRepo, "claim_due", claim)


async def test_a_give_back_during_a_claim_does_not_let_a_later_row_overtake(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chat A: x in flight, y behind it in the lane; z is queued. The loop's claim passes
    # `held` = {x, y} and is on its way to the database when x is answered and the lane gives
    # y back (here its pace is 3 s off; in production: less than half of y's lease left,
    # renewals being slow). The claim, told y is held, took z and a new lane sent it at
    # once, and y went out after z. Now z, behind a row given back, is given back too.
    s, t, mono = await x_in_flight_y_behind(uow_factory)
    await enqueue(uow_factory, SystemClock().now(), A, "z")
    async def y_given_back() -> None:
        t.gates["x"].set()

        async def given_back() -> bool:
            return bool(s._giving_back)

        await _until(given_back)
        mono.t += 3.5  # the chat's pace allows the next send by the time the claim answers

    meanwhile_the_next_claim(monkeypatch, y_given_back)
    await s._claim(10)
    await s._end_lanes(wait=True)
    await s._tidy()
    mono.t += 3.5
    for _ in range(2):  # y goes out; then, its chat's pace allowing, z
        await s._claim(10)
        await s._end_lanes(wait=True)
        await s._tidy()
        mono.t += 3.5
    assert t.texts() == ["x", "y", "z"], t.texts()


async def test_a_lane_that_fails_during_a_claim_does_not_let_a_later_row_overtake(
        uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chat A: x in flight, y behind it in the lane; z is queued. The loop's claim passes
    # `held` = {x, y} and is on its way to the database when x's send fails unexpectedly
    # (not an outage): the lane ends, x and y leave `_claimed` but stay leased until their
    # lease runs out. The claim, told x and y are held, takes z: it must not go out ahead of
    # y (it did, in a new lane at once; y only after its lease).
    s, t, _ = await x_in_flight_y_behind(uow_factory)
    await enqueue(uow_factory, SystemClock().now(), A, "z")
    x_id = (await row_of(uow_factory, "x")).id
    async def the_lane_fails() -> None:
        t.fail["x"] = [RuntimeError("unexpected")]
        t.gates["x"].set()

        async def let_go() -> bool:
            return x_id not in s._claimed

        await _until(let_go)

    meanwhile_the_next_claim(monkeypatch, the_lane_fails)
    await s._claim(10)
    await s._end_lanes(wait=True)
    await s._tidy()
    assert "z" not in t.texts(), f"z went out while y, ahead of it, waits its lease: {t.texts()}"
