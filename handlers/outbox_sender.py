"""Delivers outbox rows through a transport, at least once, paced, retried (DESIGN §10).

Transport-neutral: aiogram and python-telegram-bot each provide a `Transport`. Rows are leased
(and on PostgreSQL claimed with SKIP LOCKED) so several senders never take the same row; order is
kept per chat: when one message to a chat must wait, the later ones to that chat wait too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from domain.clock import Clock
from storage.repositories import ClaimedRow
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

# Long enough for one paced batch; short enough that a crashed sender's rows come back soon.
LEASE = timedelta(seconds=15)
MAX_BACKOFF_SECONDS = 300.0
MAX_ATTEMPTS = 12


class RetryLater(Exception):
    """429 or a passing server/network fault: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float | None, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


class Permanent(Exception):
    """A 4xx that retrying cannot fix (bad request, bot blocked by the user)."""


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
        batch: int = 10,
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
        self.lease = lease
        # After a wake-up, wait this long before claiming, so that the messages of updates
        # being applied right now go out in the same round (one claim and one record for
        # several messages instead of two transactions each).
        self.linger = linger
        self._last_claimed = 0
        self._mono = monotonic
        self._chat_next: dict[int, float] = {}
        # Chats whose oldest message waits out a retry: nothing later to them goes first.
        self._chat_blocked: dict[int, float] = {}
        self._global_next = 0.0
        self._wake = asyncio.Event()
        self.sent_count = 0
        # Rows this sender claimed and has not finished: released on shutdown so a restart
        # does not wait out the lease.
        self._claimed: set[int] = set()
        self._stop: asyncio.Event | None = None
        # Rows sent whose "sent" mark is not written yet: written together, before the sender
        # waits (pacing) and at the end of each round — at production pacing that is after
        # every message; only unpaced bursts share one write among up to `batch` sends.
        self._sent: list[tuple[int, int | None]] = []

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set. A message being sent when it is set is finished (so it
        is not sent again after a restart); the rest of the batch is released at once."""
        self._stop = stop
        try:
            await self._loop(stop, idle_seconds)
        finally:
            try:
                await self._record_sent()
            finally:
                await self.release_claims()

    async def release_claims(self) -> None:
        claimed, self._claimed = self._claimed, set()
        if not claimed:
            return
        try:
            await self._release_many(sorted(claimed))
        except Exception:  # the lease expires anyway
            log.debug("could not release outbox rows %s", sorted(claimed), exc_info=True)

    async def _loop(self, stop: asyncio.Event, idle_seconds: float) -> None:
        while not stop.is_set():
            try:
                delivered = await self.deliver_once()
            except Exception:  # keep the loop alive; the rows stay pending
                log.exception("outbox delivery round failed")
                delivered = 0
            if delivered and self._last_claimed >= self.batch:
                continue  # a full round: more may be waiting
            if not delivered:
                self._wake.clear()
                waiters = [asyncio.ensure_future(self._wake.wait()),
                           asyncio.ensure_future(stop.wait())]
                done, pending = await asyncio.wait(waiters, timeout=idle_seconds,
                                                   return_when=asyncio.FIRST_COMPLETED)
                for w in pending:
                    w.cancel()
                if not done:
                    continue  # idle timeout: look for rows that became due
            if self.linger > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.linger)

    async def deliver_once(self) -> int:
        """One round: claim due rows, send what pacing allows. Returns rows finished."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            rows = list(await uow.outbox.claim_due(now, self.batch, self.lease))
            await uow.commit()
        self._last_claimed = len(rows)
        if not rows:
            return 0
        self._claimed.update(r.id for r in rows)
        finished = 0
        held: set[int] = set()
        release: list[int] = []
        try:
            for row in rows:
                if self._stop is not None and self._stop.is_set():
                    break  # shutting down: the finally of run() releases what is left
                if row.chat_id in held or self._mono() < self._chat_blocked.get(row.chat_id, 0.0):
                    held.add(row.chat_id)
                    release.append(row.id)
                    continue
                wait = self._chat_next.get(row.chat_id, 0.0) - self._mono()
                if wait > 0 and wait > 2.0:
                    held.add(row.chat_id)
                    release.append(row.id)
                    continue
                if wait > 0 or self._global_next > self._mono():
                    await self._record_sent()  # nothing sent stays unrecorded while we wait
                if wait > 0:
                    await asyncio.sleep(wait)
                gwait = self._global_next - self._mono()
                if gwait > 0:
                    await asyncio.sleep(gwait)
                done = await self._deliver(row)
                if done:
                    finished += 1
                else:
                    held.add(row.chat_id)
        finally:
            await self._record_sent()
            if release:
                await self._release_many(release)
        return finished

    async def _record_sent(self) -> None:
        sent, self._sent = self._sent, []
        if not sent:
            return
        async with self.uow_factory() as uow:
            await uow.outbox.finish_sent(sent, self.clock.now())
            await uow.commit()
        for row_id, _ in sent:
            self._claimed.discard(row_id)

    async def _deliver(self, row: ClaimedRow) -> bool:
        payload = dict(row.payload)
        message_id: int | None = payload.get("message_id")
        if payload.get("op") == "edit" and message_id is None and payload.get("edit_of"):
            await self._record_sent()  # the original may be among the unrecorded sends
            async with self.uow_factory() as uow:
                state = await uow.outbox.send_state(int(payload["edit_of"]))
            # Decided after that session closed: on SQLite a second one would wait for its lock.
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
        now_m = self._mono()
        self._chat_next[row.chat_id] = now_m + self.per_chat_interval
        self._global_next = now_m + self.global_interval
        self._sent.append((row.id, sent_id))
        self.sent_count += 1
        return True

    def _backoff(self, attempts: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts)))

    async def _fail(self, row_id: int, reason: str) -> None:
        self._claimed.discard(row_id)
        async with self.uow_factory() as uow:
            await uow.outbox.fail(row_id, self.clock.now(), reason)
            await uow.commit()

    async def _postpone(self, row_id: int, seconds: float, reason: str, count: bool = True) -> None:
        self._claimed.discard(row_id)
        async with self.uow_factory() as uow:
            await uow.outbox.postpone(row_id, self.clock.now() + timedelta(seconds=seconds),
                                      reason, count)
            await uow.commit()

    async def _release_many(self, row_ids: list[int]) -> None:
        for row_id in row_ids:
            self._claimed.discard(row_id)
        async with self.uow_factory() as uow:
            await uow.outbox.release_many(row_ids)
            await uow.commit()
