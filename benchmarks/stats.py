"""Benchmark (not a test): statistics over 10k / 100k (/ 1M with --million) tickets.

For each size, a fresh database gets tickets created in id order evenly over 24 months (as a desk
creates them), with bulk inserts (COPY on PostgreSQL, executemany on SQLite); then the one-month,
all-units statistics query (`storage.stats_queries.query_stats`: the aggregate by unit plus the
resolution durations) is timed. Target: under 1 s on PostgreSQL at 1M tickets.

    .venv/bin/python benchmarks/stats.py                 # 10k and 100k
    .venv/bin/python benchmarks/stats.py --million       # and 1M
    .venv/bin/python benchmarks/stats.py --backends postgres --million

PostgreSQL: ZHITONG_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) must
allow CREATE DATABASE; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.stats import Period
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.stats_queries import query_stats, weekly_trend

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SPAN_DAYS = 730
MONTH = Period(date(2026, 10, 1), date(2026, 10, 31))
UNITS = 20
PROJECTS = 200
CHUNK = 50_000
RUNS = 5

COLUMNS = (
    "id", "number", "project_id", "reporter_id", "filed_by_id", "text", "attachments",
    "category_code", "urgent", "tags", "unit_id", "co_unit_ids", "status", "created_at",
    "accept_due_at", "due_at", "accepted_at", "resolved_at", "closed_at", "result",
    "result_attachments", "rating", "rated_at", "rating_asks", "reopen_count",
    "first_resolved_at", "first_due_at",
)
CATEGORIES = ("land", "demolition", "approval", "finance", "utilities", "policy", "labor",
              "site", "logistics", "environment", "other")


def ticket_rows(start: int, stop: int, total: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """Deterministic synthetic tickets with ids in [start, stop) of `total`, created in id order
    (as a desk creates them) evenly over the span."""
    rnd = random.Random(seed * 1_000_003 + start)
    first = NOW - timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / total
    for i in range(start, stop):
        created = first + timedelta(seconds=(i + rnd.random()) * step)
        accept_due = created + timedelta(days=1, hours=rnd.randrange(0, 48))
        due = created + timedelta(days=rnd.choice((5, 7, 10, 15)))
        r = rnd.random()
        status = ("submitted" if r < 0.08 else "in_progress" if r < 0.25
                  else "resolved" if r < 0.40 else "closed")
        if created > NOW - timedelta(days=2):
            status = "submitted"
        accepted = resolved = closed = first_resolved = rated = None
        rating = None
        reopen = 0
        if status != "submitted":
            accepted = created + timedelta(hours=rnd.uniform(0.5, 40))
        if status in ("resolved", "closed") or (status == "in_progress" and rnd.random() < 0.2):
            first_resolved = (accepted or created) + timedelta(hours=rnd.uniform(2, 400))
            if first_resolved > NOW:
                first_resolved = NOW - timedelta(minutes=1)
        if status == "in_progress" and first_resolved is not None:
            reopen = 1
            rating, rated = "unsatisfied", first_resolved + timedelta(hours=3)
        if status in ("resolved", "closed"):
            resolved = first_resolved
        if status == "closed":
            closed = (first_resolved or created) + timedelta(hours=5)
            if rnd.random() < 0.8:
                rating = rnd.choice(("satisfied", "satisfied", "satisfied", "basically"))
                rated = closed
        yield (
            i, f"B{i:010d}", 1 + i % PROJECTS, 1, 1, "基准测试问题", "[]",
            CATEGORIES[i % len(CATEGORIES)], False, "[]", 1 + rnd.randrange(UNITS), "[]", status,
            created, accept_due, due, accepted, resolved, closed, None, "[]", rating, rated, 0,
            reopen, first_resolved, due,
        )


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _org_rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    units = [(u, f"u{u:02d}", f"单位{u:02d}", "department") for u in range(1, UNITS + 1)]
    projects = [(p, f"P{p:03d}", f"项目{p:03d}", 1 + p % UNITS) for p in range(1, PROJECTS + 1)]
    return units, projects


# --- seeding ------------------------------------------------------------------------------------


def seed_sqlite(path: Path, start: int, stop: int) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    if start == 0:
        units, projects = _org_rows()
        con.executemany("INSERT INTO units (id, code, name, kind) VALUES (?, ?, ?, ?)", units)
        con.execute("INSERT INTO accounts (id, name, roles, active, created_at) "
                    "VALUES (1, '企业', '[]', 1, '2024-01-01 00:00:00.000000')")
        con.executemany("INSERT INTO projects (id, code, name, lead_unit_id, routing) "
                        "VALUES (?, ?, ?, ?, '{}')", projects)
    sql = f"INSERT INTO tickets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for lo in range(start, stop, CHUNK):
        rows = [tuple(_sqlite_value(v) for v in r) for r in ticket_rows(lo, min(stop, lo + CHUNK), stop)]
        con.executemany(sql, rows)
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


async def seed_postgres(url: str, start: int, stop: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if start == 0:
            units, projects = _org_rows()
            await conn.copy_records_to_table("units", records=units,
                                             columns=["id", "code", "name", "kind"])
            await conn.execute("INSERT INTO accounts (id, name, roles, active, created_at) "
                               "VALUES (1, '企业', '[]', true, now())")
            await conn.copy_records_to_table(
                "projects", records=[(*p, "{}") for p in projects],
                columns=["id", "code", "name", "lead_unit_id", "routing"])
        for lo in range(start, stop, CHUNK):
            await conn.copy_records_to_table(
                "tickets", records=list(ticket_rows(lo, min(stop, lo + CHUNK), stop)),
                columns=list(COLUMNS))
        await conn.execute("VACUUM ANALYZE tickets")
    finally:
        await conn.close()


# --- timing -------------------------------------------------------------------------------------


async def time_query(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    timings: list[float] = []
    trend_timings: list[float] = []
    month_rows = 0
    try:
        for _ in range(RUNS + 1):  # the first run warms caches and is not counted
            async with factory() as session:
                t0 = time.perf_counter()
                report = await query_stats(session, now=NOW, tz=TZ, period=MONTH)
                t1 = time.perf_counter()
                await weekly_trend(session, now=NOW, tz=TZ, weeks=8)
                t2 = time.perf_counter()
            timings.append(t1 - t0)
            trend_timings.append(t2 - t1)
            month_rows = report.totals.submitted
    finally:
        await engine.dispose()
    return {
        "month_tickets": month_rows,
        "query_ms": statistics.median(timings[1:]) * 1000,
        "query_min_ms": min(timings[1:]) * 1000,
        "trend_ms": statistics.median(trend_timings[1:]) * 1000,
    }


def run_backend(backend: str, sizes: list[int], pg_admin: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for size in sizes:
        res = run_size(backend, size, pg_admin)
        prev = results[-1] if results else None
        res["growth"] = res["query_ms"] / prev["query_ms"] if prev else None
        results.append(res)
        print(_line(res), flush=True)
    return results


def run_size(backend: str, size: int, pg_admin: str) -> dict[str, Any]:
    import asyncpg

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        name = f"zt_bench_{uuid.uuid4().hex[:10]}"
        url = f"sqlite:///{path}" if backend == "sqlite" else f"{pg_admin.rsplit('/', 1)[0]}/{name}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(pg_admin)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        if backend == "postgres":
            asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        try:
            upgrade(url)
            t0 = time.perf_counter()
            if backend == "sqlite":
                seed_sqlite(path, 0, size)
            else:
                asyncio.run(seed_postgres(url, 0, size))
            seed_s = time.perf_counter() - t0
            res = asyncio.run(time_query(url))
        finally:
            if backend == "postgres":
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    res.update({"backend": backend, "tickets": size, "seed_s": seed_s})
    return res


def _line(r: dict[str, Any]) -> str:
    growth = f"×{r['growth']:.2f}" if r["growth"] else "—"
    return (f"{r['backend']:<9} {r['tickets']:>9,} tickets  month={r['month_tickets']:>7,}  "
            f"stats {r['query_ms']:8.1f} ms (min {r['query_min_ms']:7.1f})  growth {growth:>6}  "
            f"trend {r['trend_ms']:7.1f} ms  seeded in {r['seed_s']:6.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--million", action="store_true", help="also 1,000,000 tickets")
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--json", dest="json_out", default=None, help="write results to this file")
    args = ap.parse_args()
    sizes = [10_000, 100_000] + ([1_000_000] if args.million else [])
    pg_admin = os.environ.get("ZHITONG_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
    print(f"one-month ({MONTH.label()}), all-units statistics; tickets spread over "
          f"{SPAN_DAYS} days; median of {RUNS} runs")
    all_results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        try:
            all_results += run_backend(backend, sizes, pg_admin)
        except OSError as exc:  # e.g. no PostgreSQL server here
            print(f"{backend}: skipped ({exc})")
    for r in all_results:
        if r["backend"] == "postgres" and r["tickets"] == 1_000_000:
            verdict = "OK" if r["query_ms"] < 1000 else "OVER TARGET"
            print(f"target < 1000 ms on PostgreSQL at 1M: {r['query_ms']:.0f} ms — {verdict}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(all_results, indent=1))


if __name__ == "__main__":
    main()
