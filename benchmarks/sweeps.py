"""Benchmark (not a test): the scheduler's sweeps over 10k / 100k (/ 1M with --million) open tickets.

For each size a fresh database (SQLite file, PostgreSQL scratch database) is migrated and seeded
with bulk inserts (executemany on SQLite, COPY on PostgreSQL): 30 units with 3 officials each,
20 leaders, 3 admins, 500 projects, N open tickets (15 % submitted; due dates spread over the
last 10 and next 15 working days, about 10 % overdue; 3 % urgent), plus N/10 resolved tickets
waiting for a rating and 3N/10 closed ones. Each ticket's `sweep_at` is seeded as the scheduler
leaves it (its next step as of a minute before the first sweep), so the first scenario is a
steady-state sweep.

Scenarios, each timed with the number of SQL statements (a before_cursor_execute listener) and the
outbox rows it added:

  steady      Wed 25 Nov 2026 10:00: what a sweep costs most of the day (the target: < 1 s)
  again       the same instant once more: nothing is due any more
  evening     Wed 18:00: the "due tomorrow" and "due now" reminders of the day
  morning     Thu 09:00: the daily 督办 of every overdue ticket, and escalations
  bulletin    Mon 30 Nov 08:30: the weekly bulletin (aggregates over all tickets)
  ranking     Tue 1 Dec 08:30: the monthly ranking (DESIGN §9 statistics of November)
  cold        every ticket marked "plan afresh" (as after an upgrade), swept Thu 09:05

    .venv/bin/python benchmarks/sweeps.py                     # 10k and 100k, both backends
    .venv/bin/python benchmarks/sweeps.py --million           # and 1M
    .venv/bin/python benchmarks/sweeps.py --backends postgres --sizes 100000

PostgreSQL: ZHITONG_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) must
allow CREATE DATABASE; a scratch database is created and dropped per size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, func, select, update

from domain.calendar import (
    add_working_days,
    at_local,
    due_after_working_days,
    subtract_working_days,
)
from handlers.config import DeskConfig
from scheduler.jobs import TicketFacts, plan_ticket
from scheduler.sweeps import sweep_bulletin, sweep_ranking, sweep_tickets
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import SWEEP_NOW, Ticket
from storage.uow import UnitOfWorkFactory

TZ = ZoneInfo("Asia/Shanghai")
CONFIG = DeskConfig(timezone=TZ)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # a Wednesday
UNITS = 30
OFFICIALS_PER_UNIT = 3
LEADERS = 20
ADMINS = 3
PROJECTS = 500
CHUNK = 50_000
CATEGORY_DAYS = {"land": 15, "demolition": 15, "approval": 7, "finance": 10, "utilities": 7,
                 "policy": 5, "labor": 7, "site": 3, "logistics": 7, "environment": 7,
                 "other": 7}
CATEGORIES = tuple(CATEGORY_DAYS)

TICKET_COLUMNS = (
    "id", "number", "project_id", "reporter_id", "filed_by_id", "text", "attachments",
    "category_code", "urgent", "tags", "unit_id", "co_unit_ids", "status", "created_at",
    "accept_due_at", "due_at", "accepted_at", "resolved_at", "closed_at", "result",
    "result_attachments", "rating", "rating_asks", "reopen_count", "first_due_at", "sweep_at",
)


# --- synthetic organisation and tickets -----------------------------------------------------------


def org_rows() -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    units = [(u, f"u{u:02d}", f"单位{u:02d}", "dispatcher" if u == 1 else "department")
             for u in range(1, UNITS + 1)]
    accounts: list[tuple[Any, ...]] = []
    aid = 0

    def person(name: str, roles: list[str], unit: int | None) -> int:
        nonlocal aid
        aid += 1
        accounts.append((aid, f"p{aid}", 10_000_000 + aid, name, json.dumps(roles), unit, True,
                         created))
        return aid

    for u in range(1, UNITS + 1):
        for k in range(OFFICIALS_PER_UNIT):
            person(f"官员{u}-{k}", ["official"], u)
    admins = [person(f"管理员{i}", ["admin", "official"], 1) for i in range(ADMINS)]
    leaders = [person(f"领导{i}", ["leader"], None) for i in range(LEADERS)]
    contacts = [person(f"企业{p}", ["enterprise"], None) for p in range(1, PROJECTS + 1)]
    assert admins
    categories = [(i + 1, code, code, 2 + i % (UNITS - 1), days, "[]", i)
                  for i, (code, days) in enumerate(CATEGORY_DAYS.items())]
    projects = [(p, f"P{p:04d}", f"项目{p:04d}", 2 + p % (UNITS - 1), leaders[p % LEADERS], "{}")
                for p in range(1, PROJECTS + 1)]
    project_contacts = [(p, contacts[p - 1]) for p in range(1, PROJECTS + 1)]
    return {
        "units": (["id", "code", "name", "kind"], units),
        "accounts": (["id", "person_key", "telegram_id", "name", "roles", "unit_id", "active",
                      "created_at"], accounts),
        "categories": (["id", "code", "name", "unit_id", "days", "keywords", "position"],
                       categories),
        "projects": (["id", "code", "name", "lead_unit_id", "leader_id", "routing"], projects),
        "project_contacts": (["project_id", "account_id"], project_contacts),
    }


def _sweep_at(status: str, urgent: bool, accept_due: datetime, due: datetime,
              resolved: datetime | None, asks: int) -> datetime | None:
    """Where the scheduler leaves the ticket after its sweep a minute before T0."""
    facts = TicketFacts(0, status, urgent, accept_due, due, resolved, asks, SWEEP_NOW)
    return plan_ticket(facts, T0 - timedelta(minutes=1), CONFIG).next_at


def ticket_rows(start: int, stop: int, open_n: int) -> Iterator[tuple[Any, ...]]:
    """Ids in [start, stop): the first `open_n` open, then resolved (n/10), then closed."""
    rnd = random.Random(start * 7919 + 17)
    today = T0.date()
    first_contact = 1 + UNITS * OFFICIALS_PER_UNIT + ADMINS + LEADERS
    for i in range(start, stop):
        project = 1 + rnd.randrange(PROJECTS)
        category = CATEGORIES[rnd.randrange(len(CATEGORIES))]
        days = CATEGORY_DAYS[category]
        unit = 2 + rnd.randrange(UNITS - 1)
        urgent = rnd.random() < 0.03
        # 10 % overdue (due 1..10 working days ago), the rest due today .. in 15 working days.
        if rnd.random() < 0.10:
            due_day = subtract_working_days(today, 1 + rnd.randrange(10))
        else:
            due_day = add_working_days(today, rnd.randrange(16))
        due = at_local(due_day, datetime.min.time().replace(hour=18), TZ)
        created = at_local(subtract_working_days(due_day, days), datetime.min.time().replace(
            hour=8 + rnd.randrange(10), minute=rnd.randrange(60)), TZ)
        if urgent:
            due = due_after_working_days(created, 1, TZ)
        accept_due = created + timedelta(hours=2) if urgent else due_after_working_days(
            created, 1, TZ)
        accepted = resolved = closed = rating = result = None
        asks = 0
        if i < open_n:
            status = "submitted" if rnd.random() < 0.15 else "in_progress"
        elif i < open_n + open_n // 10:
            status = "resolved"
            resolved = T0 - timedelta(minutes=rnd.randrange(7 * 24 * 60))
            created = min(created, resolved - timedelta(days=1))
            asks = 2 if resolved < T0 - timedelta(days=3) else 1
            result = "已办结"
        else:
            status = "closed"
            resolved = T0 - timedelta(days=1 + rnd.randrange(60))
            created = min(created, resolved - timedelta(days=1))
            closed, rating, result = resolved + timedelta(hours=5), "satisfied", "已办结"
        if status != "submitted":
            accepted = created + timedelta(hours=1)
        sweep_at = (None if status == "closed"
                    else _sweep_at(status, urgent, accept_due, due, resolved, asks))
        contact = first_contact + project - 1
        yield (
            i + 1, f"B{i:010d}", project, contact, contact, "基准测试:项目推进中遇到的问题", "[]",
            category, urgent, "[]", unit, "[]", status, created, accept_due, due, accepted,
            resolved, closed, result, "[]", rating, asks, 0, due, sweep_at,
        )


# --- seeding ---------------------------------------------------------------------------------------


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def seed_sqlite(path: Path, total: int, open_n: int) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    for table, (cols, rows) in org_rows().items():
        con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                        f"({', '.join('?' * len(cols))})",
                        [tuple(_sqlite_value(v) for v in r) for r in rows])
    sql = (f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))})")
    for lo in range(0, total, CHUNK):
        con.executemany(sql, [tuple(_sqlite_value(v) for v in r)
                              for r in ticket_rows(lo, min(total, lo + CHUNK), open_n)])
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


async def seed_postgres(url: str, total: int, open_n: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for table, (cols, rows) in org_rows().items():
            await conn.copy_records_to_table(table, records=rows, columns=cols)
        for lo in range(0, total, CHUNK):
            await conn.copy_records_to_table(
                "tickets", records=list(ticket_rows(lo, min(total, lo + CHUNK), open_n)),
                columns=list(TICKET_COLUMNS))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --- measuring -------------------------------------------------------------------------------------


@dataclass
class Measure:
    scenario: str
    seconds: float
    queries: int
    enqueued: int
    visited: int


async def measure(url: str) -> list[Measure]:
    engine = make_engine(url)
    counter = {"n": 0}

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        counter["n"] += 1

    factory = UnitOfWorkFactory(make_sessionmaker(engine))
    out: list[Measure] = []

    async def due_count(at: datetime) -> int:
        async with factory() as uow:
            return int((await uow.session.execute(
                select(func.count(Ticket.id)).where(Ticket.sweep_at <= at))).scalar_one())

    async def run(name: str, at: datetime,
                  sweep: Callable[..., Awaitable[list[str]]] = sweep_tickets) -> None:
        visited = await due_count(at) if sweep is sweep_tickets else 0
        counter["n"] = 0
        t0 = time.perf_counter()
        keys = await sweep(factory, at, CONFIG)
        seconds = time.perf_counter() - t0
        out.append(Measure(name, seconds, counter["n"], len(keys), visited))

    try:
        async with factory() as uow:  # warm the pool and the calendar caches
            await uow.session.execute(select(func.count(Ticket.id)))
        await run("steady", T0)
        await run("again", T0)
        await run("evening", at_local(T0.date(), T0.time().replace(hour=18), TZ))
        await run("morning", at_local(date(2026, 11, 26), T0.time().replace(hour=9), TZ))
        await run("bulletin", datetime(2026, 11, 30, 8, 30, tzinfo=TZ), sweep_bulletin)
        await run("ranking", datetime(2026, 12, 1, 8, 30, tzinfo=TZ), sweep_ranking)
        async with factory() as uow:
            await uow.session.execute(update(Ticket).where(Ticket.sweep_at.is_not(None))
                                      .values(sweep_at=SWEEP_NOW))
            await uow.commit()
        await run("cold", datetime(2026, 11, 26, 9, 5, tzinfo=TZ))
    finally:
        await engine.dispose()
    return out


# --- driving ---------------------------------------------------------------------------------------


def run_size(backend: str, open_n: int, pg_admin: str) -> tuple[float, list[Measure]]:
    total = open_n + open_n // 10 + 3 * open_n // 10
    tmp = tempfile.TemporaryDirectory()
    drop: Callable[[], Coroutine[Any, Any, None]] | None = None
    if backend == "sqlite":
        path = Path(tmp.name) / "bench.db"
        url = f"sqlite:///{path}"
    else:
        import asyncpg

        name = f"zt_sweep_bench_{uuid.uuid4().hex[:10]}"
        url = f"{pg_admin.rsplit('/', 1)[0]}/{name}"

        async def create() -> None:
            conn = await asyncpg.connect(pg_admin)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        async def drop_db() -> None:
            conn = await asyncpg.connect(pg_admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()

        asyncio.run(create())
        drop = drop_db
    try:
        upgrade(url)
        t0 = time.perf_counter()
        if backend == "sqlite":
            seed_sqlite(path, total, open_n)
        else:
            asyncio.run(seed_postgres(url, total, open_n))
        seeded = time.perf_counter() - t0
        return seeded, asyncio.run(measure(url))
    finally:
        if drop is not None:
            asyncio.run(drop())
        tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--million", action="store_true", help="also 1,000,000 open tickets")
    ap.add_argument("--sizes", default="10000,100000", help="open tickets per run, comma separated")
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--json", dest="json_out", default=None, help="write results to this file")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    pg_admin = os.environ.get("ZHITONG_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
    results: list[dict[str, Any]] = []
    for backend in args.backends.split(","):
        base: dict[str, float] = {}
        for n in sizes:
            seeded, measures = run_size(backend, n, pg_admin)
            print(f"\n{backend}: {n:,} open tickets (+{n // 10:,} resolved, +{3 * n // 10:,} "
                  f"closed), seeded in {seeded:.1f} s", flush=True)
            print(f"  {'scenario':<9} {'time':>10} {'queries':>8} {'enqueued':>9} "
                  f"{'tickets':>8} {'growth':>7}")
            for m in measures:
                key = m.scenario
                growth = ""
                if key in base and base[key] > 0:
                    growth = f"×{m.seconds / base[key]:.1f}"
                if n == sizes[0]:
                    base[key] = m.seconds
                print(f"  {m.scenario:<9} {m.seconds * 1000:8.1f}ms {m.queries:>8} "
                      f"{m.enqueued:>9,} {m.visited:>8,} {growth:>7}", flush=True)
                results.append({"backend": backend, "open": n, "scenario": m.scenario,
                                "ms": round(m.seconds * 1000, 1), "queries": m.queries,
                                "enqueued": m.enqueued, "tickets_visited": m.visited})
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
