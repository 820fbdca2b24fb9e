"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call on a worker thread and wakes the event loop with each result: four
hand-offs per statement (cursor, execute, fetch, close), which on a local file cost more CPU
than the statement itself. This connection answers the same calls directly. SQLite on a local
file answers an indexed statement in microseconds, so doing it inline holds the loop no longer
than the hand-off did.

The one wait that can be long — another connection or process holding the write lock — is
not left to SQLite's busy handler, which would block the whole loop (and with it the writer
we wait for, if that writer is in this process). The connection runs with busy_timeout 0 and
waits for a busy database here, asynchronously, up to the configured timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Growing pauses between attempts on a busy database, in seconds (then the last, repeated).
_BUSY_PAUSES = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


class InlineCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            await self._connection._retry_busy(self._cursor.execute, sql)
        else:
            await self._connection._retry_busy(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(parameters)  # a retry needs them again
        await self._connection._retry_busy(self._cursor.executemany, sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid


class _ImmediateQueue:
    """SQLAlchemy sets the isolation level by queueing a function for aiosqlite's thread;
    here it runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the waiter, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection:
    """The part of aiosqlite's connection that SQLAlchemy's adapter uses."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_seconds: float) -> None:
        self._conn = conn
        self._tx = _ImmediateQueue()
        self._busy_timeout = busy_timeout_seconds

    async def _retry_busy(self, call: Callable[..., Any], *args: Any) -> Any:
        # Every transaction starts with BEGIN IMMEDIATE (storage.db), and in WAL mode that is
        # the one statement that can find the database busy: once it holds the write lock, the
        # transaction's statements and its commit do not. So a retried call has done nothing.
        deadline: float | None = None
        attempt = 0
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._busy_timeout
                if now >= deadline:
                    raise
                pause = _BUSY_PAUSES[min(attempt, len(_BUSY_PAUSES) - 1)]
                attempt += 1
                await asyncio.sleep(min(pause, max(0.0, deadline - now)))

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await (await self.cursor()).execute(sql, parameters)

    async def commit(self) -> None:
        await self._retry_busy(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        """Forced close (SQLAlchemy's terminate)."""
        self._conn.close()


def inline_creator(database: str, busy_timeout_seconds: float) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: connections to the file `database`."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the pool may drop a connection from another thread at exit.
        conn = sqlite3.connect(database, timeout=0, check_same_thread=False,
                               isolation_level=None)
        return InlineConnection(conn, busy_timeout_seconds)

    return connect
