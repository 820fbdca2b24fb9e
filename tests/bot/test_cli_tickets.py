"""`zhitong tickets --json`: number, project code, category, unit code, status, created, due,
rating and reopen count of every ticket."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner

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
