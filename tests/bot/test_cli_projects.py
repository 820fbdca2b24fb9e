"""`zhitong projects --json` as an operator runs it, and the photo download for exports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli_projects import download_photos
from bot.settings import Settings
from handlers.progress_sweeps import sweep_project_colours
from storage.models import ProgressReport
from tests.factories import account, load_example_org, make_uow_factory, project, submit

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
AT = "2026-11-24T09:00:00+08:00"
# The organisation was loaded in September: the first-report grace period is over.
LOADED = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
Invoke = Callable[..., Result]


def run_async(url: str, step: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        engine, factory = make_uow_factory(url)
        try:
            return await step(factory)
        finally:
            await engine.dispose()

    return asyncio.run(go())


async def _report(factory: Any, code: str = "P2026-001", amount: float | None = 2300,
                  photos: list[str] | None = None, period: str = "2026-11") -> None:
    async with factory() as uow:
        p = await project(uow, code)
        who = await account(uow, "han")
        uow.progress.add(ProgressReport(
            project_id=p.id, reporter_id=who.id, text="本月完成投资2300万元,主体结构已封顶",
            amount_wan=amount, milestone="topped_out", period=period, photos=photos or [],
            created_at=NOW))
        await uow.commit()


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("ZHITONG_DATABASE_URL", database_url)
    run_async(database_url, lambda f: load_example_org(f, LOADED))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    return invoke


def rows(result: Result) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {r["code"]: r for r in json.loads(result.stdout)}


def test_json_has_the_contract_fields(run: Invoke, database_url: str) -> None:
    run_async(database_url, _report)
    run_async(database_url, lambda f: submit(f, NOW, project_code="P2026-001"))
    out = rows(run("projects", "--json", "--now", AT))
    assert set(out) == {"P2026-001", "P2026-002", "P2026-003"}
    p1 = out["P2026-001"]
    for field in ("code", "name", "colour", "annual_plan_wan", "completed_wan",
                  "completion_rate", "last_report_at", "open_tickets"):
        assert field in p1
    assert p1["name"] == "豫东智能家居产业园"
    assert p1["annual_plan_wan"] == 120000
    assert p1["completed_wan"] == 2300
    assert p1["completion_rate"] == pytest.approx(2300 / 120000, abs=1e-6)
    assert p1["last_report_at"] == "2026-11-24T09:00:00+08:00"
    assert p1["open_tickets"] == 1
    assert p1["colour"] in {"green", "yellow", "red", "black"}
    for code in ("P2026-002", "P2026-003"):  # never reported: never green
        assert out[code]["colour"] != "green"
        assert out[code]["last_report_at"] is None
        assert out[code]["completed_wan"] == 0 and out[code]["open_tickets"] == 0


def test_green_project_and_stored_colour(run: Invoke, database_url: str) -> None:
    run_async(database_url, lambda f: _report(f, amount=110000))
    out = rows(run("projects", "--json", "--now", AT))
    assert out["P2026-001"]["colour"] == "green"
    assert out["P2026-001"]["colour_changed_at"] is None  # live: no sweep yet
    run_async(database_url, lambda f: sweep_project_colours(f, NOW, Settings().desk_config()))
    out = rows(run("projects", "--json", "--now", AT))
    assert out["P2026-001"]["colour"] == "green"
    assert out["P2026-001"]["colour_changed_at"] == "2026-11-24T09:00:00+08:00"
    assert out["P2026-002"]["colour"] == "black"


def test_text_output_and_bad_time(run: Invoke) -> None:
    result = run("projects", "--now", AT)
    assert result.exit_code == 0, result.output
    assert "P2026-001" in result.stdout and "豫东智能家居产业园" in result.stdout
    bad = run("projects", "--now", "yesterday")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_photos_download_once_into_the_data_directory(run: Invoke, database_url: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run_async(database_url, lambda f: _report(f, photos=["f-1", "f-2"]))
    run_async(database_url, lambda f: _report(f, code="P2026-002", photos=["x-1"],
                                              period="2026-10"))
    fetched: list[str] = []

    async def fetch(file_id: str, target: Path) -> None:
        if file_id == "x-1":
            raise OSError("file is too big")
        fetched.append(file_id)
        await asyncio.to_thread(target.write_bytes, b"jpeg " + file_id.encode())

    settings = Settings()
    dest = tmp_path / "export"
    result = asyncio.run(download_photos(settings, dest, None, None, fetch))
    assert result == (2, 0, 1)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.jpg"))
    assert files == ["photos/P2026-001/2026-11/1-1.jpg", "photos/P2026-001/2026-11/1-2.jpg"]
    assert not list(dest.rglob("*.part"))
    again = asyncio.run(download_photos(settings, dest, ["P2026-001"], "2026-11", fetch))
    assert again == (0, 2, 0) and fetched == ["f-1", "f-2"]


async def test_bot_fetcher_downloads_through_the_bot_api(tmp_path: Path) -> None:
    from bot.cli_projects import BotFetcher
    from bot.emulator import BotApiEmulator

    async with BotApiEmulator(token="123456:TEST") as emu:
        emu.add_user(800001, "韩经理")
        emu.send_photo(800001, caption="现场", image_bytes=b"\x89PNG site photo bytes")
        [update] = emu.pending_updates()
        file_id = update["message"]["photo"][-1]["file_id"]
        fetcher = BotFetcher("123456:TEST", emu.api_url)
        try:
            await fetcher(file_id, tmp_path / "a.jpg")
        finally:
            await fetcher.close()
        assert (tmp_path / "a.jpg").read_bytes() == emu.file_bytes(file_id)
