"""`zhitong sweep --now ISO-TIME` as an operator runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli_sweep import HEADER, parse_now
from domain.calendar import is_working_day, quiet_hours_end
from handlers.config import DeskConfig
from tests.factories import load_example_org, make_uow_factory, submit
from tests.scheduler.conftest import TZ, bj, outbox_rows


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["sweep", *args])


@pytest.fixture
def ticket_number(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The example organisation (loaded in September: the projects' first-report grace period
    is over) and one `site` ticket reported Tue 24 Nov 2026 09:00."""
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)

    async def setup() -> str:
        engine, factory = make_uow_factory(database_url)
        try:
            await load_example_org(factory, bj(2026, 9, 1, 9))
            t = await submit(factory, bj(2026, 11, 24, 9), DeskConfig(), category="site")
            return t.number
        finally:
            await engine.dispose()

    return asyncio.run(setup())


def test_sweep_prints_what_it_enqueued_and_nothing_twice(ticket_number: str) -> None:
    # Naive input is read in the configured zone: Thursday 18:00 Beijing, 1 working day before due.
    first = invoke("--now", "2026-11-26T18:00")
    assert first.exit_code == 0, first.output
    # Besides the ticket's reminders, the first sweep sends the 提醒函 of projects that never
    # reported (they turn red or black; handlers/progress_sweeps.py), once per change, and the
    # monthly reporting reminders.
    counts = dict(line.split(": ") for line in first.output.splitlines()[1:]
                  if not line.startswith(" ") and ": " in line)
    letters = int(counts["colour"]) + int(counts["progress-remind"])
    assert int(counts["colour"]) > 0
    assert first.output.splitlines()[0] == HEADER.format(now="2026-11-26T18:00:00+08:00",
                                                         total=3 + letters)
    assert "accept: 2" in first.output and "before: 1" in first.output
    assert ":before:2026-11-27:" in first.output

    again = invoke("--now", "2026-11-26T18:00:00+08:00")
    assert again.exit_code == 0
    assert again.output.splitlines()[0] == HEADER.format(now="2026-11-26T18:00:00+08:00", total=0)

    later = invoke("--now", "2026-11-30T01:00:00Z", "--json")  # Mon 09:00 Beijing
    assert later.exit_code == 0, later.output
    data = json.loads(later.output)
    assert len(data["enqueued"]["overdue"]) == 1 and len(data["enqueued"]["bulletin"]) == 3


def _plain_future_week() -> datetime:
    """A Tuesday 09:00 (Beijing) at least three weeks ahead of the wall clock whose week has no
    holiday or make-up day, so its deadlines fall as in an ordinary week."""
    day = (datetime.now(TZ) + timedelta(days=21)).date()
    while True:
        day += timedelta(days=(1 - day.weekday()) % 7 or 7)
        week = [day + timedelta(days=k) for k in range(-1, 7)]
        if all(is_working_day(d) == (d.weekday() < 5) for d in week):
            return datetime.combine(day, time(9), TZ)


@pytest.fixture
def future_ticket(database_url: str, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The example organisation and one `site` ticket reported in a future ordinary week;
    returns its deadline."""
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)
    reported = _plain_future_week()

    async def setup() -> datetime:
        engine, factory = make_uow_factory(database_url)
        try:
            await load_example_org(factory, reported)
            t = await submit(factory, reported, DeskConfig(), category="site")
            assert t.due_at is not None
            return t.due_at
        finally:
            await engine.dispose()

    return asyncio.run(setup())


def test_future_sweeps_are_released_now(future_ticket: datetime, database_url: str) -> None:
    due = future_ticket.astimezone(TZ)
    assert due > datetime.now(UTC)  # the simulated times below are later than the wall clock
    night = datetime.combine(due.date() + timedelta(days=3), time(23), TZ)  # 督办 owed at night
    before = datetime.now(UTC)
    out = invoke("--now", due.isoformat(), "--json")
    late = invoke("--now", night.isoformat(), "--json")
    after = datetime.now(UTC)
    assert out.exit_code == 0 and late.exit_code == 0, out.output + late.output
    keys = json.loads(out.output)["enqueued"]["due"] + json.loads(late.output)["enqueued"][
        "overdue"]
    assert len(keys) == 2

    async def rows() -> list[datetime]:
        engine, factory = make_uow_factory(database_url)
        try:
            return [r.not_before for r in (await outbox_rows(factory, keys)).values()]
        finally:
            await engine.dispose()

    config = DeskConfig()
    quiet_ends = {quiet_hours_end(t, config.quiet_start, config.quiet_end, TZ)
                  for t in (before, after)} - {None}
    for t in asyncio.run(rows()):  # now, or when the real night ends
        assert before <= t <= after or t in quiet_ends


def test_bad_time_is_refused_without_a_traceback(ticket_number: str) -> None:
    res = invoke("--now", "next tuesday")
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_parse_now() -> None:
    assert parse_now("2026-11-26T18:00", TZ) == bj(2026, 11, 26, 18)
    assert parse_now("2026-11-26T10:00Z", TZ) == bj(2026, 11, 26, 18)
    assert parse_now(None, TZ).tzinfo is not None
