"""`zhitong tickets --json`: number, project code, category, unit code, status, created, due,
rating and reopen count of every ticket."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot import texts
from bot.cli import main
from domain.clock import FrozenClock
from domain.lifecycle import Rating
from handlers.config import DeskConfig
from handlers.tickets import check_accept, check_rate, check_resolve
from tests.factories import act, load_example_org, make_uow_factory, submit

FIELDS = {"number", "project", "category", "unit", "status", "created", "due", "rating",
          "reopen_count"}


async def _story(url: str, clock: FrozenClock, config: DeskConfig) -> None:
    engine, uow_factory = make_uow_factory(url)
    try:
        await load_example_org(uow_factory, clock.now())
        first = await submit(uow_factory, clock.now(), config)
        await submit(uow_factory, clock.now(), config, by="yang", project_code="P2026-002",
                     category="site", text="有人阻工")
        now = clock.now()
        await act(uow_factory, "qian", now, config, lambda ctx: check_accept(ctx, first.id))
        await act(uow_factory, "qian", now, config,
                  lambda ctx: check_resolve(ctx, first.id, "已解决"))
        await act(uow_factory, "han", now, config,
                  lambda ctx: check_rate(ctx, first.id, Rating.UNSATISFIED, "没解决"))
        await act(uow_factory, "qian", now, config,
                  lambda ctx: check_resolve(ctx, first.id, "这次解决了"))
        await act(uow_factory, "han", now, config,
                  lambda ctx: check_rate(ctx, first.id, Rating.BASICALLY))
    finally:
        await engine.dispose()


def test_tickets_json_fields(database_url: str, clock: FrozenClock, config: DeskConfig,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_story(database_url, clock, config))
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["tickets", "--json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert len(rows) == 2
    for row in rows:
        assert set(row) >= FIELDS, FIELDS - set(row)
    by_number = {r["number"]: r for r in rows}
    first, second = by_number["20261124-001"], by_number["20261124-002"]
    assert (first["project"], first["category"], first["unit"], first["status"]) == (
        "P2026-001", "land", "zrzyj", "closed")
    assert (first["rating"], first["reopen_count"]) == ("basically", 1)
    # The project's own routing sends 施工环境 of P2026-002 to 城关镇, not to the police.
    assert (second["project"], second["category"], second["unit"], second["status"]) == (
        "P2026-002", "site", "cgz", "submitted")
    assert (second["rating"], second["reopen_count"]) == (None, 0)
    created = datetime.fromisoformat(second["created"])
    due = datetime.fromisoformat(second["due"])
    assert created.utcoffset() is not None and created == clock.now()
    assert created.isoformat().endswith("+08:00")  # shown in the configured zone
    assert due > created


def test_tickets_json_empty(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["tickets", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_tickets_on_a_database_not_yet_created_says_to_run_db_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As `zhitong org load` says. It used to be an OperationalError traceback ("no such
    table: units"), with an empty zhitong.db left behind."""
    db = tmp_path / "zhitong.db"
    monkeypatch.setenv("ZHITONG_DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(main, ["tickets"])
    assert result.exit_code == 1, (result.exit_code, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == texts.DB_NOT_READY
    assert not db.exists()


@pytest.mark.parametrize("command", [
    ["tickets", "--json"],
    ["projects", "--json"],
    ["sweep", "--now", "2026-11-24T09:00+08:00"],
    ["invite", "--project", "P2026-001", "--bot-username", "county_desk_bot"],
    ["org", "show"],
    ["run"],
    ["stats", "--json"],
    ["export", "ledger.xlsx"],
    ["dashboard", "--issue-login"],
])
def test_commands_on_a_database_not_yet_created_say_to_run_db_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    db = tmp_path / "zhitong.db"
    monkeypatch.setenv("ZHITONG_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("ZHITONG_BOT_TOKEN", "123456:ABC")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, (result.exit_code, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == texts.DB_NOT_READY, result.output
    assert not db.exists()


def test_tickets_on_a_database_that_cannot_be_opened_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A folder that is not there is a wrong path, not a step left out: no "db upgrade" advice.
    monkeypatch.setenv("ZHITONG_DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'zhitong.db'}")
    result = CliRunner().invoke(main, ["tickets"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(texts.QUERY_FAILED.format(error="OperationalError"))
    assert "db upgrade" not in result.output and "Traceback" not in result.output
