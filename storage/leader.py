"""Exactly one scheduler per deployment: a PostgreSQL session advisory lock (DESIGN §8).

The lock lives as long as the leader's connection: when the leader dies, PostgreSQL ends the
session and a standby's next attempt wins. SQLite deployments are one host, one process: the
lock is always granted there.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# An arbitrary fixed key: "zhitong scheduler".
LOCK_KEY = 0x7A68_5363

# Is the (bigint-keyed) advisory lock held by this session? pg_locks splits the key in two.
HELD_SQL = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1"
    " AND ((classid::bigint << 32) | objid::bigint) = :k)")


class LeaderLock:
    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return await self._still_held()
        if self.engine.dialect.name != "postgresql":
            self.held = True
            return True
        conn = await self.engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": self.key})).scalar()
            await conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        if got:
            self._conn = conn
            self.held = True
            log.info("scheduler leadership acquired")
        else:
            await conn.close()
        return bool(got)

    async def _still_held(self) -> bool:
        if self._conn is None:
            return self.held
        try:
            # Ask whether this very session holds the lock: "SELECT 1" would also succeed on a
            # connection SQLAlchemy silently re-opened after an invalidation (a new session,
            # without the lock) while a standby already leads.
            held = bool((await self._conn.execute(HELD_SQL, {"k": self.key})).scalar())
            await self._conn.commit()
        except Exception:  # connection gone: the lock went with it
            held = False
        if not held:
            log.warning("scheduler leadership lost")
            conn, self._conn, self.held = self._conn, None, False
            with contextlib.suppress(Exception):
                await conn.close()
        return held

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await self._conn.commit()
            except Exception:
                log.debug("unlock failed; closing the connection releases it", exc_info=True)
            await self._conn.close()
        self._conn = None
        self.held = False


async def leadership_loop(lock: LeaderLock, on_gain: Any, on_loss: Any, stop: Any,
                          every_seconds: float = 5.0) -> None:
    """Keep trying to lead; start the scheduler on gain, stop it on loss."""
    import asyncio
    import contextlib

    leading = False
    unreachable = False
    try:
        while not stop.is_set():
            try:
                now_leading = await lock.try_acquire()
            except Exception as exc:
                # The database cannot be reached: nobody can be sure to lead (a held lock
                # was checked and dropped in try_acquire); keep asking until it answers.
                if not unreachable:
                    log.warning("scheduler leadership: the database cannot be reached (%s)",
                                exc.__class__.__name__)
                unreachable, now_leading = True, False
            else:
                unreachable = False
            if now_leading and not leading:
                on_gain()
            elif leading and not now_leading:
                on_loss()
            leading = now_leading
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every_seconds)
    finally:
        if leading:
            on_loss()
        await lock.release()
