"""`zhitong sweep --now` against a running `zhitong run`, over HTTP through the Bot API emulator.

A ticket is reported through the chat; then, as an operator would check it: a reminder before
the due time, nothing new when the same sweep runs again, a 督办 after the due time delivered by
the running bot, and an escalation to the 分包领导 enqueued while the bot is down and delivered
exactly once after it restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.emulator import BotApiEmulator
from domain.calendar import add_working_days, at_local
from handlers import texts as htexts
from tests.conftest import ORG_EXAMPLE

pytestmark = pytest.mark.e2e

TOKEN = "765432:SWEEP-TEST"
TZ = ZoneInfo("Asia/Shanghai")
HAN, LI = 800001, 900002
OFFICIALS = {900001: "赵主任", 900011: "钱科长", 900012: "周经理", 900013: "吴科长",
             900014: "郑主任", 900015: "王科长", 900016: "冯科长", 900017: "陈主任",
             900018: "褚科长", 900019: "卫科长", 900020: "蒋科长", 900021: "沈镇长"}
ZHITONG = [sys.executable, "-m", "bot.cli"]


def _env(db: Path, emu: BotApiEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHITONG_")}
    env.update({
        "ZHITONG_DATABASE_URL": f"sqlite:///{db}",
        "ZHITONG_BOT_TOKEN": TOKEN,
        "ZHITONG_TELEGRAM_API": emu.base_url,
        "ZHITONG_SEND_PER_CHAT_INTERVAL": "0",
        "ZHITONG_SWEEP_INTERVAL_SECONDS": "1",
        # No quiet hours, so the outcome does not depend on the hour the suite runs at.
        "ZHITONG_QUIET_START": "00:00",
        "ZHITONG_QUIET_END": "00:00",
    })
    return env


async def _cli(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(*ZHITONG, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    return out.decode()


async def _sweep(env: dict[str, str], at: datetime) -> dict[str, list[str]]:
    out = await _cli(env, "sweep", "--now", at.isoformat(), "--json")
    result: dict[str, list[str]] = json.loads(out)["enqueued"]
    return result


async def _start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as fh:
        return await asyncio.create_subprocess_exec(*ZHITONG, "run", env=env, stdout=fh,
                                                    stderr=fh)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 15) == 0


def _ticket(db: Path) -> tuple[str, datetime, int]:
    with sqlite3.connect(db) as conn:
        number, due, unit_id = conn.execute(
            "select number, due_at, unit_id from tickets").fetchone()
    return number, datetime.fromisoformat(due).replace(tzinfo=ZoneInfo("UTC")), unit_id


def _texts(emu: BotApiEmulator, chat: int, word: str) -> list[str]:
    return [t for m in emu.sent_messages(chat) if word in (t := emu.message_text(m))]


async def test_sweeps_previewed_from_the_command_line_are_delivered_once(tmp_path: Path) -> None:
    db = tmp_path / "zhitong.db"
    async with BotApiEmulator(token=TOKEN, username="zhitong_test_bot") as emu:
        emu.add_user(HAN, "韩经理")
        emu.add_user(LI, "李副县长")
        for uid, name in OFFICIALS.items():
            emu.add_user(uid, name)
        env = _env(db, emu)
        await _cli(env, "db", "upgrade")
        await _cli(env, "org", "load", str(ORG_EXAMPLE))
        log = tmp_path / "run.log"
        proc = await _start(env, log)
        try:
            await emu.wait_for(lambda: emu.waiting_polls > 0, timeout=30)
            emu.send_text(HAN, "项目工地周边有人阻挠施工,施工车辆进不去,请公安协调处理")
            card = await emu.wait_for_message(HAN, contains="确认", timeout=30)
            buttons = [b["text"] for b in emu.buttons(card)]
            assert htexts.BTN_SUBMIT in buttons, buttons
            emu.press(HAN, card["message_id"], text=htexts.BTN_SUBMIT)
            await emu.wait_for_message(HAN, contains="诉求编号", timeout=30)
            number, due, unit_id = _ticket(db)
            with sqlite3.connect(db) as conn:
                officials = {r[0] for r in conn.execute(
                    "select telegram_id from accounts where unit_id = ? and active",
                    (unit_id,))}
            official = sorted(officials)[0]

            # Half an hour before the due time: the "due soon" reminder, once.
            first = await _sweep(env, due - timedelta(minutes=30))
            assert len(first["before"]) == len(officials), first
            again = await _sweep(env, due - timedelta(minutes=30))
            assert sum(len(v) for v in again.values()) == 0, again
            await emu.wait_for(lambda: _texts(emu, official, "到期提醒"), timeout=30)

            # The next working day after the due date: the 督办, delivered by the running bot.
            day1 = add_working_days(due.astimezone(TZ).date(), 1)
            overdue = await _sweep(env, at_local(day1, time(10), TZ))
            assert len(overdue["overdue"]) == len(officials), overdue
            await emu.wait_for(lambda: _texts(emu, official, "督办"), timeout=30)
        finally:
            await _stop(proc)

        # The bot is down: the second overdue working day escalates to the 分包领导 (li).
        day2 = add_working_days(due.astimezone(TZ).date(), 2)
        escalated = await _sweep(env, at_local(day2, time(10), TZ))
        assert len(escalated["leader"]) == 1, escalated
        assert _texts(emu, LI, "超期提级") == []

        proc = await _start(env, log)
        try:
            found = await emu.wait_for(lambda: _texts(emu, LI, "超期提级"), timeout=30)
            assert number in found[0]
            await asyncio.sleep(2.5)  # a few more sweeps and sender rounds: nothing again
            assert len(_texts(emu, LI, "超期提级")) == 1
            assert len(_texts(emu, official, "督办")) == 2  # day 1 and day 2, once each
        finally:
            await _stop(proc)
        again_after: dict[str, Any] = await _sweep(env, at_local(day2, time(10), TZ))
        assert sum(len(v) for v in again_after.values()) == 0
