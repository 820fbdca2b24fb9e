"""Delivers outbox rows through a transport, at least once, paced, retried (DESIGN §10).

Transport-neutral: aiogram and python-telegram-bot each provide a `Transport`. Rows are leased
(and on PostgreSQL claimed with SKIP LOCKED) so several senders never take the same row; order is
kept per chat: when one message to a chat must wait, the later ones to that chat wait too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.clock import Clock
from storage.availability import may_be_outage
from storage.repositories import ClaimedRow
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# How long a claim holds a row. Renewed while the row is held (a slow send, a long wait), so
# it need not cover either; it bounds how soon a crashed sender's rows come back, and how long
# a sender cut off from the database has to record what it sent before another takes it.
LEASE = timedelta(seconds=15)
# A held row's lease is renewed once less than this share of it is left; a send starts only
# while at least half is left (`_may_send`).
RENEW_BELOW = 0.75
MAX_BACKOFF_SECONDS = 300.0
MAX_ATTEMPTS = 12
# Longest a sent message's "sent" mark waits to share a write with others, while sends go on:
# a crash repeats what was sent in the last this-many seconds (and what was in flight).
RECORD_WITHIN = 0.02
# At shutdown with the database away, how long the last write of the "sent" marks is tried
# again (inside the runtimes' 5 s grace for the sender): a restart or fail-over often takes
# no longer, and a mark lost here sends its message again after the outage.
STOP_RECORD_PATIENCE = 4.0
# At shutdown, how long renewing the leases of the sends in flight may take.
STOP_RENEW_PATIENCE = 0.5


class RetryLater(Exception):
    """429 or a passing server/network fault: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float | None, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


class Permanent(Exception):
    """A 4xx that retrying cannot fix (bad request, bot blocked by the user)."""


@dataclass(frozen=True)
class _Lease:
    """A row this sender holds: the lease as stored (`claimed_until`), and when it ends on
    this process's monotonic clock, counted from before the claim or renewal was sent."""

    until: datetime
    ends: float
    chat_id: int


def _by_lease(rows: Iterable[tuple[int, _Lease]]) -> dict[datetime, list[int]]:
    """Row ids grouped by the stored lease they are held by (one conditional UPDATE each)."""
    groups: dict[datetime, list[int]] = {}
    for row_id, held in rows:
        groups.setdefault(held.until, []).append(row_id)
    return groups


class Transport(Protocol):
    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        """Send or edit; returns the message id of what was sent (None for edits/commands)."""
        ...


class OutboxSender:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        transport: Transport,
        clock: Clock,
        *,
        per_chat_interval: float = 1.0,
        global_per_second: float = 25.0,
        batch: int = 32,
        max_in_flight: int = 8,
        lease: timedelta = LEASE,
        linger: float = 0.02,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow_factory = uow_factory
        self.transport = transport
        self.clock = clock
        self.per_chat_interval = per_chat_interval
        self.global_interval = 1.0 / global_per_second if global_per_second > 0 else 0.0
        self.batch = batch
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._record_lock = asyncio.Lock()
        # Message ids of rows this sender sent recently (row id → message id), so an edit of
        # one finds it without asking the database.
        self._message_ids: dict[int, int] = {}
        self.lease = lease
        # After a wake-up, wait this long before claiming, so that the messages of updates
        # being applied right now go out in the same round (one claim and one record for
        # several messages instead of two transactions each).
        self.linger = linger
        self._mono = monotonic
        self._chat_next: dict[int, float] = {}
        # Chats whose oldest message waits out a retry: nothing later to them goes first.
        self._chat_blocked: dict[int, float] = {}
        self._global_next = 0.0
        self._wake = asyncio.Event()
        # One lane per chat with rows in hand: its rows in order, and the task sending them.
        self._lanes: dict[int, collections.deque[ClaimedRow]] = {}
        self._lane_tasks: dict[int, asyncio.Future[None]] = {}
        self._lane_done = asyncio.Event()
        self._lane_errors: list[BaseException] = []
        # Rows the lanes gave back (row id → chat): still held (in `_claimed`, whose lease a
        # renewal may move on meanwhile) until the loop releases them by that lease.
        self._giving_back: dict[int, int] = {}
        self._finished = 0
        self._pacing = 0  # lanes asleep until their pace allows the next send
        self._sent_since = 0.0  # when the oldest unwritten "sent" mark was made
        self.sent_count = 0
        # Rows this sender claimed and has not finished (in a lane, in flight, sent and not yet
        # recorded, given back and not yet released), with their leases: renewed before they
        # run out; released on shutdown so a restart does not wait out the lease; a release
        # clears only the lease held (once it ran out another sender may hold the row). A
        # row missing here is not this sender's to send.
        self._claimed: dict[int, _Lease] = {}
        self._recording: set[int] = set()  # rows whose "sent" mark is being written
        self._recorded_during_claim: set[int] | None = None
        self._stop: asyncio.Event | None = None
        # Rows sent whose "sent" mark is not written yet: written together — before a lane
        # waits (pacing), by a lane that ends while the others pace or once the oldest mark is
        # RECORD_WITHIN old, and by the claim loop — so at production pacing after every
        # message; only unpaced bursts share one write among many sends.
        self._sent: list[tuple[int, int | None]] = []
        # When this sender last reached the database; when the current outage began as far
        # as it can tell (the last time it reached it); and, after an outage, the outage's
        # start that other senders' leases are judged by until `_hold_until` (monotonic).
        # See `_lease_cutoff`.
        self._last_reached: datetime | None = None
        self._outage_began: datetime | None = None
        self._hold_anchor: datetime | None = None
        self._hold_until: float | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set. A message being sent when it is set is finished (so it
        is not sent again after a restart); the rest of what was claimed is released at once."""
        self._stop = stop
        try:
            await self._loop(stop, idle_seconds)
        finally:
            try:
                await self._stop_sends()
            finally:
                try:
                    await self._record_sent_before_stopping()
                finally:
                    await self.release_claims()

    async def _stop_sends(self) -> None:
        """End the lanes. When stopping, each finishes the send it is in the middle of: first
        renew the leases of those sends (briefly: the runtimes' grace for the sender is short,
        and cancelled, the lanes are still ended)."""
        try:
            if self._stopping():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._renew_leases(), STOP_RENEW_PATIENCE)
        finally:
            await self._end_lanes()

    async def _record_sent_before_stopping(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_RECORD_PATIENCE
        pause = 0.25
        while True:
            try:
                await self._record_sent()
                return
            except Exception as exc:
                if not may_be_outage(exc):
                    raise
                if loop.time() + pause > deadline:
                    log.warning("outbox: stopping with %d sent message(s) not recorded: the "
                                "database cannot be reached (%s); they will be sent again "
                                "once it answers", len(self._sent), exc.__class__.__name__)
                    return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def release_claims(self) -> None:
        # Rows sent but not yet recorded (the database was away) stay leased: released, they
        # would go out again from the next claim.
        unsent = self._unrecorded()
        claimed = sorted((row_id, held) for row_id, held in self._claimed.items()
                         if row_id not in unsent)
        if not claimed:
            return
        for row_id, _ in claimed:
            del self._claimed[row_id]
        try:
            await self._release_many(claimed)
        except Exception:  # the lease expires anyway
            log.debug("could not release outbox rows %s", [i for i, _ in claimed],
                      exc_info=True)

    async def _loop(self, stop: asyncio.Event, idle_seconds: float) -> None:
        """Claim whenever there is room, so that a chat with several messages, or a slow
        answer, never holds up the others."""
        while not stop.is_set():
            self._wake.clear()
            self._lane_done.clear()
            room = self.batch - self._held()
            got = 0
            tidied = False
            try:
                await self._tidy()
                tidied = True
            except Exception as exc:  # keep the loop alive; the rows stay pending
                self._round_failed(exc)
            try:
                # Renewed even when the records could not be written (the sends in flight
                # keep their leases); claimed only after them.
                await self._renew_leases()
                if tidied and room > 0:
                    got = await self._claim(room)
            except Exception as exc:
                self._round_failed(exc)
            # While rows are held, come round often enough to renew their leases in time.
            idle = min(idle_seconds, self._lease_s / 8) if self._claimed else idle_seconds
            if room <= 0 or got >= room:
                # Full: more may be waiting. Claim again as soon as a chat's lane has ended.
                await self._wait_for(stop, self._lane_done, idle)
                continue
            woken = await self._wait_for(stop, self._wake, idle)
            if woken is self._wake and self.linger > 0 and not stop.is_set():
                # Let the messages of updates being applied right now join this claim.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.linger)

    def _round_failed(self, exc: Exception) -> None:
        if not may_be_outage(exc):
            log.exception("outbox delivery round failed")
            return
        self._noticed_outage(exc)

    def _noticed_outage(self, exc: Exception) -> None:
        """This sender failed to reach the database. The outage may have begun right after
        it last did (a failing call can hang long before it fails); and if this is a second
        outage while the first one's hold lasts, the first one's start still counts."""
        if self._outage_began is not None:
            return  # logged once per outage, not every second of it
        log.warning("outbox: the database cannot be reached (%s: %s); waiting",
                    exc.__class__.__name__, exc)
        began = self._last_reached or self.clock.now()
        if self._hold_anchor is not None and self._holding():
            began = min(began, self._hold_anchor)
        self._outage_began = began

    def _reached(self) -> None:
        """A call to the database succeeded: any outage is over for this sender, and its hold
        (see `_lease_cutoff`) lasts one lease from now."""
        self._last_reached = self.clock.now()
        if self._outage_began is None:
            return
        log.warning("outbox: the database answers again")
        self._hold_anchor = self._outage_began
        self._hold_until = self._mono() + self.lease.total_seconds()
        self._outage_began = None

    def _holding(self) -> bool:
        return self._hold_until is not None and self._mono() < self._hold_until

    def _lease_cutoff(self, now: datetime) -> datetime:
        """Another sender's lease counts as run out if it ended before this.

        Normally `now`. But a sender cut off from the database records what it sent only once
        the database answers (it stops starting sends when it notices the outage, but what
        went out before that waits for its record); meanwhile their leases may run out. Taken
        at once by another sender, they would go out twice. So during an outage,
        and for one lease after it, while the senders that were cut off write their records,
        only leases that ended a lease before the outage began are taken: every lease a
        sender could still be sending under ends later (a send starts only while half its
        lease is left, and a sender stops starting sends once it finds the database away).
        A sender that died meanwhile has its rows sent one lease late.

        Only senders that noticed the outage hold off: one started after it, or one whose
        connection stayed up while another's was cut, takes such rows when their lease ends.
        That is why a sender cut off stops starting sends as soon as it notices: what it sent
        before noticing is all that can go out twice."""
        anchor = self._outage_began
        if anchor is None and self._hold_anchor is not None:
            if self._holding():
                anchor = self._hold_anchor
            else:
                self._hold_anchor = self._hold_until = None
        return now if anchor is None else min(now, anchor - self.lease)

    @staticmethod
    async def _wait_for(stop: asyncio.Event, event: asyncio.Event,
                        timeout: float) -> asyncio.Event | None:
        """Wait until `event` or `stop` is set, at most `timeout` seconds; the event that
        ended the wait, None on timeout."""
        waiters = {asyncio.ensure_future(e.wait()): e for e in (event, stop)}
        done, pending = await asyncio.wait(waiters, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        return waiters[next(iter(done))] if done else None

    async def deliver_once(self) -> int:
        """One round: claim due rows, send what pacing allows, record. Returns rows finished.

        Chats are served side by side (at most `max_in_flight` requests at once), each chat's
        rows one after another in order: across a network every request waits a round trip,
        and one at a time a sender would manage only 1/RTT messages per second."""
        before = self._finished
        got = await self._claim(self.batch)
        if got:
            await self._end_lanes(wait=True)
        await self._tidy()  # also when nothing was claimed: earlier give-backs are released
        if not got:
            return 0
        errors, self._lane_errors = self._lane_errors, []
        if errors:
            # The failed chat's rows stay leased until the lease runs out (whether they
            # reached Telegram is unknown); the other chats' sends are recorded above.
            raise errors[0]
        return self._finished - before

    @property
    def _lease_s(self) -> float:
        return self.lease.total_seconds()

    async def _claim(self, limit: int) -> int:
        """Claim up to `limit` due rows and hand each to its chat's lane."""
        started = self._mono()
        now = self.clock.now()
        # Marks written while this claim is at the database: a row among them that the claim
        # returns (a row this sender lost, sent, and got back) went out and is recorded.
        recorded: set[int] = set()
        self._recorded_during_claim = recorded
        held = {row_id: lease.chat_id for row_id, lease in self._claimed.items()
                if row_id not in self._giving_back}
        try:
            async with self.uow_factory() as uow:
                rows = list(await uow.outbox.claim_due(
                    now, limit, self.lease, expired_before=self._lease_cutoff(now),
                    held=list(held)))
                await uow.commit()
        finally:
            self._recorded_during_claim = None
        self._reached()
        fresh = []
        unrecorded = self._unrecorded()
        # While the claim was at the database, after `held` was sent, a lane may have given
        # rows back, or let go of them (a send that failed, a postpone): a later row of such
        # a chat would overtake them. It is given back too.
        first_back: dict[int, int] = {}
        let_go = [(row_id, chat_id) for row_id, chat_id in held.items()
                  if row_id not in self._claimed and row_id not in recorded]
        for row_id, chat_id in [*self._giving_back.items(), *let_go]:
            first_back[chat_id] = min(row_id, first_back.get(chat_id, row_id))
        for row in rows:
            if row.id in recorded:
                continue  # marked sent after the claim: nothing left to hold
            # A row this sender still holds whose lease ran out is not taken twice: the claim
            # only renews its lease. Nor one it lost (another sender took it over) and now
            # gets back while it still waits in its lane (the lane sends it) or after it went
            # out (its mark is being written; another send would repeat it).
            if (row.id not in self._claimed and not self._in_lane(row)
                    and row.id not in unrecorded):
                if first_back.get(row.chat_id, row.id) < row.id:
                    self._giving_back[row.id] = row.chat_id
                else:
                    fresh.append(row)
            self._claimed[row.id] = _Lease(row.until, started + self._lease_s, row.chat_id)
        for row in fresh:
            lane = self._lanes.get(row.chat_id)
            if lane is None:
                lane = self._lanes[row.chat_id] = collections.deque()
                self._lane_tasks[row.chat_id] = asyncio.ensure_future(self._run_lane(row.chat_id))
            lane.append(row)
        return len(fresh)

    def _in_lane(self, row: ClaimedRow) -> bool:
        return any(queued.id == row.id for queued in self._lanes.get(row.chat_id, ()))

    def _unrecorded(self) -> set[int]:
        """Rows sent whose "sent" mark is not written yet."""
        return {row_id for row_id, _ in self._sent} | self._recording

    async def _renew_leases(self) -> None:
        """Renew the lease of every row this sender holds that has less than RENEW_BELOW of
        it left: a send slower than half the lease (an upload, a slow network), or rows
        waiting behind a backlog, stay this sender's. Before, another sender took such a row
        once its lease ran out and sent it again. A row the renewal does not find still
        leased by this sender is dropped: it is not sent here (`_may_send`)."""
        # Not while "sent" marks are being written: a row recorded but not yet let go of would
        # look taken by another sender.
        async with self._record_lock:
            started = self._mono()
            due = {row_id: held for row_id, held in self._claimed.items()
                   if row_id not in self._giving_back
                   and held.ends - started < self._lease_s * RENEW_BELOW}
            if not due:
                return
            until = self.clock.now() + self.lease
            renewed: set[int] = set()
            async with self.uow_factory() as uow:
                for old, ids in _by_lease(due.items()).items():
                    renewed |= await uow.outbox.renew_many(ids, old, until)
                await uow.commit()
        self._reached()
        lost = []
        for row_id, held in due.items():
            if self._claimed.get(row_id) is not held:
                continue  # finished, given back or claimed again meanwhile
            if row_id in renewed:
                # Given back meanwhile, it is released by this lease.
                self._claimed[row_id] = _Lease(until, started + self._lease_s, held.chat_id)
            else:
                del self._claimed[row_id]
                self._giving_back.pop(row_id, None)
                lost.append(row_id)
        if lost:
            log.warning("outbox: rows %s are no longer this sender's (their lease ran out and "
                        "another sender took them); not sent here", lost)

    def _held(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    async def _tidy(self) -> None:
        """Write the "sent" marks the lanes left, and release the rows they gave up. Those
        stay held until the release is written: one that fails is tried again next round,
        instead of leaving the rows to wait out their leases."""
        await self._record_sent()
        for row_id in self._giving_back.keys() - self._claimed.keys():
            del self._giving_back[row_id]
        release = [(row_id, self._claimed[row_id]) for row_id in sorted(self._giving_back)]
        if release:
            await self._release_many(release)
        for row_id, held in release:
            if self._claimed.get(row_id) is held:
                del self._claimed[row_id]
            self._giving_back.pop(row_id, None)

    async def _end_lanes(self, wait: bool = False) -> None:
        """Wait for the lanes to finish (`wait`, or when stopping: each finishes the send it
        is in the middle of); otherwise cancel them (their rows are released by `run`)."""
        tasks = list(self._lane_tasks.values())
        if not tasks:
            return
        if not wait and not self._stopping():
            for task in tasks:
                task.cancel()
        # Cancelled meanwhile (shutdown grace over): gather cancels the lanes too.
        await asyncio.gather(*tasks, return_exceptions=True)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _run_lane(self, chat_id: int) -> None:
        lane = self._lanes[chat_id]
        try:
            while lane and not self._stopping():
                await self._send_lane(chat_id, lane)
                if (len(self._lane_tasks) - 1 == self._pacing
                        or self._mono() - self._sent_since >= RECORD_WITHIN):
                    # Every other lane is waiting out its pace (or there is none), so nothing
                    # else will end soon and share the write; or the oldest mark has waited
                    # long enough. Otherwise the next lane to end writes them together. Rows
                    # claimed for this chat meanwhile are sent as well (loop).
                    await self._record_sent_if_reachable()
        except Exception as exc:
            # Whether the message in hand reached Telegram is unknown: its rows stay leased
            # (those behind it too, or they would overtake it).
            if may_be_outage(exc):
                self._noticed_outage(exc)
                log.warning("outbox delivery to chat %s stopped: the database cannot be "
                            "reached (%s)", chat_id, exc.__class__.__name__)
            else:
                log.exception("outbox delivery to chat %s failed", chat_id)
            self._lane_errors.append(exc)
            for row in lane:  # taken again by a claim once the lease runs out
                self._claimed.pop(row.id, None)
            lane.clear()
        finally:
            del self._lanes[chat_id]
            del self._lane_tasks[chat_id]
            self._lane_done.set()

    async def _send_lane(self, chat_id: int, lane: collections.deque[ClaimedRow]) -> None:
        """One chat's rows, in order, one at a time; what cannot go now is given back."""
        while lane:
            if self._stopping():
                return  # shutting down: the finally of run() releases what is left
            row = lane[0]
            wait = self._chat_next.get(chat_id, 0.0) - self._mono()
            if (self._mono() < self._chat_blocked.get(chat_id, 0.0) or wait > 2.0
                    or not self._may_send(row.id)):
                self._give_back(lane)
                return
            if wait > 0:
                await self._pace_until(self._mono() + wait)
            await self._global_turn()
            if self._stopping():
                return
            async with self._in_flight:
                if not self._may_send(row.id):  # the waits above took too long
                    self._give_back(lane)
                    return
                held = self._claimed.get(row.id)
                done = await self._deliver(row)
            lane.popleft()
            self._settle(row, held)
            if not done:
                self._give_back(lane)  # they must not overtake it
                return
            self._finished += 1

    def _settle(self, row: ClaimedRow, held: _Lease | None) -> None:
        """After a send: a row postponed or failed is no longer held (its lease was cleared
        with it), unless a claim took it again meanwhile: then that lease is given back. A
        row sent stays held until its mark is written."""
        now_held = self._claimed.get(row.id)
        if now_held is None or row.id in self._unrecorded():
            return
        if now_held is held:
            del self._claimed[row.id]
        else:
            self._giving_back[row.id] = row.chat_id

    def _may_send(self, row_id: int) -> bool:
        """Not a row this sender no longer holds (another took it). Not while the database is
        away: what is sent now could not be recorded (see `_lease_cutoff`); nor with less than
        half the lease left, which means renewals have been failing (a renewal comes before a
        quarter is gone): if this sender is cut off, the lease must outlast the send and the
        record."""
        held = self._claimed.get(row_id)
        if held is None or row_id in self._giving_back or self._outage_began is not None:
            return False
        return held.ends - self._mono() >= self._lease_s / 2

    def _give_back(self, lane: collections.deque[ClaimedRow]) -> None:
        # Rows no longer this sender's have nothing to give back.
        self._giving_back.update((row.id, row.chat_id) for row in lane
                                 if row.id in self._claimed)
        lane.clear()

    async def _global_turn(self) -> None:
        """Wait for this send's turn under the overall rate: turns are handed out in order,
        `global_interval` apart, so concurrent chats together keep to the limit."""
        if self.global_interval <= 0:
            return
        now = self._mono()
        turn = max(now, self._global_next)
        self._global_next = turn + self.global_interval
        if turn > now:
            await self._pace_until(turn)

    async def _pace_until(self, at: float) -> None:
        """Wait until monotonic time `at`, writing the "sent" marks first: nothing sent stays
        unrecorded while we wait. Counted as pacing from the start, so a lane ending meanwhile
        writes its own marks instead of leaving them to this one."""
        self._pacing += 1
        try:
            await self._record_sent_if_reachable()
            await asyncio.sleep(max(0.0, at - self._mono()))
        finally:
            self._pacing -= 1

    async def _record_sent_if_reachable(self) -> None:
        """A lane's write of the marks. While the database cannot be reached the marks wait
        (the claim loop writes them first thing once it answers, before it claims anything),
        and no new send starts (`_may_send`)."""
        try:
            await self._record_sent()
        except Exception as exc:
            if not may_be_outage(exc):
                raise
            self._noticed_outage(exc)

    async def _record_sent(self) -> None:
        # One writer at a time: lanes ending together share a write instead of each opening
        # a transaction (on SQLite the second would only wait for the first's lock).
        if not self._sent:
            return  # (a write under way takes the marks made before it)
        async with self._record_lock:
            sent, self._sent = self._sent, []
            if not sent:
                return
            self._recording = {row_id for row_id, _ in sent}
            try:
                async with self.uow_factory() as uow:
                    await uow.outbox.finish_sent(sent, self.clock.now())
                    await uow.commit()
            except BaseException:
                # Not written (the database is unreachable, or we are cancelled): these went
                # out, so they must not be sent again; the next write takes them along.
                self._sent[:0] = sent
                self._recording = set()
                raise
            for row_id, _ in sent:
                self._claimed.pop(row_id, None)
            if self._recorded_during_claim is not None:
                self._recorded_during_claim.update(self._recording)
            self._recording = set()
        self._reached()

    def _remember(self, row_id: int, message_id: int) -> None:
        self._message_ids[row_id] = message_id
        if len(self._message_ids) > 4096:
            self._message_ids.pop(next(iter(self._message_ids)))

    async def _deliver(self, row: ClaimedRow) -> bool:
        payload = dict(row.payload)
        message_id: int | None = payload.get("message_id")
        edit_of = payload.get("edit_of") if payload.get("op") == "edit" else None
        if message_id is None and edit_of:
            # Sent by this sender lately (recorded or not yet): its id is at hand.
            message_id = self._message_ids.get(int(edit_of))
            if message_id is None:
                async with self.uow_factory() as uow:
                    state = await uow.outbox.send_state(int(edit_of))
                # Decided after that session closed: on SQLite a second one would wait for its
                # lock.
                if state is None or state[0] == "failed":
                    await self._fail(row.id, "original message was never sent")
                    return True
                if state[1] is None:
                    # The card it updates is not out yet: try again shortly, in order.
                    await self._postpone(row.id, 2.0, "waiting for original", count=False)
                    return False
                message_id = state[1]
        try:
            sent_id = await self.transport.deliver(row.chat_id, payload, message_id)
        except RetryLater as exc:
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(row.attempts)
            log.warning("outbox %s: retry in %.1fs (%s)", row.id, delay, exc.reason)
            if row.attempts + 1 >= MAX_ATTEMPTS:
                await self._fail(row.id, f"gave up: {exc.reason}")
                return True
            await self._postpone(row.id, delay, exc.reason)
            if exc.retry_after is not None:
                self._chat_next[row.chat_id] = self._mono() + delay
            # Later messages to this chat wait until this one went out (order per chat).
            self._chat_blocked[row.chat_id] = self._mono() + delay
            return False
        except Permanent as exc:
            log.warning("outbox %s to %s failed for good: %s", row.id, row.chat_id, exc)
            await self._fail(row.id, str(exc))
            return True
        self._chat_next[row.chat_id] = self._mono() + self.per_chat_interval
        if not self._sent:
            self._sent_since = self._mono()
        self._sent.append((row.id, sent_id))
        if sent_id is not None:
            self._remember(row.id, sent_id)
        self.sent_count += 1
        return True

    def _backoff(self, attempts: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts)))

    async def _fail(self, row_id: int, reason: str) -> None:
        now = self.clock.now()
        await self._write_held(
            row_id, lambda uow, held: uow.outbox.fail(row_id, now, reason, held))

    async def _postpone(self, row_id: int, seconds: float, reason: str, count: bool = True) -> None:
        not_before = self.clock.now() + timedelta(seconds=seconds)
        await self._write_held(
            row_id, lambda uow, held: uow.outbox.postpone(row_id, not_before, reason, count, held))

    async def _write_held(self, row_id: int,
                          write: Callable[[UnitOfWork, datetime], Awaitable[bool]]) -> None:
        """Write a postpone or a failure under the lease the row is held by: a row this
        sender lost meanwhile (its lease ran out, another sender took it) is left to its new
        holder, whose lease a write by row id would clear, letting a third sender take it
        while the second may still be sending. Renewals wait meanwhile, so the lease read
        here is the one stored."""
        async with self._record_lock:
            held = self._claimed.get(row_id)
            if held is not None:
                async with self.uow_factory() as uow:
                    written = await write(uow, held.until)
                    await uow.commit()
                self._reached()
                if written:
                    return
        log.warning("outbox: row %s is no longer this sender's (its lease ran out and another "
                    "sender took it); its retry or failure is left to that sender", row_id)

    async def _release_many(self, rows: list[tuple[int, _Lease]]) -> None:
        """End the leases of rows let go of, each only while the lease it was held by stands
        (claimed again since, by another sender or this one, it is left alone)."""
        by_lease = _by_lease(rows)
        if not by_lease:
            return
        async with self.uow_factory() as uow:
            for until, ids in by_lease.items():
                await uow.outbox.release_many(ids, leased_until=until)
            await uow.commit()
