"""Engine construction: plain URLs in, the async driver chosen here (DESIGN §11)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# A new PostgreSQL connection not made within this many seconds is given up (asyncpg's own
# default is a minute): behind a network cut the desk should learn of the outage soon.
PG_CONNECT_TIMEOUT_S = 10


def async_url(url: str) -> str:
    """`sqlite:///x.db` → aiosqlite, `postgresql://…` → asyncpg; explicit drivers kept."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = parsed.drivername
    if backend == "sqlite" and "+" not in driver:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif (backend in ("postgresql", "postgres") and "+" not in driver) or driver == "postgresql+psycopg2":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The synchronous twin for Alembic's offline bits and scripts."""
    parsed = make_url(async_url(url))
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # 0: a busy database is waited for by storage.sqlite_inline, without blocking the loop.
    cur.execute("PRAGMA busy_timeout=0")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue (storage.sqlite_inline
    # waits for the lock) instead of failing with "database is locked" when a reader upgrades.
    # It is also why only BEGIN can find the database busy.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    full = async_url(url)
    parsed = make_url(full)
    if parsed.drivername == "sqlite+aiosqlite" and "async_creator" not in kwargs:
        from storage.sqlite_inline import inline_creator

        kwargs["async_creator"] = inline_creator(parsed.database or ":memory:",
                                                 SQLITE_BUSY_TIMEOUT_MS / 1000)
    if parsed.drivername == "postgresql+asyncpg":
        connect_args = dict(kwargs.get("connect_args") or {})
        connect_args.setdefault("timeout", PG_CONNECT_TIMEOUT_S)
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(full, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_pysqlite_tx(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling defers it).
            dbapi_conn.isolation_level = None

        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
