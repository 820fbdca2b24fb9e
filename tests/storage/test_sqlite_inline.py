"""SQLite runs on the event loop's thread: a busy database is waited for without blocking it.

A second writer in this process waits (asynchronously) for the first to commit, and the loop
keeps serving other tasks meanwhile; a writer in another process is waited for the same way;
a lock held past the busy timeout gives SQLite's own "database is locked" error, and a failed
statement leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, make_sessionmaker
from storage.models import ProcessedUpdate
from storage.sqlite_inline import inline_creator
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


async def count_updates(factory: UnitOfWorkFactory) -> int:
    async with factory() as uow:
        return int((await uow.session.execute(
            select(func.count()).select_from(ProcessedUpdate))).scalar_one())


async def test_a_second_writer_waits_for_the_first_and_the_loop_keeps_running(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    first_holds = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []
    ticks = 0

    async def first() -> None:
        async with factory() as uow:
            await uow.updates.mark(1, NOW)  # BEGIN IMMEDIATE: the write lock is ours
            first_holds.set()
            await release.wait()
            order.append("first commits")
            await uow.commit()

    async def second() -> None:
        await first_holds.wait()
        async with factory() as uow:
            await uow.updates.mark(2, NOW)
            order.append("second wrote")
            await uow.commit()

    async def ticker() -> None:
        nonlocal ticks
        await first_holds.wait()
        for _ in range(20):
            ticks += 1
            await asyncio.sleep(0.005)
        release.set()

    try:
        await asyncio.wait_for(asyncio.gather(first(), second(), ticker()), 10)
        assert order == ["first commits", "second wrote"]
        assert ticks == 20  # the loop served the ticker while the second writer waited
        assert await count_updates(factory) == 2
    finally:
        await engine.dispose()


async def test_a_writer_in_another_process_is_waited_for(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO processed_updates (update_id, processed_at) "
                  "VALUES (7, '2026-11-24 01:00:00.000000')")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    engine = make_engine(sqlite_url)
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    try:
        timer.start()
        started = time.monotonic()
        async with factory() as uow:
            assert await uow.updates.mark(7, NOW) is False  # the other writer's row is seen
            assert await uow.updates.mark(8, NOW) is True
            await uow.commit()
        assert time.monotonic() - started >= 0.25
        assert await count_updates(factory) == 2
    finally:
        timer.join()
        other.close()
        await engine.dispose()


async def test_a_lock_held_past_the_busy_timeout_fails_cleanly(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    engine = make_engine(sqlite_url, async_creator=inline_creator(path, 0.2))
    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            async with factory() as uow:
                await uow.updates.mark(9, NOW)
                await uow.commit()
        waited = time.monotonic() - started
        assert 0.15 <= waited < 2
        other.execute("ROLLBACK")
        assert await count_updates(factory) == 0
    finally:
        other.close()
        await engine.dispose()


async def test_make_engine_gives_sqlite_the_inline_connection(sqlite_url: str) -> None:
    from storage.sqlite_inline import InlineConnection

    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, InlineConnection)
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
            assert busy == 0  # waits are ours, not SQLite's (which would block the loop)
    finally:
        await engine.dispose()
