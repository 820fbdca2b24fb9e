"""Scheduler leadership: one PostgreSQL advisory lock, a standby takes over (DESIGN §8).

Two `LeaderLock`s on two engines stand for two processes. The lock lives as long as the
leader's database session, so the hand-over cases are: the leader releases it (clean stop), its
connection is closed under it (client side), its backend is terminated (server side), and its
process is killed with -9. On SQLite there is one process per deployment: always granted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import leader as leader_module
from storage.db import make_engine
from storage.leader import LeaderLock, leadership_loop

REPO = Path(__file__).resolve().parents[2]
KEY = 0x5EED_1EAD  # not the production key: a test must never fight a running deployment


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgres"):
        pytest.skip("advisory locks are PostgreSQL's; SQLite always grants leadership")
    return database_url


@pytest.fixture
async def engines(pg_url: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [make_engine(pg_url) for _ in range(3)]
    try:
        yield made
    finally:
        # A failed test may leave a session holding the lock (dispose() does not close a
        # checked-out connection): end it, so the next test starts clean.
        with contextlib.suppress(Exception):
            for pid in await leader_pids(made[2]):
                await terminate(made[2], pid)
        for engine in made:
            await engine.dispose()


async def backend_pid(lock: LeaderLock) -> int:
    assert lock._conn is not None
    return int((await lock._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await conn.commit()


async def test_sqlite_always_leads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        a, b = LeaderLock(engine, KEY), LeaderLock(engine, KEY)
        assert await a.try_acquire() and await b.try_acquire()
        await a.release()
        assert not a.held
    finally:
        await engine.dispose()


async def test_one_wins_and_the_standby_takes_over_after_release(
        engines: list[AsyncEngine]) -> None:
    a, b = LeaderLock(engines[0], KEY), LeaderLock(engines[1], KEY)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert await a.try_acquire()  # still held: re-checked on the same session
    assert not await b.try_acquire()
    await a.release()
    assert not a.held
    assert await b.try_acquire()
    assert not await a.try_acquire()
    await b.release()


async def test_standby_takes_over_when_the_leaders_connection_is_closed(
        engines: list[AsyncEngine]) -> None:
    a, b = LeaderLock(engines[0], KEY), LeaderLock(engines[1], KEY)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert a._conn is not None
    await a._conn.invalidate()  # the socket is closed: the session, and its lock, end
    await asyncio.sleep(0.2)  # the server notices the closed socket
    assert await b.try_acquire()
    assert not await a.try_acquire()  # the old leader notices it lost, and cannot get it back
    assert not a.held
    await a.release()
    await b.release()


async def test_standby_takes_over_when_the_leaders_backend_is_terminated(
        engines: list[AsyncEngine]) -> None:
    a, b = LeaderLock(engines[0], KEY), LeaderLock(engines[1], KEY)
    assert await a.try_acquire()
    await terminate(engines[2], await backend_pid(a))
    assert await b.try_acquire()
    assert not await a.try_acquire()
    assert not a.held
    await a.release()  # harmless on a dead connection
    await b.release()
    assert await a.try_acquire()  # and the lock is free again for anyone
    await a.release()


HOLDER = """
import asyncio, sys
from storage.db import make_engine
from storage.leader import LeaderLock

async def main():
    lock = LeaderLock(make_engine(sys.argv[1]), int(sys.argv[2]))
    print("leader" if await lock.try_acquire() else "standby", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_standby_takes_over_when_the_leader_process_is_killed(
        pg_url: str, engines: list[AsyncEngine]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, pg_url, str(KEY), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line.decode().strip() == "leader"
        b = LeaderLock(engines[1], KEY)
        assert not await b.try_acquire()
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not await b.try_acquire():
            assert loop.time() < deadline, "the standby never took over"
            await asyncio.sleep(0.05)
        await b.release()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# --- the loop and LedScheduler ---------------------------------------------------------------


class FakeScheduler:
    """Stands in for APScheduler: records who runs, and when two ran at once."""

    running: set[str] = set()
    log: list[str] = []

    def __init__(self, name: str) -> None:
        self.name = name

    def start(self) -> None:
        FakeScheduler.running.add(self.name)
        FakeScheduler.log.append(f"start {self.name}")

    def shutdown(self, wait: bool = False) -> None:
        FakeScheduler.running.discard(self.name)
        FakeScheduler.log.append(f"stop {self.name}")


async def until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"not reached; log {FakeScheduler.log}")
        await asyncio.sleep(0.02)


@pytest.fixture
def fast_leadership(monkeypatch: pytest.MonkeyPatch) -> None:
    """LedScheduler's loop re-checks every 0.1 s instead of 5 s; the scheduler is a fake."""
    import bot.app

    FakeScheduler.running = set()
    FakeScheduler.log = []
    monkeypatch.setattr(leader_module, "leadership_loop",
                        functools.partial(leadership_loop, every_seconds=0.1))
    monkeypatch.setattr(leader_module, "LOCK_KEY", KEY)
    monkeypatch.setattr(leader_module.LeaderLock.__init__, "__defaults__", (KEY,))
    monkeypatch.setattr(bot.app, "build_scheduler",
                        lambda core, _wake: FakeScheduler(core.name))


def led(engine: AsyncEngine, name: str) -> Any:
    from bot.app import LedScheduler

    core: Any = SimpleNamespace(engine=engine, name=name)
    return LedScheduler(core, on_enqueued=lambda: None)


async def leader_pids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 "
            "AND objid = :k AND granted"), {"k": KEY})).scalars().all()
    return [int(p) for p in rows]


async def test_led_scheduler_hands_over_when_the_leader_stops(
        engines: list[AsyncEngine], fast_leadership: None) -> None:
    a, b = led(engines[0], "a"), led(engines[1], "b")
    a.start()
    await until(lambda: FakeScheduler.running == {"a"})
    b.start()
    await asyncio.sleep(0.5)
    assert FakeScheduler.running == {"a"}  # the standby waits
    a.shutdown()  # SIGTERM: the lock is released on the way out
    await a.wait_closed()
    await until(lambda: FakeScheduler.running == {"b"})
    assert FakeScheduler.log == ["start a", "stop a", "start b"]
    b.shutdown()
    await b.wait_closed()
    assert FakeScheduler.running == set()
    assert await leader_pids(engines[2]) == []


async def test_led_scheduler_whose_session_dies_stops_its_jobs(
        engines: list[AsyncEngine], fast_leadership: None) -> None:
    a, b = led(engines[0], "a"), led(engines[1], "b")
    a.start()
    await until(lambda: FakeScheduler.running == {"a"})
    b.start()
    await asyncio.sleep(0.3)
    [pid] = await leader_pids(engines[2])
    await terminate(engines[2], pid)  # the database ends the leader's session
    await until(lambda: "stop a" in FakeScheduler.log)  # it noticed, and stopped its jobs
    # Afterwards exactly one of the two leads (whichever asked first), and it stays so.
    await until(lambda: len(FakeScheduler.running) == 1)
    await asyncio.sleep(0.5)
    assert len(FakeScheduler.running) == 1
    assert len(await leader_pids(engines[2])) == 1
    for s in (a, b):
        s.shutdown()
        await s.wait_closed()
    assert FakeScheduler.running == set()


@pytest.mark.postgres
async def test_a_scheduler_cut_off_from_the_database_keeps_asking_and_leads_again(
        postgres_url: str, fast_leadership: None) -> None:
    # The only scheduler loses its database (restart, network cut) for longer than a round:
    # it stops its jobs, keeps asking while the database refuses, and leads again once the
    # database answers — the process never ends up without a scheduler.
    from tests.tcp_relay import relay_database

    relay, relayed = await relay_database(postgres_url)
    engine = make_engine(relayed)
    a = led(engine, "a")
    try:
        a.start()
        await until(lambda: FakeScheduler.running == {"a"})
        relay.cut()
        await until(lambda: FakeScheduler.running == set())
        await asyncio.sleep(0.5)  # several rounds refused
        assert relay.refused >= 2
        relay.restore()
        await until(lambda: FakeScheduler.running == {"a"})
        assert FakeScheduler.log == ["start a", "stop a", "start a"]
    finally:
        a.shutdown()
        await a.wait_closed()
        await engine.dispose()
        await relay.close()


async def test_a_leader_whose_connection_went_silent_stops_leading(
        pg_url: str, fast_leadership: None) -> None:
    # A's path to the database starts dropping every packet (a firewall or NAT fail-over):
    # nothing is closed, so its lock check would wait on the kernel for about 15 minutes.
    # Meanwhile PostgreSQL ends A's session and B takes the lock. A must give up leading
    # within its check's time limit, not run beside B.
    from tests.tcp_relay import relay_database

    relay, through = await relay_database(pg_url)
    engines = [make_engine(through), make_engine(pg_url), make_engine(pg_url)]
    a, b = led(engines[0], "a"), led(engines[1], "b")
    try:
        a.start()
        await until(lambda: FakeScheduler.running == {"a"})
        b.start()
        await asyncio.sleep(0.3)
        relay.go_silent()
        [pid] = await leader_pids(engines[2])
        await terminate(engines[2], pid)
        await until(lambda: "b" in FakeScheduler.running)
        await until(lambda: FakeScheduler.running == {"b"})  # A stopped, on its own
        await asyncio.sleep(1.0)
        assert FakeScheduler.running == {"b"}
    finally:
        relay.cut()  # lets any stuck call fail, so the loops can end
        for s in (a, b):
            s.shutdown()
            await s.wait_closed()
        with contextlib.suppress(Exception):
            for pid in await leader_pids(engines[2]):
                await terminate(engines[2], pid)
        await relay.close()
        for engine in engines:
            await engine.dispose()


async def test_the_lock_session_has_the_server_probe_its_connection(
        engines: list[AsyncEngine]) -> None:
    # A leader host that dies or is cut off without closing its connection: the server's
    # default is to wait two hours before probing it, holding the lock (and so no scheduler)
    # that long. The lock's session asks for probes every few seconds instead.
    lock = LeaderLock(engines[0], KEY)
    assert await lock.try_acquire()
    try:
        assert lock._conn is not None
        idle = (await lock._conn.execute(text("SHOW tcp_keepalives_idle"))).scalar_one()
        user_timeout = (await lock._conn.execute(text("SHOW tcp_user_timeout"))).scalar_one()
        # Seconds and milliseconds: a dead leader frees the lock within about half a minute.
        assert int(idle) <= 30 and 0 < int(user_timeout) <= 30_000
    finally:
        await lock.release()


async def test_a_server_without_one_of_the_keepalive_settings_still_has_a_leader(
        engines: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL 11 has no tcp_user_timeout (stood for here by a setting no server has).
    # Asking for it must not cost the deployment its scheduler, nor leave the lock held by
    # a session in the pool.
    monkeypatch.setattr(leader_module, "SESSION_KEEPALIVES",
                        {"tcp_keepalives_idle": "10", "zz_no_such_setting": "1"})
    a, b = LeaderLock(engines[0], KEY), LeaderLock(engines[1], KEY)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    await a.release()
    assert await b.try_acquire()
    await b.release()
