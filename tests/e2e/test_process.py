"""`zhitong run` as a real process: kill -9 between applying and acknowledging, and SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from handlers import texts
from tests.conftest import ORG_EXAMPLE

pytestmark = pytest.mark.e2e

TOKEN = "654321:PROCESS-TEST"
HAN, ZHOU = 800001, 900012
ZHITONG = [sys.executable, "-m", "bot.cli"]


def _env(db: Path, emu: BotApiEmulator, framework: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHITONG_")}
    env.update({
        "ZHITONG_DATABASE_URL": f"sqlite:///{db}",
        "ZHITONG_BOT_TOKEN": TOKEN,
        "ZHITONG_TELEGRAM_API": emu.base_url,
        "ZHITONG_FRAMEWORK": framework,
        "ZHITONG_SEND_PER_CHAT_INTERVAL": "0",
        "ZHITONG_OUTBOX_LEASE_SECONDS": "2",
    })
    return env


async def _cli(env: dict[str, str], *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(*ZHITONG, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()


async def _start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as fh:
        return await asyncio.create_subprocess_exec(*ZHITONG, "run", "--no-scheduler", env=env,
                                                    stdout=fh, stderr=fh)


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def _until(predicate: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not reached")


@pytest.fixture(params=["aiogram", "ptb"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_kill_9_after_apply_before_ack_applies_once_and_replies(
        tmp_path: Path, framework: str) -> None:
    db = tmp_path / "zhitong.db"
    async with BotApiEmulator(token=TOKEN, username="zhitong_test_bot") as emu:
        emu.add_user(HAN, "韩经理")
        emu.add_user(ZHOU, "周经理")
        env = _env(db, emu, framework)
        await _cli(env, "db", "upgrade")
        await _cli(env, "org", "load", str(ORG_EXAMPLE))
        proc = await _start(env, tmp_path / "run.log")
        try:
            # Wait until a long poll is in flight: it will carry the update; the faults below
            # catch the calls after it.
            await emu.wait_for(lambda: emu.waiting_polls > 0, timeout=30)
            # The acknowledging getUpdates and the reply both hang: the process dies with the
            # update applied in the database but neither confirmed nor answered.
            emu.fail_next("getUpdates", status=500, delay=60)
            emu.fail_next("sendMessage", status=500, delay=60)
            update_id = emu.send_text(HAN, "高压线迁改一直没人对接,厂房基础没法施工")
            await _until(lambda: _count(
                db, f"select count(*) from processed_updates where update_id={update_id}") == 1)
            await asyncio.sleep(0.3)
        finally:
            proc.kill()
            await proc.wait()
        assert not emu.is_confirmed(update_id)
        assert _count(db, "select count(*) from drafts where kind='report'") == 1
        emu.clear_faults()

        proc = await _start(env, tmp_path / "run.log")
        try:
            await emu.wait_until_confirmed(update_id, timeout=30)
            msg = await emu.wait_for_message(HAN, contains="请确认", timeout=30)
            assert texts.BTN_SUBMIT in [b["text"] for row in msg["reply_markup"]["inline_keyboard"]
                                        for b in row]
            await asyncio.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        cards = [m for m in emu.sent_messages(HAN) if "请确认" in (m.get("text") or "")]
        assert len(cards) == 1
        assert _count(db, "select count(*) from drafts where kind='report'") == 1
        assert _count(db, "select count(*) from tickets") == 0


async def test_sigterm_stops_within_seconds(tmp_path: Path) -> None:
    db = tmp_path / "zhitong.db"
    async with BotApiEmulator(token=TOKEN, username="zhitong_test_bot") as emu:
        env = _env(db, emu, "aiogram")
        await _cli(env, "db", "upgrade")
        proc = await _start(env, tmp_path / "run.log")
        await emu.wait_for(lambda: emu.waiting_polls > 0, timeout=30)
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
        assert code == 0
        assert loop.time() - started < 8


@pytest.mark.postgres
async def test_run_waits_for_a_database_server_that_is_not_up_yet(
        postgres_url: str, tmp_path: Path) -> None:
    # The host has just booted and PostgreSQL is not accepting connections yet: `zhitong run`
    # says so and tries again, and serves once the database answers (no crash loop).
    from bot import texts as bot_texts
    from tests.tcp_relay import relay_database

    relay, relayed = await relay_database(postgres_url)
    log = tmp_path / "run.log"
    try:
        async with BotApiEmulator(token=TOKEN, username="zhitong_test_bot") as emu:
            emu.add_user(HAN, "韩经理")
            env = _env(tmp_path / "unused.db", emu, "aiogram")
            env["ZHITONG_DATABASE_URL"] = postgres_url
            await _cli(env, "org", "load", str(ORG_EXAMPLE))
            env["ZHITONG_DATABASE_URL"] = relayed
            relay.cut()
            proc = await _start(env, log)
            waiting = bot_texts.DB_WAITING.split("(")[0]
            await _until(lambda: log.read_text().count(waiting) >= 2, 60)
            assert proc.returncode is None
            relay.restore()
            await emu.wait_for(lambda: emu.waiting_polls > 0, timeout=60)
            emu.send_text(HAN, "/help")
            reply = await emu.wait_for_message(HAN, timeout=30)
            assert reply["text"].startswith("项目直通车 · 企业")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        await relay.close()


async def test_run_refuses_at_once_a_database_that_is_not_there(tmp_path: Path) -> None:
    # A wrong path or name is a mistake to fix, not an outage to wait out.
    from bot import texts as bot_texts

    async with BotApiEmulator(token=TOKEN, username="zhitong_test_bot") as emu:
        env = _env(tmp_path / "no" / "such" / "dir" / "zhitong.db", emu, "aiogram")
        proc = await asyncio.create_subprocess_exec(*ZHITONG, "run", env=env,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert bot_texts.DB_ERROR.split(":")[0] in out.decode()
