"""`zhitong invite`: a single-use deep link, stored hashed, and its QR code as PNG."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from domain.clock import SystemClock
from handlers.onboarding import hash_token
from tests.factories import load_example_org, make_uow_factory


async def _load(url: str) -> None:
    engine, uow_factory = make_uow_factory(url)
    try:
        await load_example_org(uow_factory, SystemClock().now())
    finally:
        await engine.dispose()


async def _invites(url: str) -> list[tuple[str, str, int | None, int | None]]:
    from sqlalchemy import select

    from storage.models import Invite

    engine, uow_factory = make_uow_factory(url)
    try:
        async with uow_factory() as uow:
            rows = (await uow.session.execute(select(Invite))).scalars().all()
            return [(r.token_hash, r.role, r.project_id, r.unit_id) for r in rows]
    finally:
        await engine.dispose()


def test_invite_prints_link_writes_qr_and_stores_only_the_hash(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_load(sqlite_url))
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHITONG_BOT_USERNAME", "county_desk_bot")
    qr = tmp_path / "invite.png"
    result = CliRunner().invoke(main, ["invite", "--project", "P2026-003", "--qr", str(qr)])
    assert result.exit_code == 0, result.output
    link = next(line for line in result.output.splitlines() if line.startswith("https://"))
    assert link.startswith("https://t.me/county_desk_bot?start=")
    token = link.split("start=", 1)[1]
    assert len(token) >= 32
    with Image.open(qr) as img:
        assert img.format == "PNG" and img.size[0] > 100
    [(stored, role, project_id, unit_id)] = asyncio.run(_invites(sqlite_url))
    assert stored == hash_token(token) and token not in stored
    assert (role, unit_id) == ("enterprise", None) and project_id is not None


def test_official_invite_and_bad_targets(sqlite_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_load(sqlite_url))
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    ok = CliRunner().invoke(main, ["invite", "--unit", "gdgs", "--role", "official"])
    assert ok.exit_code == 0 and "县供电公司" in ok.output
    missing = CliRunner().invoke(main, ["invite", "--project", "NOPE"])
    assert missing.exit_code == 1 and "NOPE" in missing.output
    assert "Traceback" not in missing.output
    none = CliRunner().invoke(main, ["invite"])
    assert none.exit_code == 2
    assert len(asyncio.run(_invites(sqlite_url))) == 1
