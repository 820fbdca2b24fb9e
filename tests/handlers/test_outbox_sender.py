"""The outbox sender: never twice, retried as Telegram asks, per-chat order kept (DESIGN §10).

A recording transport stands in for Telegram: it counts every delivery per message text (each
row's text names its idempotency key) and can be scripted to fail like the Bot API does
(429 with retry_after → RetryLater(seconds), 5xx → RetryLater(None), 400 → Permanent).
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from domain.clock import FrozenClock, SystemClock
from handlers import outmsg
from handlers.outbox_sender import MAX_ATTEMPTS, OutboxSender, Permanent, RetryLater, _Lease
from storage.models import OutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.factories import make_uow_factory

A, B = 700001, 700002


class RecordingTransport:
    """Delivers into a list; `fail[text]` holds errors to raise, one per attempt."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.delivered: list[tuple[int, str, str, int | None]] = []  # chat, op, text, edited id
        self.attempts: Counter[str] = Counter()
        self.fail: dict[str, list[Exception]] = {}
        self.sent_ids: dict[str, int] = {}
        self._next_id = 5000

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        text = str(payload.get("text"))
        self.attempts[text] += 1
        errors = self.fail.get(text)
        if errors:
            raise errors.pop(0)
        if self.pause:
            await asyncio.sleep(self.pause)
        op = str(payload.get("op"))
        self.delivered.append((chat_id, op, text, message_id))
        if op != "send":
            return None
        self._next_id += 1
        self.sent_ids[text] = self._next_id
        return self._next_id

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [t for c, _, t, _ in self.delivered if chat_id is None or c == chat_id]


class CuttingTransport(RecordingTransport):
    """Takes the database away (switches `store` off) as each message goes out, while
    `cutting`."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self.cutting = True

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        if self.cutting:
            self.store.down = True
        return await super().deliver(chat_id, payload, message_id)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def enqueue(uow_factory: UnitOfWorkFactory, now: Any, chat_id: int, key: str,
                  payload: dict[str, Any] | None = None) -> int:
    async with uow_factory() as uow:
        await uow.outbox.enqueue(idem_key=key, chat_id=chat_id,
                                 payload=payload or outmsg.send(key), now=now)
        row = await uow.outbox.by_key(key)
        assert row is not None
        row_id = row.id
        await uow.commit()
    return row_id


def snapshot(row: OutboxMessage) -> SimpleNamespace:
    """The row's columns, readable after its session closed."""
    return SimpleNamespace(**{a.key: getattr(row, a.key) for a in row.__mapper__.column_attrs})


async def row_of(uow_factory: UnitOfWorkFactory, key: str) -> SimpleNamespace:
    async with uow_factory() as uow:
        row = await uow.outbox.by_key(key)
        assert row is not None
        return snapshot(row)


def sender(uow_factory: UnitOfWorkFactory, transport: RecordingTransport, clock: Any,
           mono: Callable[[], float] | None = None) -> OutboxSender:
    kwargs: dict[str, Any] = {"per_chat_interval": 0.0, "global_per_second": 0.0}
    if mono is not None:
        kwargs["monotonic"] = mono
    return OutboxSender(uow_factory, transport, clock, **kwargs)


# --- several senders -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def two_workers_databases(database_url: str) -> AsyncIterator[list[UnitOfWorkFactory]]:
    """Two unit-of-work factories on separate engines (pools), as two workers have."""
    engines = []
    try:
        factories = []
        for _ in range(2):
            engine, factory = make_uow_factory(database_url)
            engines.append(engine)
            factories.append(factory)
        yield factories
    finally:
        for engine in engines:
            await engine.dispose()


async def test_two_senders_on_separate_engines_never_send_twice(database_url: str) -> None:
    clock = SystemClock()
    async with two_workers_databases(database_url) as factories:
        keys = [f"load:{i}" for i in range(240)]
        now = clock.now()
        async with factories[0]() as uow:
            for i, key in enumerate(keys):
                await uow.outbox.enqueue(idem_key=key, chat_id=A + i % 120,
                                         payload=outmsg.send(key), now=now)
            await uow.commit()
        transports = [RecordingTransport(pause=0.001), RecordingTransport(pause=0.001)]
        senders = [sender(f, t, clock) for f, t in zip(factories, transports, strict=True)]
        stop = asyncio.Event()
        runs = [asyncio.create_task(s.run(stop, idle_seconds=0.05)) for s in senders]

        async def pending() -> int:
            async with factories[1]() as uow:
                return sum(1 for r in await uow.outbox.all() if r.status != "sent")

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            if not await pending():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*runs)

        counts = Counter(transports[0].texts() + transports[1].texts())
        assert set(counts) == set(keys)
        assert [k for k, n in counts.items() if n != 1] == []
        # Both really worked on the same outbox at the same time.
        assert senders[0].sent_count > 0 and senders[1].sent_count > 0
        assert senders[0].sent_count + senders[1].sent_count == len(keys)
        async with factories[0]() as uow:
            rows = [snapshot(r) for r in await uow.outbox.all()]
        assert all(r.status == "sent" and r.attempts == 1 and r.message_id for r in rows)


# --- Telegram's answers --------------------------------------------------------------------


async def test_429_honours_retry_after(uow_factory: UnitOfWorkFactory,
                                       clock: FrozenClock) -> None:
    mono = FakeMonotonic()
    t = RecordingTransport()
    t.fail["hello"] = [RetryLater(7, "429 too many requests")]
    s = sender(uow_factory, t, clock, mono)
    await enqueue(uow_factory, clock.now(), A, "hello")

    assert await s.deliver_once() == 0
    row = await row_of(uow_factory, "hello")
    assert row.status == "pending" and row.attempts == 1
    assert row.not_before == clock.now() + timedelta(seconds=7)
    assert row.claimed_until is None and "429" in (row.last_error or "")

    clock.advance(seconds=6)
    mono.t += 6
    assert await s.deliver_once() == 0  # still not due
    assert t.attempts["hello"] == 1
    clock.advance(seconds=1)
    mono.t += 1
    assert await s.deliver_once() == 1
    assert t.texts() == ["hello"]
    row = await row_of(uow_factory, "hello")
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


async def test_5xx_backs_off_exponentially_and_gives_up_at_last(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    mono = FakeMonotonic()
    t = RecordingTransport()
    t.fail["flaky"] = [RetryLater(None, "502 Bad Gateway") for _ in range(3)]
    s = sender(uow_factory, t, clock, mono)
    await enqueue(uow_factory, clock.now(), A, "flaky")

    delays = []
    for _ in range(3):
        before = clock.now()
        assert await s.deliver_once() == 0
        row = await row_of(uow_factory, "flaky")
        delay = (row.not_before - before).total_seconds()
        delays.append(delay)
        clock.advance(seconds=delay)
        mono.t += delay
    assert delays == [1.0, 2.0, 4.0]
    assert await s.deliver_once() == 1
    assert t.texts() == ["flaky"]

    # A fault that never passes: given up after MAX_ATTEMPTS, marked failed, not retried.
    t.fail["down"] = [RetryLater(None, "500 Internal Server Error") for _ in range(100)]
    await enqueue(uow_factory, clock.now(), B, "down")
    for _ in range(MAX_ATTEMPTS + 3):
        await s.deliver_once()
        clock.advance(seconds=400)
        mono.t += 400
    row = await row_of(uow_factory, "down")
    assert row.status == "failed" and t.attempts["down"] == MAX_ATTEMPTS


async def test_400_fails_for_good_without_retry(uow_factory: UnitOfWorkFactory,
                                                clock: FrozenClock) -> None:
    t = RecordingTransport()
    t.fail["bad"] = [Permanent("Bad Request: chat not found")]
    s = sender(uow_factory, t, clock, FakeMonotonic())
    await enqueue(uow_factory, clock.now(), A, "bad")
    await enqueue(uow_factory, clock.now(), A, "after")
    assert await s.deliver_once() == 2  # the failure does not hold the chat back
    for _ in range(3):
        clock.advance(seconds=600)
        assert await s.deliver_once() == 0
    row = await row_of(uow_factory, "bad")
    assert (row.status, row.attempts) == ("failed", 1)
    assert "chat not found" in (row.last_error or "")
    assert t.attempts["bad"] == 1
    assert t.texts() == ["after"]


# --- order ---------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [1, 5])
async def test_per_chat_order_kept_while_a_message_waits_out_a_429(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock, retry_after: int) -> None:
    mono = FakeMonotonic()
    t = RecordingTransport()
    t.fail["a1"] = [RetryLater(retry_after, "429 too many requests")]
    s = sender(uow_factory, t, clock, mono)
    for key, chat in (("a1", A), ("b1", B), ("a2", A), ("a3", A), ("b2", B)):
        await enqueue(uow_factory, clock.now(), chat, key)

    await s.deliver_once()
    assert t.texts(A) == [] and t.texts(B) == ["b1", "b2"]  # another chat is not held up
    await s.deliver_once()  # a2, a3 are due, but a1 must go first
    assert t.texts(A) == []
    clock.advance(seconds=retry_after)
    mono.t += retry_after
    await s.deliver_once()
    assert t.texts(A) == ["a1", "a2", "a3"]


async def test_per_chat_order_kept_while_a_message_backs_off_after_5xx(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    mono = FakeMonotonic()
    t = RecordingTransport()
    t.fail["a1"] = [RetryLater(None, "502 Bad Gateway")]
    s = sender(uow_factory, t, clock, mono)
    for key in ("a1", "a2", "a3"):
        await enqueue(uow_factory, clock.now(), A, key)

    await s.deliver_once()
    await s.deliver_once()
    assert t.texts(A) == []
    clock.advance(seconds=1)
    mono.t += 1
    for _ in range(2):
        await s.deliver_once()
    assert t.texts(A) == ["a1", "a2", "a3"]


async def test_an_edit_waiting_for_its_original_goes_out_after_it(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    mono = FakeMonotonic()
    t = RecordingTransport()
    t.fail["card"] = [RetryLater(3, "429 too many requests")]
    s = sender(uow_factory, t, clock, mono)
    original = await enqueue(uow_factory, clock.now(), A, "card")
    await enqueue(uow_factory, clock.now(), A, "card, edited",
                  outmsg.edit("card, edited", edit_of=original))

    await s.deliver_once()
    assert t.delivered == []
    edit = await row_of(uow_factory, "card, edited")
    assert edit.status == "pending" and edit.attempts == 0
    clock.advance(seconds=3)
    mono.t += 3
    for _ in range(3):
        await s.deliver_once()
        clock.advance(seconds=2)
        mono.t += 2
    assert [(op, text) for _, op, text, _ in t.delivered] == [("send", "card"),
                                                              ("edit", "card, edited")]
    assert t.delivered[1][3] == t.sent_ids["card"]  # it edited the message the card became
    assert (await row_of(uow_factory, "card, edited")).status == "sent"


async def test_an_edit_claimed_before_its_original_waits_for_it(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    """Rows of another sender's batch: the edit comes first, its original is not out yet."""
    mono = FakeMonotonic()
    t = RecordingTransport()
    s = sender(uow_factory, t, clock, mono)
    async with uow_factory() as uow:
        # Reserve the original's id first, deliver it later: the edit is older in the queue.
        await uow.outbox.enqueue(idem_key="card", chat_id=A, payload=outmsg.send("card"),
                                 now=clock.now(), not_before=clock.now() + timedelta(seconds=1))
        card = await uow.outbox.by_key("card")
        assert card is not None
        card_id = card.id
        await uow.outbox.enqueue(idem_key="edit", chat_id=A,
                                 payload=outmsg.edit("edit", edit_of=card_id), now=clock.now())
        await uow.commit()
    await s.deliver_once()
    assert t.delivered == []
    for _ in range(3):
        clock.advance(seconds=2)
        mono.t += 2
        await s.deliver_once()
    assert [text for _, _, text, _ in t.delivered] == ["card", "edit"]
    assert t.delivered[1][3] == t.sent_ids["card"]


class RoundSpy:
    """Counts the sender's claims that found rows and the sizes of its "sent" writes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from storage.repositories import OutboxRepo

        self.claims: list[int] = []
        self.sent_writes: list[int] = []
        claim, finish = OutboxRepo.claim_due, OutboxRepo.finish_sent
        spy = self

        async def claim_due(repo: OutboxRepo, *args: Any, **kwargs: Any) -> Any:
            rows = await claim(repo, *args, **kwargs)
            if rows:
                spy.claims.append(len(rows))
            return rows

        async def finish_sent(repo: OutboxRepo, sent: Any, now: Any) -> None:
            spy.sent_writes.append(len(sent))
            await finish(repo, sent, now)

        monkeypatch.setattr(OutboxRepo, "claim_due", claim_due)
        monkeypatch.setattr(OutboxRepo, "finish_sent", finish_sent)


async def until_delivered(t: RecordingTransport, n: int, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if len(t.delivered) >= n:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{len(t.delivered)} of {n} delivered")


async def test_messages_enqueued_while_the_sender_lingers_share_one_round(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spy = RoundSpy(monkeypatch)
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0,
                     linger=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=30))
    await asyncio.sleep(0.05)  # idle, waiting to be woken
    await enqueue(uow_factory, clock.now(), A, "first")
    s.wake()
    await asyncio.sleep(0.05)  # lingering: the next update's messages arrive meanwhile
    await enqueue(uow_factory, clock.now(), B, "second")
    await enqueue(uow_factory, clock.now(), A, "third")
    s.wake()
    await until_delivered(t, 3)
    stop.set()
    await task
    assert t.texts(A) == ["first", "third"] and t.texts(B) == ["second"]
    assert spy.claims == [3] and spy.sent_writes == [3]  # one claim, one write for three
    async with uow_factory() as uow:
        rows = await uow.outbox.all()
        assert {(r.status, r.message_id, r.attempts, r.claimed_until) for r in rows} == {
            ("sent", t.sent_ids["first"], 1, None), ("sent", t.sent_ids["second"], 1, None),
            ("sent", t.sent_ids["third"], 1, None)}


async def test_each_send_is_recorded_before_the_sender_waits_for_pacing(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # At production pacing a crash can repeat at most the message in flight.
    spy = RoundSpy(monkeypatch)
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=20,
                     linger=0)
    for key in ("p1", "p2", "p3"):
        await enqueue(uow_factory, clock.now(), A, key)
    assert await s.deliver_once() == 3
    assert spy.claims == [3] and spy.sent_writes == [1, 1, 1]


# --- chats side by side --------------------------------------------------------------------


class NetworkTransport(RecordingTransport):
    """Every delivery takes a round trip; notes how many were in flight, overall and per chat."""

    def __init__(self, rtt: float, fail_chat: int | None = None) -> None:
        super().__init__()
        self.rtt = rtt
        self.fail_chat = fail_chat
        self.in_flight: Counter[int] = Counter()
        self.most_at_once = 0
        self.most_per_chat = 0
        self.starts: list[float] = []

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        self.starts.append(asyncio.get_running_loop().time())
        self.in_flight[chat_id] += 1
        self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
        self.most_per_chat = max(self.most_per_chat, self.in_flight[chat_id])
        try:
            await asyncio.sleep(self.rtt)
            if chat_id == self.fail_chat:
                raise RuntimeError("connection reset in a way the transport did not expect")
            return await super().deliver(chat_id, payload, message_id)
        finally:
            self.in_flight[chat_id] -= 1


async def enqueue_rounds(uow_factory: UnitOfWorkFactory, clock: FrozenClock, chats: list[int],
                         per_chat: int) -> dict[int, list[str]]:
    """`per_chat` messages to each chat, interleaved as updates of several people would be."""
    expected: dict[int, list[str]] = {c: [] for c in chats}
    for i in range(per_chat):
        for chat in chats:
            key = f"{chat}:{i}"
            await enqueue(uow_factory, clock.now(), chat, key)
            expected[chat].append(key)
    return expected


@pytest.mark.parametrize("max_in_flight", [1, 3, 8])
async def test_chats_are_served_side_by_side_each_in_order(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock, max_in_flight: int) -> None:
    chats = [A + i for i in range(5)]
    expected = await enqueue_rounds(uow_factory, clock, chats, 3)
    t = NetworkTransport(rtt=0.02)
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0,
                     max_in_flight=max_in_flight)
    assert await s.deliver_once() == 15
    assert t.most_at_once == min(max_in_flight, len(chats))  # never more than allowed
    assert t.most_per_chat == 1  # one chat's messages never overtake each other
    assert {c: t.texts(c) for c in chats} == expected
    async with uow_factory() as uow:
        rows = await uow.outbox.all()
        assert {r.status for r in rows} == {"sent"} and all(r.message_id for r in rows)


async def test_concurrent_chats_keep_to_the_overall_rate(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    chats = [A + i for i in range(6)]
    await enqueue_rounds(uow_factory, clock, chats, 1)
    t = NetworkTransport(rtt=0.05)
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=50)
    began = asyncio.get_running_loop().time()
    assert await s.deliver_once() == 6
    assert t.most_at_once > 1  # a send starts while earlier ones wait for their answers
    # 50 per second: the k-th send never starts before its turn, k × 20 ms after the first.
    early = [k for k, at in enumerate(t.starts) if at < began + k * 0.02 - 0.001]
    assert early == [] and len(t.starts) == 6


async def test_one_chat_failing_unexpectedly_leaves_the_others_sent_and_recorded(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    await enqueue_rounds(uow_factory, clock, [A, B], 2)
    t = NetworkTransport(rtt=0.01, fail_chat=A)
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0)
    with pytest.raises(RuntimeError):
        await s.deliver_once()
    assert t.texts(B) == [f"{B}:0", f"{B}:1"] and t.texts(A) == []
    async with uow_factory() as uow:
        status = {r.idem_key: (r.status, r.claimed_until is not None)
                  for r in await uow.outbox.all()}
    assert status[f"{B}:0"] == status[f"{B}:1"] == ("sent", False)
    # Whether A's first message reached Telegram is unknown: it stays leased (not sent again
    # at once), and so does the one behind it, until the lease runs out.
    assert status[f"{A}:0"] == status[f"{A}:1"] == ("pending", True)


async def test_an_edit_right_behind_its_original_needs_no_lookup(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.repositories import OutboxRepo

    lookups: list[int] = []
    real = OutboxRepo.send_state

    async def send_state(repo: OutboxRepo, row_id: int) -> Any:
        lookups.append(row_id)
        return await real(repo, row_id)

    monkeypatch.setattr(OutboxRepo, "send_state", send_state)
    t = RecordingTransport()
    s = sender(uow_factory, t, clock)
    card = await enqueue(uow_factory, clock.now(), A, "card")
    await enqueue(uow_factory, clock.now(), A, "card, edited",
                  outmsg.edit("card, edited", edit_of=card))
    assert await s.deliver_once() == 2
    assert t.delivered[1] == (A, "edit", "card, edited", t.sent_ids["card"])
    assert lookups == []  # the sender knew the id it had just been given


async def test_a_chat_with_many_messages_does_not_hold_up_a_new_one_to_another(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # A digest of ten messages to one admin is going out, one round trip each, when someone's
    # reply is enqueued: the reply is claimed and sent beside it, not after it.
    for i in range(10):
        await enqueue(uow_factory, clock.now(), A, f"digest {i}")
    t = NetworkTransport(rtt=0.03)
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0,
                     linger=0)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=30))
    await until_delivered(t, 2)
    await enqueue(uow_factory, clock.now(), B, "reply")
    s.wake()
    await until_delivered(t, 11)
    stop.set()
    await task
    assert t.texts(A) == [f"digest {i}" for i in range(10)]
    order = t.texts()
    assert order.index("reply") < order.index("digest 9")  # it did not wait for the digest
    async with uow_factory() as uow:
        assert {r.status for r in await uow.outbox.all()} == {"sent"}


async def test_a_reply_goes_ahead_of_a_burst_of_reminders(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # Forty reminders are queued (the morning's 督办) when someone types: the answer they are
    # waiting for is urgent and is claimed with the first batch, not after the forty.
    async with uow_factory() as uow:
        for i in range(40):
            await uow.outbox.enqueue(idem_key=f"remind:{i}", chat_id=A + 1 + i,
                                     payload=outmsg.send(f"remind {i}"), now=clock.now())
        await uow.outbox.enqueue(idem_key="reply", chat_id=A, payload=outmsg.send("reply"),
                                 now=clock.now(), urgent=True)
        await uow.commit()
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0, batch=10)
    assert await s.deliver_once() == 10
    assert "reply" in t.texts() and t.texts(A) == ["reply"]
    assert [x for x in t.texts() if x != "reply"] == [f"remind {i}" for i in range(9)]


async def test_a_flood_of_urgent_rows_overtakes_a_queued_one_only_so_far(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # A reminder is queued, then twenty replies (people typing faster than the sender keeps
    # up). With a jump of 5, replies queued more than five rows after the reminder stay behind
    # it, so it is in the first claim of seven; with the default jump all seven are replies.
    async with uow_factory() as uow:
        await uow.outbox.enqueue(idem_key="remind", chat_id=A, payload=outmsg.send("remind"),
                                 now=clock.now())
        for i in range(20):
            await uow.outbox.enqueue(idem_key=f"reply:{i}", chat_id=B + i,
                                     payload=outmsg.send(f"reply {i}"), now=clock.now(),
                                     urgent=True)
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.outbox.claim_due(clock.now(), 7, timedelta(seconds=60), urgent_jump=5)
        await uow.commit()
    assert [r.idem_key for r in first] == ["remind"] + [f"reply:{i}" for i in range(6)]
    async with uow_factory() as uow:  # with the default jump the replies all go first
        await uow.outbox.release_many([r.id for r in first])
        again = await uow.outbox.claim_due(clock.now(), 7, timedelta(seconds=60))
        await uow.commit()
    assert [r.idem_key for r in again] == [f"reply:{i}" for i in range(7)]


async def test_a_send_is_recorded_while_another_chat_waits_out_its_pace(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # B's second message must wait a second (per-chat pace); A's message, sent meanwhile, is
    # marked sent at once rather than when B's wait is over (a crash in between would repeat it).
    for key, chat in (("b1", B), ("b2", B), ("a1", A)):
        await enqueue(uow_factory, clock.now(), chat, key)
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=1.0, global_per_second=0,
                     linger=0)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=30))
    await until_delivered(t, 2)
    a1_recorded_first = False
    while "b2" not in t.texts():
        if (await row_of(uow_factory, "a1")).status == "sent":
            a1_recorded_first = True
            break
        await asyncio.sleep(0.02)
    await until_delivered(t, 3)
    stop.set()
    await task
    assert t.texts(B) == ["b1", "b2"] and t.texts(A) == ["a1"]
    assert a1_recorded_first


# --- the database goes away ----------------------------------------------------------------


async def test_messages_sent_while_the_database_is_away_are_not_sent_again(
        uow_factory: UnitOfWorkFactory) -> None:
    # The database goes down while the first message is on its way to Telegram, and stays
    # down past the lease. The sends cannot be recorded meanwhile; once it answers they are,
    # before anything is claimed again, so none goes out twice.
    from tests.outage import Switchable

    store = Switchable(uow_factory)
    for chat in (A, B):
        for i in range(2):
            await enqueue(uow_factory, SystemClock().now(), chat, f"{chat}:{i}")
    t = CuttingTransport(store)
    s = OutboxSender(store, t, SystemClock(), per_chat_interval=0, global_per_second=0,  # type: ignore[arg-type]
                     lease=timedelta(seconds=0.4), linger=0)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=0.05))
    for _ in range(100):
        if len(t.delivered) == 4:
            break
        await asyncio.sleep(0.02)
    assert sorted(t.texts()) == [f"{A}:0", f"{A}:1", f"{B}:0", f"{B}:1"]
    await asyncio.sleep(1.0)  # the leases run out while the database is away
    t.cutting = False
    store.down = False
    for _ in range(100):
        async with uow_factory() as uow:
            if all(r.status == "sent" for r in await uow.outbox.all()):
                break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # time for a wrong second claim and send
    stop.set()
    await asyncio.wait_for(task, 5)
    assert set(t.attempts.values()) == {1}, t.attempts
    async with uow_factory() as uow:
        assert {r.status for r in await uow.outbox.all()} == {"sent"}


async def test_a_sent_row_whose_record_is_pending_is_not_released_at_shutdown(
        uow_factory: UnitOfWorkFactory) -> None:
    # Shutting down while the database refused the "sent" record: the row went out, so it
    # must stay leased (released, the next claim would send it again).
    now = SystemClock().now()
    sent_id = await enqueue(uow_factory, now, A, "sent-unrecorded")
    held_id = await enqueue(uow_factory, now, B, "claimed-unsent")
    async with uow_factory() as uow:
        rows = await uow.outbox.claim_due(now, 10, timedelta(seconds=15))
        await uow.commit()
    assert {r.id for r in rows} == {sent_id, held_id}
    s = OutboxSender(uow_factory, RecordingTransport(), SystemClock())
    s._claimed = {r.id: _Lease(r.until, 0.0, r.chat_id) for r in rows}
    s._sent = [(sent_id, 5001)]  # sent; its record could not be written
    await s.release_claims()
    assert (await row_of(uow_factory, "sent-unrecorded")).claimed_until is not None
    assert (await row_of(uow_factory, "claimed-unsent")).claimed_until is None


async def _until(check: Callable[[], Any], seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def run_a_then_b(a: OutboxSender, b: OutboxSender, a_ready: Callable[[], Any],
                       done: Callable[[], Any], *, a_idle: float = 0.05,
                       then_wait: float = 0.0, timeout: float = 5.0) -> None:
    """Start sender A; once `a_ready()` start B; once `done()`, and `then_wait` seconds more
    (room for a wrong send), stop both."""
    stop = asyncio.Event()
    run_a = asyncio.create_task(a.run(stop, idle_seconds=a_idle))
    try:
        await _until(a_ready)
        run_b = asyncio.create_task(b.run(stop, idle_seconds=0.05))
        try:
            await _until(done, timeout)
            await asyncio.sleep(then_wait)
        finally:
            stop.set()
            await asyncio.wait_for(run_b, 10)
    finally:
        stop.set()
        await asyncio.wait_for(run_a, 10)


class TwoWorkers:
    """Two senders on separate engines, each behind its own switch. A claims four rows (two
    chats) and the database goes away for A as its first send goes out; A sends them all
    meanwhile (no pacing, so it does not notice before it is done). B was running before,
    claims only when woken, and is driven by the test."""

    LEASE = timedelta(seconds=0.4)

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.keys = [f"{chat}:{i}" for chat in (A, B) for i in range(2)]

    async def __aenter__(self) -> TwoWorkers:
        from tests.outage import Switchable

        self.databases = two_workers_databases(self.database_url)
        factories = await self.databases.__aenter__()
        self.factory = factories[0]
        self.store_a, self.store_b = Switchable(factories[0]), Switchable(factories[1])
        self.t_a, self.t_b = CuttingTransport(self.store_a), RecordingTransport()
        self.a, self.b = [
            OutboxSender(store, t, SystemClock(), per_chat_interval=0,  # type: ignore[arg-type]
                         global_per_second=0, lease=self.LEASE, linger=0)
            for store, t in ((self.store_a, self.t_a), (self.store_b, self.t_b))]
        self.stop = asyncio.Event()
        # B claims at start (nothing there yet: it has reached the database), then only when
        # woken.
        self.run_b = asyncio.create_task(self.b.run(self.stop, idle_seconds=30))
        await _until(self._b_reached)
        for key in self.keys:
            await enqueue(self.factory, SystemClock().now(), int(key.split(":")[0]), key)
        self.run_a = asyncio.create_task(self.a.run(self.stop, idle_seconds=0.05))

        async def a_sent_all() -> bool:
            return len(self.t_a.delivered) == 4

        await _until(a_sent_all)
        return self

    async def _b_reached(self) -> bool:
        return self.b._last_reached is not None

    async def b_round(self) -> None:
        """Wake B and let it finish one round (claim and any sends)."""
        before = self.store_b.attempts
        self.b.wake()
        await _until(self._b_tried(before))
        await asyncio.sleep(0.1)

    def _b_tried(self, before: int) -> Callable[[], Any]:
        async def tried() -> bool:
            return self.store_b.attempts > before
        return tried

    async def finish(self) -> None:
        """A's database comes back; wait for every row to be recorded, then past B's hold,
        and give B one more round in which it could wrongly take something."""
        self.t_a.cutting = False
        self.store_a.down = self.store_b.down = False

        async def all_sent() -> bool:
            async with self.factory() as uow:
                return all(r.status == "sent" for r in await uow.outbox.all())

        await _until(all_sent)
        await asyncio.sleep(self.LEASE.total_seconds() + 0.2)
        await self.b_round()

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.gather(self.run_a, self.run_b), 10)
        finally:
            await self.databases.__aexit__(None, None, None)

    async def b_back_then_a(self) -> None:
        """The database is back for B while A is still cut off: in three claims B takes none
        of A's rows. Then A's comes back and records them: each went out once, by A."""
        self.store_b.down = False
        for _ in range(3):
            await self.b_round()
        assert self.t_b.delivered == []
        await self.finish()
        assert sorted(self.t_a.texts()) == sorted(self.keys)
        assert self.t_b.delivered == []


async def test_a_second_sender_leaves_rows_sent_during_an_outage_to_the_first(
        database_url: str) -> None:
    # A's sends during the outage outlast their lease. The database comes back to B first:
    # B must not take A's rows (A sent them and has not recorded it yet).
    async with TwoWorkers(database_url) as w:
        w.store_b.down = True
        await w.b_round()  # B notices the outage
        await asyncio.sleep(0.6)  # A's leases run out while the database is away
        await w.b_back_then_a()


async def test_a_call_that_hangs_before_failing_does_not_move_the_outage_later(
        database_url: str) -> None:
    # B's call hangs 1.2 s (three leases) on a dead connection before it fails: the outage
    # began when B last reached the database, not when the failure came back.
    async with TwoWorkers(database_url) as w:
        w.store_b.down = True
        w.store_b.hang_once = 1.2
        await w.b_round()
        await asyncio.sleep(1.3)
        await w.b_back_then_a()


async def test_an_outage_that_flaps_keeps_the_first_outages_start(database_url: str) -> None:
    # Down 1.2 s (three leases), back for a moment (B claims once), down again, back: A has
    # not recorded yet, so the first outage's start must still decide.
    async with TwoWorkers(database_url) as w:
        w.store_b.down = True
        await w.b_round()
        await asyncio.sleep(1.2)
        w.store_b.down = False
        await w.b_round()
        w.store_b.down = True
        await w.b_round()
        await asyncio.sleep(0.2)
        await w.b_back_then_a()


async def test_rows_of_a_sender_that_died_during_an_outage_are_sent_after_the_hold(
        database_url: str) -> None:
    # The other side: A sent one row during the outage and died before it could record it.
    # Its other row it never sent. B holds off for one lease after the outage, then sends
    # both (the sent one twice in all: at least once, as after any kill).
    from tests.outage import Switchable

    engine, factory = make_uow_factory(database_url)
    try:
        now = SystemClock().now()
        for key in ("sent-by-a", "held-by-a"):
            await enqueue(factory, now, A, key)
        lease = timedelta(seconds=0.4)
        async with factory() as uow:  # A's claim, just before the outage
            assert len(await uow.outbox.claim_due(now, 10, lease)) == 2
            await uow.commit()
        store = Switchable(factory)
        store.down = True
        t = RecordingTransport()
        b = OutboxSender(store, t, SystemClock(), per_chat_interval=0,  # type: ignore[arg-type]
                         global_per_second=0, lease=lease, linger=0)
        stop = asyncio.Event()
        run = asyncio.create_task(b.run(stop, idle_seconds=0.05))
        await asyncio.sleep(0.6)  # the leases run out during the outage
        store.down = False
        loop = asyncio.get_running_loop()
        back = loop.time()

        async def both_sent() -> bool:
            return len(t.delivered) == 2

        await _until(both_sent)
        waited = loop.time() - back
        stop.set()
        await asyncio.wait_for(run, 5)
        assert sorted(t.texts()) == ["held-by-a", "sent-by-a"]
        assert waited >= 0.3, waited  # held off for about a lease, not taken at once
    finally:
        await engine.dispose()


async def _stop_while_away(uow_factory: UnitOfWorkFactory, back_after: float | None,
                           caplog: pytest.LogCaptureFixture) -> tuple[float, SimpleNamespace]:
    """A row sent while the database is away, then the sender stopped; the database comes
    back `back_after` seconds into the stop (None: not at all). Returns how long the stop took
    and the row."""
    from tests.outage import Switchable

    store = Switchable(uow_factory)
    await enqueue(uow_factory, SystemClock().now(), A, "sent-while-away")
    t = CuttingTransport(store)
    s = OutboxSender(store, t, SystemClock(), per_chat_interval=0, global_per_second=0,  # type: ignore[arg-type]
                     linger=0)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=0.05))
    for _ in range(100):
        if t.delivered:
            break
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    stop.set()
    if back_after is not None:
        await asyncio.sleep(back_after)
        store.down = False
    with caplog.at_level("WARNING", logger="handlers.outbox_sender"):
        await asyncio.wait_for(task, 10)
    return loop.time() - started, await row_of(uow_factory, "sent-while-away")


async def test_stopping_while_the_database_is_away_waits_briefly_to_record_sends(
        uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture) -> None:
    # The database comes back a second into the stop: the send is recorded, so it will not
    # go out again.
    took, row = await _stop_while_away(uow_factory, 1.0, caplog)
    assert row.status == "sent" and row.message_id is not None
    assert took < 3.0
    assert "not recorded" not in caplog.text


async def test_stopping_gives_up_recording_after_a_few_seconds_and_says_so(
        uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture) -> None:
    from handlers.outbox_sender import STOP_RECORD_PATIENCE

    took, row = await _stop_while_away(uow_factory, None, caplog)
    assert took <= STOP_RECORD_PATIENCE + 1.0
    # Not recorded, and not released either (released, it would go out again at once).
    assert row.status == "pending" and row.claimed_until is not None
    assert "1 sent message(s) not recorded" in caplog.text


async def test_a_sender_cut_off_alone_stops_sending_once_it_notices(database_url: str) -> None:
    # Only A loses the database (its host, or its connections); B never notices, so it holds
    # nothing off and takes A's rows once their lease ends. A notices at its first write
    # (before pacing the chat's next message) and sends nothing more: the message it had
    # already sent is all that goes out twice. It used to send the whole lane (four here).
    from tests.outage import Switchable

    async with two_workers_databases(database_url) as factories:
        store_a = Switchable(factories[0])
        keys = [f"{A}:{i}" for i in range(4)]
        for key in keys:
            await enqueue(factories[0], SystemClock().now(), A, key)
        t_a, t_b = CuttingTransport(store_a), RecordingTransport()
        lease = timedelta(seconds=0.4)
        a = OutboxSender(store_a, t_a, SystemClock(), per_chat_interval=0.05,  # type: ignore[arg-type]
                         global_per_second=0, lease=lease, linger=0)
        b = OutboxSender(factories[1], t_b, SystemClock(), per_chat_interval=0.05,
                         global_per_second=0, lease=lease, linger=0)

        async def a_sent() -> bool:
            return bool(t_a.delivered)

        async def b_sent_all() -> bool:
            return len(t_b.delivered) == 4

        await run_a_then_b(a, b, a_sent, b_sent_all)
        assert t_a.texts() == [keys[0]]
        assert t_b.texts() == keys  # in order, the first one again (at least once)


async def test_a_send_slower_than_the_lease_is_not_taken_again_by_its_own_sender(
        uow_factory: UnitOfWorkFactory) -> None:
    # Each send takes 0.6 s against a 0.4 s lease, one at a time: the sender's own claims find
    # the row in flight with its lease run out, and a row waiting for the free slot is held
    # past half its lease. Neither may go out twice.
    for chat in (A, B):
        await enqueue(uow_factory, SystemClock().now(), chat, f"{chat}:slow")
    t = RecordingTransport(pause=0.6)
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                     lease=timedelta(seconds=0.4), linger=0, max_in_flight=1)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop, idle_seconds=0.05))

    async def all_sent() -> bool:
        async with uow_factory() as uow:
            return all(r.status == "sent" for r in await uow.outbox.all())

    await _until(all_sent, 10)
    await asyncio.sleep(0.8)  # room for a wrong second send
    stop.set()
    await asyncio.wait_for(task, 10)
    assert sorted(t.attempts.values()) == [1, 1], t.attempts


async def test_a_give_back_after_the_lease_ran_out_leaves_the_new_holder_alone(
        uow_factory: UnitOfWorkFactory) -> None:
    # A held a row past its lease; B claimed it meanwhile. A's give-back must not clear B's
    # lease (a third claim would send it again while B does).
    now = SystemClock().now()
    row_id = await enqueue(uow_factory, now, A, "contested")
    async with uow_factory() as uow:
        [a_row] = await uow.outbox.claim_due(now, 10, timedelta(seconds=1))
        await uow.commit()
    later = now + timedelta(seconds=2)
    async with uow_factory() as uow:
        [b_row] = await uow.outbox.claim_due(later, 10, timedelta(seconds=15))
        await uow.commit()
    assert a_row.id == b_row.id == row_id and a_row.until is not None
    async with uow_factory() as uow:
        await uow.outbox.release_many([row_id], leased_until=a_row.until)
        await uow.commit()
    assert (await row_of(uow_factory, "contested")).claimed_until is not None
    async with uow_factory() as uow:  # B's own give-back does release it
        await uow.outbox.release_many([row_id], leased_until=b_row.until)
        await uow.commit()
    assert (await row_of(uow_factory, "contested")).claimed_until is None


class SlowTransport(RecordingTransport):
    """Each message whose text is in `slow` takes that many seconds to be answered; `started`
    lists the messages as their sends began."""

    def __init__(self, slow: dict[str, float]) -> None:
        super().__init__()
        self.slow = slow
        self.started: list[str] = []

    async def answer_later(self, text: str) -> None:
        await asyncio.sleep(self.slow.get(text, 0.0))

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        text = str(payload.get("text"))
        self.started.append(text)
        await self.answer_later(text)
        return await super().deliver(chat_id, payload, message_id)


async def test_a_send_slower_than_the_lease_stays_with_its_sender(database_url: str) -> None:
    # An upload over a slow line: A's first message takes three leases to be answered, and
    # its second waits behind it. A renews both leases meanwhile, so B, claiming all along,
    # takes neither; A sends both, in order, once. Before, B took the first once its lease
    # ran out and sent it again, and the second went out through B ahead of the first.
    lease = timedelta(seconds=0.4)
    keys = [f"{A}:upload", f"{A}:after"]
    async with two_workers_databases(database_url) as factories:
        for key in keys:
            await enqueue(factories[0], SystemClock().now(), A, key)
        t_a, t_b = SlowTransport({keys[0]: 1.2}), RecordingTransport()
        a, b = [OutboxSender(f, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                             lease=lease, linger=0)
                for f, t in ((factories[0], t_a), (factories[1], t_b))]

        async def a_started() -> bool:
            return bool(t_a.started)

        async def all_sent() -> bool:
            async with factories[0]() as uow:
                return all(r.status == "sent" for r in await uow.outbox.all())

        # A would claim again only after 5 s (B every 50 ms): its renewals do not depend on
        # its claims coming round (a claim finding a held row with its lease run out renews
        # it too, but only if it comes before another sender's).
        await run_a_then_b(a, b, a_started, all_sent, a_idle=5, then_wait=0.5, timeout=10)
    assert t_a.texts() == keys
    assert t_b.delivered == []


class SecondTakenOver:
    """A sender holds two rows for one chat, the first in a slow send; meanwhile another
    sender takes the second over (its lease ends, then it is leased for 60 s: `taken_until`)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, slow_for: float) -> None:
        self.uow_factory = uow_factory
        self.first, self.second = f"{A}:slow", f"{A}:second"
        self.t = SlowTransport({self.first: slow_for})
        self.s = OutboxSender(uow_factory, self.t, SystemClock(), per_chat_interval=0,
                              global_per_second=0, lease=timedelta(seconds=0.4), linger=0)
        self.stop = asyncio.Event()

    async def __aenter__(self) -> SecondTakenOver:
        await enqueue(self.uow_factory, SystemClock().now(), A, self.first)
        self.second_id = await enqueue(self.uow_factory, SystemClock().now(), A, self.second)
        self.task = asyncio.create_task(self.s.run(self.stop, idle_seconds=0.05))

        async def first_started() -> bool:
            return bool(self.t.started)

        await _until(first_started)
        # Set the other sender's lease directly: a claim would not take the second while
        # the first, ahead of it in the chat, is held.
        self.taken_until = SystemClock().now() + timedelta(seconds=60)
        async with self.uow_factory() as uow:
            await uow.session.execute(
                update(OutboxMessage).where(OutboxMessage.id == self.second_id)
                .values(claimed_until=self.taken_until))
            await uow.commit()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def test_a_row_another_sender_took_is_not_sent(
        uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture) -> None:
    # The second row's lease was taken over (as when A's renewals could not get through and
    # it ran out). A's next renewal finds it gone: A does not send it, and leaves the new
    # holder's lease alone.
    with caplog.at_level("WARNING", logger="handlers.outbox_sender"):
        async with SecondTakenOver(uow_factory, slow_for=0.8) as w:

            async def first_recorded() -> bool:
                return (await row_of(uow_factory, w.first)).status == "sent"

            await _until(first_recorded)
            await asyncio.sleep(0.5)
    assert w.t.started == [w.first]
    row = await row_of(uow_factory, w.second)
    assert row.status == "pending" and row.claimed_until == w.taken_until
    assert f"rows [{w.second_id}] are no longer this sender's" in caplog.text


async def test_a_row_lost_and_given_back_is_sent_once_by_the_sender_that_gets_it_again(
        uow_factory: UnitOfWorkFactory) -> None:
    # A's renewal drops the second row, taken over; then the other sender gives it back, and
    # A's next claim gets it again while it still waits in A's lane. It goes out once, after
    # the first (it used to be queued a second time and sent twice).
    async with SecondTakenOver(uow_factory, slow_for=1.5) as w:

        async def dropped() -> bool:
            return w.second_id not in w.s._claimed

        await _until(dropped)
        async with uow_factory() as uow:  # ... and gives it back
            await uow.outbox.release_many([w.second_id], leased_until=w.taken_until)
            await uow.commit()

        async def all_sent() -> bool:
            async with uow_factory() as uow:
                return all(r.status == "sent" for r in await uow.outbox.all())

        await _until(all_sent)
        await asyncio.sleep(0.3)
    assert w.t.started == [w.first, w.second]


# --- order per chat across senders ---------------------------------------------------------


async def test_a_later_message_waits_for_an_earlier_one_another_sender_holds(
        database_url: str) -> None:
    # Two workers. A is sending a chat's first message (Telegram answers slowly) when the
    # next one to that chat is queued (say by the other worker's update). B, claiming
    # meanwhile, must not send the second ahead of the first: it takes it only once the
    # first went out and was recorded.
    first, second = f"{A}:first", f"{A}:second"
    async with two_workers_databases(database_url) as factories:
        await enqueue(factories[0], SystemClock().now(), A, first)
        t_a, t_b = SlowTransport({first: 0.5}), RecordingTransport()
        a, b = [OutboxSender(f, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                             linger=0)
                for f, t in ((factories[0], t_a), (factories[1], t_b))]
        assert await a._claim(10) == 1
        await asyncio.sleep(0.05)
        assert t_a.started == [first]
        await enqueue(factories[1], SystemClock().now(), A, second)
        assert await b.deliver_once() == 0  # held back behind the first
        await a._end_lanes(wait=True)
        await a._tidy()
        assert await b.deliver_once() == 1
    assert (t_a.texts(), t_b.texts()) == ([first], [second])


async def test_a_later_message_waits_for_an_earlier_one_waiting_out_a_retry(
        database_url: str) -> None:
    # A meets a 429 on the chat's first message (retry after 0.4 s). B must not send the
    # second meanwhile: after the wait, the first goes out, then the second.
    first, second = f"{A}:first", f"{A}:second"
    async with two_workers_databases(database_url) as factories:
        await enqueue(factories[0], SystemClock().now(), A, first)
        t_a, t_b = RecordingTransport(), RecordingTransport()
        t_a.fail[first] = [RetryLater(0.4, "429 Too Many Requests")]
        a, b = [OutboxSender(f, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                             linger=0)
                for f, t in ((factories[0], t_a), (factories[1], t_b))]
        assert await a.deliver_once() == 0  # postponed
        await enqueue(factories[1], SystemClock().now(), A, second)
        assert await b.deliver_once() == 0
        await asyncio.sleep(0.5)
        assert await b.deliver_once() == 2
    assert t_b.texts() == [first, second]


async def test_a_later_message_joins_the_lane_of_an_earlier_one_its_sender_holds(
        uow_factory: UnitOfWorkFactory) -> None:
    # The sender's own rows do not hold a later one back: it is claimed at once and queued
    # behind them, so a chat's messages need no claim each.
    first, second = f"{A}:first", f"{A}:second"
    await enqueue(uow_factory, SystemClock().now(), A, first)
    t = SlowTransport({first: 0.3})
    s = OutboxSender(uow_factory, t, SystemClock(), per_chat_interval=0, global_per_second=0,
                     linger=0)
    assert await s._claim(10) == 1
    await asyncio.sleep(0.05)
    await enqueue(uow_factory, SystemClock().now(), A, second)
    assert await s._claim(10) == 1
    await s._end_lanes(wait=True)
    await s._tidy()
    assert t.texts() == [first, second]


async def test_a_message_deferred_past_quiet_hours_does_not_hold_back_an_urgent_one(
        uow_factory: UnitOfWorkFactory) -> None:
    # A non-urgent reminder waits for the morning (not due, no error); an urgent card to the
    # same official goes now.
    now = SystemClock().now()
    async with uow_factory() as uow:
        await uow.outbox.enqueue(idem_key="morning", chat_id=A, payload=outmsg.send("morning"),
                                 now=now, not_before=now + timedelta(hours=8))
        await uow.outbox.enqueue(idem_key="urgent", chat_id=A, payload=outmsg.send("urgent"),
                                 now=now, urgent=True)
        await uow.commit()
    t = RecordingTransport()
    s = sender(uow_factory, t, SystemClock())
    assert await s.deliver_once() == 1
    assert t.texts() == ["urgent"]


@pytest.mark.postgres
async def test_a_later_message_waits_while_another_claim_is_taking_the_earlier_one(
        postgres_url: str) -> None:
    # PostgreSQL, two claims at once: A's claim has locked the chat's first row and not
    # committed yet, so to B the first row still looks free (and is skipped, locked). B must
    # not take the second meanwhile.
    first, second = f"{A}:first", f"{A}:second"
    async with two_workers_databases(postgres_url) as factories:
        for key in (first, second):
            await enqueue(factories[0], SystemClock().now(), A, key)
        async with factories[0]() as uow_a:
            got_a = await uow_a.outbox.claim_due(SystemClock().now(), 1, timedelta(seconds=15))
            assert [row.idem_key for row in got_a] == [first]
            async with factories[1]() as uow_b:
                assert await uow_b.outbox.claim_due(SystemClock().now(), 10,
                                                    timedelta(seconds=15)) == []
            await uow_a.commit()


async def test_a_chat_waiting_out_a_retry_does_not_stall_every_other_chat(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # Chat A (say a service officer's morning of per-project reminders) has more rows queued
    # than one claim takes; its first meets a 429 (retry after 60 s). Chat B's message is
    # due right behind them. Were the per-chat check made after the claim's LIMIT, A's rows
    # would fill it and all be thrown out: nothing claimed, and B (and every other chat, on
    # every sender) waiting the whole retry_after.
    batch = 4
    for i in range(batch + 2):
        await enqueue(uow_factory, clock.now(), A, f"a{i}")
    await enqueue(uow_factory, clock.now(), B, "b")
    t = RecordingTransport()
    t.fail["a0"] = [RetryLater(60, "429 Too Many Requests: retry after 60")]
    mono = FakeMonotonic()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0,
                     batch=batch, monotonic=mono, linger=0)
    for _ in range(3):
        await s.deliver_once()
        clock.advance(seconds=1)
        mono.t += 1
    assert "b" in t.texts(), "chat B is stalled behind chat A's retry"


async def test_a_claim_finds_another_chat_behind_a_blocked_one(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # The repository alone: A's first row is held by another sender; A's next two and B's
    # one are due. A claim of two returns nothing instead of B's row.
    for key in ("a0", "a1", "a2"):
        await enqueue(uow_factory, clock.now(), A, key)
    await enqueue(uow_factory, clock.now(), B, "b")
    async with uow_factory() as uow:  # the other sender takes a0
        [held] = await uow.outbox.claim_due(clock.now(), 1, timedelta(seconds=60))
        await uow.commit()
    assert held.idem_key == "a0"
    async with uow_factory() as uow:
        got = await uow.outbox.claim_due(clock.now(), 2, timedelta(seconds=15))
        await uow.commit()
    assert [r.idem_key for r in got] == ["b"]


async def test_urgent_rows_that_jump_an_earlier_row_of_their_chat_do_not_empty_every_claim(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # Chat A: a reminder due, then more urgent cards than one claim takes; chat B behind.
    # The urgent ones come first in the claim's order, ahead of A's reminder, which the
    # claim so never reaches: that must not count as "an earlier row someone else is
    # taking", or every claim would come back empty for good.
    async with uow_factory() as uow:
        await uow.outbox.enqueue(idem_key="remind", chat_id=A, payload=outmsg.send("remind"),
                                 now=clock.now())
        for i in range(5):
            await uow.outbox.enqueue(idem_key=f"card{i}", chat_id=A,
                                     payload=outmsg.send(f"card{i}"), now=clock.now(),
                                     urgent=True)
        await uow.outbox.enqueue(idem_key="b", chat_id=B, payload=outmsg.send("b"),
                                 now=clock.now())
        await uow.commit()
    t = RecordingTransport()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0, batch=3)
    for _ in range(4):
        await s.deliver_once()
    assert sorted(t.texts()) == sorted(["remind", "b"] + [f"card{i}" for i in range(5)])
    assert t.texts(A)[:3] == ["card0", "card1", "card2"]


async def test_an_edit_waiting_for_its_card_does_not_hold_the_chats_urgent_replies(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock) -> None:
    # A morning burst is queued (here: six reminders to chat B). A non-urgent ticket card to
    # official A is queued behind it; then someone acts on the ticket, so an urgent edit of
    # that card is queued (notify_cards_refresh), and A, typing to the bot, gets an urgent
    # reply. The edit jumps ahead of its card (urgent), finds it unsent and is postponed
    # "waiting for original" (2 s). That is not a retry: it must not hold A's reply back
    # until the card has come through the whole burst (it did, counted as one).
    for i in range(6):
        await enqueue(uow_factory, clock.now(), B, f"b{i}")
    card_id = await enqueue(uow_factory, clock.now(), A, "card")
    async with uow_factory() as uow:
        await uow.outbox.enqueue(idem_key="edit", chat_id=A,
                                 payload=outmsg.edit("card v2", edit_of=card_id),
                                 now=clock.now(), urgent=True)
        await uow.outbox.enqueue(idem_key="reply", chat_id=A, payload=outmsg.send("reply"),
                                 now=clock.now(), urgent=True)
        await uow.commit()
    t = RecordingTransport()
    mono = FakeMonotonic()
    s = OutboxSender(uow_factory, t, clock, per_chat_interval=0, global_per_second=0,
                     batch=2, monotonic=mono, linger=0)
    for _ in range(3):
        await s.deliver_once()
        clock.advance(seconds=1)
        mono.t += 1
    assert "reply" in t.texts(), (
        f"the urgent reply waits behind an edit waiting for its card: sent {t.texts()}")
