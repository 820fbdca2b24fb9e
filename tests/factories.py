"""Helpers other tests reuse: load an organisation, build actors and contexts, dump the database.

    await load_example_org(uow_factory, clock.now())
    async with uow_factory() as uow:
        ctx = await ctx_for(uow, "qian", clock.now(), config)
        await check_accept(ctx, ticket_id)
        await uow.commit()

People are named by their id in ../shared/org.example.yaml (zhao, qian, han …).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, text

from domain.permissions import Actor
from handlers.config import DeskConfig
from handlers.context import Ctx, load_actor
from handlers.org import LoadSummary, do_load_org
from storage.models import Account, Base, Project, Ticket
from storage.orgfile import OrgSpec, load_org_file
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.conftest import ORG_EXAMPLE

DATA = Path(__file__).parent / "data"
ORG_OTHER = DATA / "org_other.yaml"

T = TypeVar("T")


# --- organisation -------------------------------------------------------------------------------


async def load_org(uow_factory: Any, source: Path | str | OrgSpec, now: datetime) -> LoadSummary:
    """Validate and load an organisation file (or spec) in one committed transaction."""
    spec = source if isinstance(source, OrgSpec) else load_org_file(source)
    async with uow_factory() as uow:
        summary = await do_load_org(uow, spec, now)
        await uow.commit()
    return summary


async def load_example_org(uow_factory: Any, now: datetime) -> LoadSummary:
    """The shared org.example.yaml: 12 units (zdb dispatches), 16 people, 3 projects."""
    return await load_org(uow_factory, ORG_EXAMPLE, now)


# --- people, actors, contexts -------------------------------------------------------------------


async def account(uow: UnitOfWork, key: str) -> Account:
    """The account of a person of the organisation file, by id (`qian`) or Telegram id."""
    found = await uow.accounts.by_key(key) if not key.isdigit() else (
        await uow.accounts.by_telegram_id(int(key)))
    if found is None:
        raise LookupError(f"no account {key!r}: was the organisation loaded?")
    return found


async def actor_for(uow: UnitOfWork, key: str) -> Actor:
    return await load_actor(uow, await account(uow, key))


async def ctx_for(
    uow: UnitOfWork,
    key: str | None,
    now: datetime,
    config: DeskConfig | None = None,
    *,
    update_id: int | None = None,
) -> Ctx:
    """A context acting as person `key`; None acts as the system (scheduler)."""
    cfg = config or DeskConfig()
    if key is None:
        return Ctx(uow=uow, now=now, config=cfg, update_id=update_id)
    acc = await account(uow, key)
    return Ctx(uow=uow, now=now, config=cfg, update_id=update_id, chat_id=acc.telegram_id,
               account=acc, actor=await load_actor(uow, acc))


async def project(uow: UnitOfWork, code: str) -> Project:
    found = await uow.org.project_by_code(code)
    if found is None:
        raise LookupError(f"no project {code!r}")
    return found


async def act(
    uow_factory: Any,
    key: str | None,
    now: datetime,
    config: DeskConfig | None,
    step: Callable[[Ctx], Awaitable[T]],
    *,
    update_id: int | None = None,
) -> T:
    """Run one step as `key` in its own unit of work, and commit it."""
    async with uow_factory() as uow:
        ctx = await ctx_for(uow, key, now, config, update_id=update_id)
        result = await step(ctx)
        await uow.commit()
        return result


async def submit(
    uow_factory: Any,
    now: datetime,
    config: DeskConfig | None = None,
    *,
    by: str = "han",
    reporter: str | None = None,
    project_code: str = "P2026-001",
    category: str = "land",
    text: str = "项目用地指标迟迟没有落实,影响开工。",
    urgent: bool = False,
) -> Ticket:
    """Submit (and commit) a ticket; `by` types it, `reporter` defaults to `by`."""
    from handlers.tickets import check_submit

    async def step(ctx: Ctx) -> Ticket:
        proj = await project(ctx.uow, project_code)
        rep = await account(ctx.uow, reporter or by)
        return await check_submit(ctx, project=proj, reporter=rep, text=text,
                                  category_code=category, urgent=urgent)

    return await act(uow_factory, by, now, config, step)


async def ticket(uow_factory: Any, ticket_id: int) -> Ticket:
    async with uow_factory() as uow:
        found = await uow.tickets.get(ticket_id)
        assert found is not None
        uow.session.expunge_all()  # a plain snapshot, usable after the unit of work ends
        return found


# --- whole-database snapshots ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    return value


async def dump_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (ids and timestamps included), in primary-key order."""
    from storage.db import make_engine

    engine = make_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                q = select(table).order_by(*table.primary_key.columns)
                out[table.name] = [tuple(_plain(v) for v in row) for row in await conn.execute(q)]
            out["alembic_version"] = [
                tuple(r) for r in await conn.execute(text("SELECT version_num FROM alembic_version"))
            ]
    finally:
        await engine.dispose()
    return out


def dump_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The same, for synchronous tests (CLI tests); not from inside a running event loop."""
    return asyncio.run(dump_tables(url))


def make_uow_factory(url: str, **engine_kwargs: Any) -> tuple[Any, UnitOfWorkFactory]:
    """(engine, factory) for tests that need their own engine (e.g. a bigger pool)."""
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(url, **engine_kwargs)
    return engine, UnitOfWorkFactory(make_sessionmaker(engine))
