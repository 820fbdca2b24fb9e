"""`zhitong invite`: a single-use deep link, stored hashed, and its QR code as PNG."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from bot import texts
from bot.cli import main
from bot.emulator import BotApiEmulator
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
    monkeypatch.setenv("ZHITONG_BOT_USERNAME", "county_desk_bot")
    ok = CliRunner().invoke(main, ["invite", "--unit", "gdgs", "--role", "official"])
    assert ok.exit_code == 0 and "县供电公司" in ok.output
    missing = CliRunner().invoke(main, ["invite", "--project", "NOPE"])
    assert missing.exit_code == 1 and "NOPE" in missing.output
    assert "Traceback" not in missing.output
    none = CliRunner().invoke(main, ["invite"])
    assert none.exit_code == 2
    assert len(asyncio.run(_invites(sqlite_url))) == 1


def test_invite_link_names_the_bot_from_getme_when_no_username_is_configured(
        sqlite_url: str, emulator_in_thread: BotApiEmulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """README: ZHITONG_BOT_USERNAME defaults to "from getMe". It used to default to a
    placeholder (https://t.me/zhitong_bot?start=…): somebody else's bot."""
    asyncio.run(_load(sqlite_url))
    monkeypatch.delenv("ZHITONG_BOT_USERNAME", raising=False)
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHITONG_BOT_TOKEN", emulator_in_thread.token)
    monkeypatch.setenv("ZHITONG_TELEGRAM_API", emulator_in_thread.base_url)
    result = CliRunner().invoke(main, ["invite", "--project", "P2026-001"])
    assert result.exit_code == 0, result.output
    link = next(line for line in result.output.splitlines() if line.startswith("https://"))
    assert link.startswith(f"https://t.me/{emulator_in_thread.username}?start="), link
    assert [r.method for r in emulator_in_thread.requests] == ["getMe"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_invite_without_a_known_bot_username_is_refused_and_writes_nothing(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_load(sqlite_url))
    monkeypatch.delenv("ZHITONG_BOT_USERNAME", raising=False)
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("ZHITONG_BOT_TOKEN", raising=False)
    # No username and no token to ask getMe with: no link rather than a wrong one.
    no_token = CliRunner().invoke(main, ["invite", "--project", "P2026-001"])
    assert no_token.exit_code == 2, no_token.output
    assert no_token.stderr.strip() == texts.INVITE_NO_BOT_USERNAME
    # A token, but the Bot API cannot be reached: named, the token not shown.
    monkeypatch.setenv("ZHITONG_BOT_TOKEN", "123456:SECRET")
    monkeypatch.setenv("ZHITONG_TELEGRAM_API", f"http://127.0.0.1:{_closed_port()}")
    unreachable = CliRunner().invoke(main, ["invite", "--project", "P2026-001"])
    assert unreachable.exit_code == 2, unreachable.output
    assert "ZHITONG_BOT_USERNAME" in unreachable.stderr and "getMe" in unreachable.stderr
    assert "SECRET" not in unreachable.output and "https://t.me/" not in unreachable.output
    assert "Traceback" not in unreachable.output
    assert asyncio.run(_invites(sqlite_url)) == []
    # Named on the command line, no Bot API needed (and a leading @ is not part of it).
    given = CliRunner().invoke(main, ["invite", "--project", "P2026-001",
                                      "--bot-username", "@county_desk_bot"])
    assert given.exit_code == 0, given.output
    assert "https://t.me/county_desk_bot?start=" in given.output
