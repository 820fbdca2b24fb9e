"""Exactly one scheduler per deployment: a PostgreSQL session advisory lock (DESIGN §8).

The lock lives as long as the leader's connection: when the leader dies, PostgreSQL ends the
session and a standby's next attempt wins. SQLite deployments are one host, one process: the
lock is always granted there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# An arbitrary fixed key: "zhitong scheduler".
LOCK_KEY = 0x7A68_5363

# How long the leader waits for its lock check. A connection gone silent (a firewall or NAT
# fail-over, a paused host: packets dropped, nothing closed) would otherwise hold the check for
# the kernel's retransmissions, about 15 minutes, while the scheduler runs on unchecked, and
# beside a standby once PostgreSQL has ended the session.
CHECK_TIMEOUT = 3.0
# The lock's session asks PostgreSQL to probe the leader's connection often, so that a leader
# host that died or was cut off without closing it frees the lock in about half a minute, not
# after the server's default two hours of keepalive silence (the connection stays otherwise
# idle, so no query would find out).
# (Each only where the server has it: tcp_user_timeout came with PostgreSQL 12.)
SESSION_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "20000",
}

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

    async def try_acquire(self, check_timeout: float = CHECK_TIMEOUT) -> bool:
        if self.held:
            return await self._still_held(check_timeout)
        if self.engine.dialect.name != "postgresql":
            self.held = True
            return True
        conn = await self.engine.connect()
        got = False
        try:
            # Before the lock: a session-level lock outlives a failed transaction, and a
            # connection handed back to the pool would keep holding it.
            await _ask_for_keepalives(conn)
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                           {"k": self.key})).scalar())
            await conn.commit()
        except BaseException:
            if got:  # dropping the connection ends the session, and the lock with it
                await _discard(conn)
            else:
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

    async def _still_held(self, timeout: float) -> bool:
        if self._conn is None:
            return self.held
        try:
            held = await asyncio.wait_for(self._check(self._conn), timeout)
        except Exception:  # connection gone (the lock went with it), or silent
            held = False
        if not held:
            log.warning("scheduler leadership lost")
            conn, self._conn, self.held = self._conn, None, False
            await _discard(conn)
        return held

    async def _check(self, conn: AsyncConnection) -> bool:
        # Ask whether this very session holds the lock: "SELECT 1" would also succeed on a
        # connection SQLAlchemy silently re-opened after an invalidation (a new session,
        # without the lock) while a standby already leads.
        held = bool((await conn.execute(HELD_SQL, {"k": self.key})).scalar())
        await conn.commit()
        return held

    async def release(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is None:
            return
        try:
            await asyncio.wait_for(self._unlock(conn), 1.0)
        except Exception:
            log.debug("unlock failed; dropping the connection releases it", exc_info=True)
            await _discard(conn)
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 1.0)

    async def _unlock(self, conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        await conn.commit()


async def _ask_for_keepalives(conn: AsyncConnection) -> None:
    known = set((await conn.execute(
        text("SELECT name FROM pg_settings WHERE name IN :names")
        .bindparams(bindparam("names", expanding=True)),
        {"names": list(SESSION_KEEPALIVES)})).scalars())
    for name, value in SESSION_KEEPALIVES.items():
        if name in known:
            await conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})


async def _discard(conn: AsyncConnection) -> None:
    """Drop the lock's connection without waiting on it: a silent one would hang a polite
    close. Dropping it ends the session, so a lock still held is freed for the standby."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.invalidate(), 1.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 1.0)


async def leadership_loop(lock: LeaderLock, on_gain: Any, on_loss: Any, stop: Any,
                          every_seconds: float = 5.0) -> None:
    """Keep trying to lead; start the scheduler on gain, stop it on loss."""
    # A check slower than the loop's own period means the leader cannot tell (kept above
    # half a second, so that a busy database does not pass for a lost one).
    check_timeout = max(0.5, min(CHECK_TIMEOUT, 2 * every_seconds))
    leading = False
    unreachable = False
    try:
        while not stop.is_set():
            try:
                now_leading = await lock.try_acquire(check_timeout)
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
