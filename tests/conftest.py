"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.clock import FrozenClock
from handlers.config import DeskConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZHITONG_SHARED_DIR", REPO.parent / "shared"))
ORG_EXAMPLE = SHARED / "org.example.yaml"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("ZHITONG_TEST_POSTGRES_URL", DEFAULT_PG)


def _pg_reachable(url: str) -> str | None:
    """None when reachable, else the reason (for a clear skip)."""
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as exc:  # any failure means: no server for us
        return f"PostgreSQL not reachable at {url}: {exc}"


_PG_STATE: dict[str, str | None] = {}


def _pg_url(name: str) -> str:
    base, _, _db = postgres_admin_url().rpartition("/")
    return f"{base}/{name}"


def _pg_template() -> str:
    """A migrated template database, made once per test run: copying it is much faster than
    migrating a fresh database for every test."""
    import asyncio

    import asyncpg

    from storage.migrate import upgrade

    name = _PG_STATE.get("template")
    if name:
        return name
    name = f"zt_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(postgres_admin_url())
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    asyncio.run(create())
    upgrade(_pg_url(name))
    _PG_STATE["template"] = name
    import atexit

    atexit.register(_drop_pg_database, name)
    return name


def _create_pg_database() -> tuple[str, str]:
    import asyncio

    import asyncpg

    admin = postgres_admin_url()
    if "reason" not in _PG_STATE:
        _PG_STATE["reason"] = _pg_reachable(admin)
    if _PG_STATE["reason"]:
        pytest.skip(_PG_STATE["reason"])
    template = _pg_template()
    name = f"zt_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        await conn.close()

    asyncio.run(create())
    return _pg_url(name), name


def _drop_pg_database(name: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_admin_url())
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(drop())


def _truncate_all(url: str) -> None:
    import asyncio

    import asyncpg

    from storage.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

    async def run() -> None:
        conn = await asyncpg.connect(url)
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await conn.close()

    asyncio.run(run())


def _sqlite_template(tmp_root: Path) -> Path:
    from storage.migrate import upgrade

    path = _PG_STATE.get("sqlite_template")
    if path and Path(path).exists():
        return Path(path)
    target = tmp_root / "template.db"
    upgrade(f"sqlite:///{target}")
    _PG_STATE["sqlite_template"] = str(target)
    return target


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty, migrated database; the storage tests run once per backend.

    SQLite: a copy of a database migrated once per run. PostgreSQL: one migrated database per
    run, every table truncated before each test (far faster than CREATE DATABASE per test).
    """
    import shutil

    if request.param == "sqlite":
        target = tmp_path / "zhitong.db"
        shutil.copyfile(_sqlite_template(tmp_path_factory.getbasetemp()), target)
        yield f"sqlite:///{target}"
        return
    url, _name = _shared_pg_database()
    _truncate_all(url)
    yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty, migrated PostgreSQL database, for tests that only mean something with a
    database server (mark them `postgres`); skipped with the reason when none is reachable."""
    url, _name = _shared_pg_database()
    _truncate_all(url)
    yield url


def _shared_pg_database() -> tuple[str, str]:
    name = _PG_STATE.get("shared")
    if name:
        return _pg_url(name), name
    url, name = _create_pg_database()
    _PG_STATE["shared"] = name
    import atexit

    atexit.register(_drop_pg_database, name)
    return url, name


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'zhitong.db'}"
    upgrade(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    # A Tuesday morning in Beijing, well away from holidays.
    return FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))


@pytest.fixture
def config() -> DeskConfig:
    return DeskConfig(bot_username="zhitong_test_bot")


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[object]:
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWorkFactory

    engine = make_engine(database_url)
    yield UnitOfWorkFactory(make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture(scope="session")
def tagger() -> object:
    """The real tagger, built once for the whole run (start-up costs about a second)."""
    from domain.tagging import Tagger

    t = Tagger(extra_words=("县供电公司", "县自然资源局"))
    t.initialize()
    return t
