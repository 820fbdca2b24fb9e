"""`zhitong stats --json` and `zhitong export` on a seeded database, on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from handlers import stats_texts as T
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory
from tests.storage.test_stats_queries import GDJ, TOTAL, ZRZY, check, seed_desk

NOW = "2026-11-24T09:00:00+08:00"


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    async def seed() -> None:
        engine = make_engine(database_url)
        await seed_desk(UnitOfWorkFactory(make_sessionmaker(engine)))
        await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)
    monkeypatch.setenv("ZHITONG_TIMEZONE", "Asia/Shanghai")
    return database_url


def test_stats_json(seeded: str) -> None:
    res = CliRunner().invoke(main, ["stats", "--json", "--from", "2026-11-01", "--to",
                                    "2026-11-30", "--now", NOW])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for key in ("submitted", "response_rate", "resolution_rate", "on_time_rate",
                "satisfaction_rate", "rated", "unrated", "reopen_rate", "overdue_open",
                "median_days", "mean_days", "by_unit"):
        assert key in d
    check(d, TOTAL)
    units = {u["unit"]: u for u in d["by_unit"]}
    check(units["zrzy"], ZRZY)
    check(units["gdj"], GDJ)
    assert units["gdj"]["name"] == "县供电公司"


def test_stats_json_for_one_unit_and_empty_period(seeded: str) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["stats", "--json", "--from", "2026-11-01", "--to", "2026-11-30",
                               "--unit", "gdj", "--now", NOW])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    check(d, GDJ)
    assert [u["unit"] for u in d["by_unit"]] == ["gdj"]
    res = runner.invoke(main, ["stats", "--json", "--from", "2020-01-01", "--to", "2020-01-31"])
    d = json.loads(res.output)
    assert d["submitted"] == 0 and d["resolution_rate"] is None and d["by_unit"] == []
    res = runner.invoke(main, ["stats", "--unit", "nope"])
    assert res.exit_code != 0 and "nope" in res.output


def test_stats_text(seeded: str) -> None:
    res = CliRunner().invoke(main, ["stats", "--from", "2026-11-01", "--to", "2026-11-30",
                                    "--now", NOW])
    assert res.exit_code == 0, res.output
    assert "受理 13 件" in res.output and "<b>" not in res.output


def test_export(seeded: str, tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    res = CliRunner().invoke(main, ["export", str(path), "--unit", "zrzy", "--status", "closed"])
    assert res.exit_code == 0, res.output
    assert "已写入 4 条" in res.output  # progress (T1, T6, T7 and the October ticket)
    wb = load_workbook(path)
    assert wb.sheetnames == [T.LEDGER_SHEET, T.SUMMARY_SHEET]
    assert wb[T.LEDGER_SHEET].max_row == 5
    phones = {r[5] for r in wb[T.LEDGER_SHEET].iter_rows(min_row=2, values_only=True)}
    assert phones == {"138****1111"}
    res = CliRunner().invoke(main, ["export", str(path), "--reveal-phones"])
    assert res.exit_code == 0, res.output
    wb = load_workbook(path)
    assert wb[T.LEDGER_SHEET].max_row == 15
    assert wb[T.LEDGER_SHEET]["F2"].value == "13812341111"
