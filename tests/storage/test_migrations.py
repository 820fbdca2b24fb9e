"""Migrations: the stairway (upgrade, downgrade, upgrade each revision) on SQLite and PostgreSQL,
and no difference between the models and what the migrations build."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import downgrade, revisions, upgrade
from storage.models import Base


def _run(url: str, fn: Any) -> Any:
    async def go() -> Any:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def tables(url: str) -> set[str]:
    return set(_run(url, lambda c: inspect(c).get_table_names()))


def current(url: str) -> str | None:
    return _run(url, lambda c: MigrationContext.configure(c).get_current_revision())


def model_diff(url: str) -> list[Any]:
    def diff(conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": True})
        return list(compare_metadata(ctx, Base.metadata))

    return _run(url, diff)


MODEL_TABLES = set(Base.metadata.tables)


def test_there_is_a_linear_history(database_url: str) -> None:
    revs = revisions(database_url)
    assert revs and len(revs) == len(set(revs))
    assert current(database_url) == revs[-1]


def test_stairway(database_url: str) -> None:
    """From empty, each revision goes up, comes down to the one before, and goes up again."""
    downgrade(database_url, "base")
    assert tables(database_url) - {"alembic_version"} == set()
    assert current(database_url) is None
    revs = revisions(database_url)
    previous = "base"
    for rev in revs:
        upgrade(database_url, rev)
        assert current(database_url) == rev
        after_up = tables(database_url)
        downgrade(database_url, previous)
        assert current(database_url) == (None if previous == "base" else previous)
        upgrade(database_url, rev)
        assert tables(database_url) == after_up
        previous = rev
    assert tables(database_url) >= MODEL_TABLES


def test_models_and_migrations_agree(database_url: str) -> None:
    assert tables(database_url) >= MODEL_TABLES
    assert model_diff(database_url) == []


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    downgrade(database_url, "base")
    assert tables(database_url) & MODEL_TABLES == set()
    upgrade(database_url)
    assert model_diff(database_url) == []
