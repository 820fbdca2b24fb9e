"""`zhitong demo`: the whole story, offline, through the real bot and the Bot API emulator.

A fresh SQLite database, the demo organisation, the emulator on loopback, the aiogram runtime
polling it; then people act through the emulator and we print what each phone shows.
"""

from __future__ import annotations

import asyncio
import html
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.emulator import BotApiEmulator
from bot.settings import Settings

DEMO_ORG = Path(__file__).with_name("demo_org.yaml")
TOKEN = "100000:DEMO-OFFLINE-TOKEN"
KONG = 600002  # joins through an invite during the story

NAMES = {700001: "马主任", 700002: "陆县长", 700011: "高经理", 700012: "田科长",
         700013: "许科长", 700014: "何科长", 600001: "林总", KONG: "孔经理"}

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


class Story:
    def __init__(self, emu: BotApiEmulator, out: Callable[[str], None]) -> None:
        self.emu = emu
        self.out = out
        self.seen = 0
        self.core: Any = None

    def name(self, chat_id: Any) -> str:
        return NAMES.get(int(chat_id), str(chat_id))

    def step(self, title: str) -> None:
        self.out(f"\n── {title} ──")

    async def settle(self) -> None:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        quiet = 0
        while loop.time() < deadline and quiet < 3:
            async with self.core.uow_factory() as uow:
                pending = (await uow.session.execute(
                    select(func.count()).select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending"))).scalar_one()
            quiet = quiet + 1 if not pending and not self.emu.pending_updates() else 0
            await asyncio.sleep(0.05)
        self.flush()

    def flush(self) -> None:
        """Print what the bot did since the last step, as the people saw it."""
        requests = self.emu.requests[self.seen:]
        self.seen = len(self.emu.requests)
        for req in requests:
            p = req.params
            if req.status != 200:
                continue
            if req.method == "sendMessage":
                self.out(f"  🤖 → {self.name(p['chat_id'])}: {self._indent(plain(p['text']))}"
                         + self._buttons(p.get("reply_markup")))
            elif req.method == "editMessageText":
                # Card refreshes are many and alike: one line each keeps the story readable.
                first = plain(p["text"]).split("\n", 1)[0]
                self.out(f"  🤖 ✎ {self.name(p['chat_id'])} 的消息更新为:{first}"
                         + self._buttons(p.get("reply_markup")).replace("\n       ", " "))
            elif req.method == "answerCallbackQuery" and p.get("text"):
                self.out(f"  🤖 (提示) {p['text']}")

    @staticmethod
    def _indent(text: str) -> str:
        return text.replace("\n", "\n       ")

    @staticmethod
    def _buttons(markup: Any) -> str:
        if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
            return ""
        labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
        return "\n       [" + "] [".join(labels) + "]"

    async def say(self, user: int, text: str) -> None:
        self.out(f"👤 {self.name(user)}: {text}")
        self.emu.send_text(user, text)
        await self.settle()

    async def press(self, user: int, word: str) -> None:
        for msg in reversed(self.emu.sent_messages(user)):
            markup = msg.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if word in b["text"]:
                        self.out(f"👆 {self.name(user)} 按「{b['text']}」")
                        self.emu.press(user, msg["message_id"], text=b["text"])
                        await self.settle()
                        return
        raise RuntimeError(f"{self.name(user)} 没有「{word}」按钮")

    def who_got(self, word: str, among: list[int]) -> int:
        for uid in among:
            msg = self.emu.last_message(uid)
            if msg and any(word in b["text"] for row in (msg.get("reply_markup") or {})
                           .get("inline_keyboard", []) for b in row):
                return uid
        raise RuntimeError(f"没有人收到带「{word}」的卡片")


async def play(out: Callable[[str], None], workdir: Path, framework: str = "aiogram") -> int:
    from bot.app import build_core, run_aiogram
    from handlers.onboarding import do_create_invite
    from handlers.org import do_load_org
    from storage.migrate import upgrade
    from storage.orgfile import load_org_file

    db = workdir / "zhitong-demo.db"
    url = f"sqlite:///{db}"
    await asyncio.to_thread(upgrade, url)
    async with BotApiEmulator(token=TOKEN, username="zhitong_demo_bot") as emu:
        for uid, name in NAMES.items():
            emu.add_user(uid, name)
        settings = Settings(database_url=url, bot_token=TOKEN, telegram_api=emu.base_url,
                            framework=framework, send_per_chat_interval=0,
                            send_global_per_second=1000, data_dir=str(workdir / "data"))
        from domain.clock import SystemClock
        from storage.db import make_engine, make_sessionmaker
        from storage.uow import UnitOfWork

        engine = make_engine(url)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            await do_load_org(uow, load_org_file(DEMO_ORG), SystemClock().now())
            invite = await do_create_invite(uow, SystemClock().now(),
                                            settings.desk_config("zhitong_demo_bot"),
                                            role="enterprise", project_code="D2026-002")
            await uow.commit()
        await engine.dispose()
        out("项目直通车 · 离线演示(SQLite + 内置 Bot API 模拟器,真实机器人通过 HTTP 轮询)")
        out(f"数据库:{db}")

        core = await build_core(settings)
        stop = asyncio.Event()
        if framework == "ptb":
            from bot.ptb_adapter import run_ptb

            task = asyncio.create_task(run_ptb(core, stop, with_scheduler=False,
                                               polling_timeout=1))
        else:
            task = asyncio.create_task(run_aiogram(core, stop, with_scheduler=False,
                                                   polling_timeout=1))
        story = Story(emu, out)
        story.core = core
        try:
            await _story(story, invite.link)
            await asyncio.sleep(0)
            out("\n── 诉求最终状态 ──")
            await _print_tickets(core, out)
            await _print_stats(core, out)
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            await core.close()
    return 0


async def _story(s: Story, link: str) -> None:
    lin, gao, ma, lu = 600001, 700011, 700001, 700002
    officials = [700011, 700012, 700013, 700014, 700001]
    s.step("1. 企业联系人扫码加入")
    token = link.split("start=", 1)[1]
    s.out(f"   邀请链接:{link}")
    await s.say(KONG, f"/start {token}")

    s.step("2. 企业反映高压线迁改问题")
    await s.say(lin, "园区北侧110千伏高压线迁改迟迟没人对接,厂房基础没法施工,请尽快协调供电公司")
    await s.press(lin, "提交")

    s.step("3. 供电公司受理并办结")
    handler = s.who_got("受理", officials)
    await s.press(handler, "受理")
    await s.press(handler, "办结")
    await s.say(handler, "已与业主现场确认迁改方案,杆线迁移已完成一半,剩余部分下周完成")

    s.step("4. 企业评价「不满意」,重办")
    await s.press(lin, "不满意")
    await s.say(lin, "只迁了一半,基础施工还是受影响")
    await s.press(handler, "办结")
    await s.say(handler, "剩余杆线已全部迁移完毕,现场具备施工条件")
    await s.press(lin, "满意")

    s.step("5. 第二件诉求被退回,由重点项目办重新分派")
    await s.say(KONG, "冷链物流中心的建设工程规划许可证一直办不下来,卡在审批环节一个多月了")
    await s.press(KONG, "提交")
    first = s.who_got("退回", officials)
    await s.press(first, "退回")
    await s.say(first, "该项目规划条件尚未由发改部门完成前期论证,请重点项目办协调")
    await s.press(ma, "转办")
    await s.press(ma, "演示县发改局")
    await s.press(700013, "受理")
    _ = (gao, lu)


async def _print_tickets(core: Any, out: Callable[[str], None]) -> None:
    from handlers.texts import rating_name, status_name

    async with core.uow_factory() as uow:
        units = {u.id: u.name for u in await uow.org.units()}
        for t in await uow.tickets.all():
            out(f"  #{t.number}  {status_name(t.status)}  {units.get(t.unit_id)}  "
                f"类别 {t.category_code}  重办 {t.reopen_count} 次  评价 {rating_name(t.rating)}")


async def _print_stats(core: Any, out: Callable[[str], None]) -> None:
    try:
        from bot.cli_stats import stats_payload
    except ImportError:
        return
    payload = await stats_payload(core.settings, None, None, None, core.engine)

    def pct(key: str) -> str:
        value = payload.get(key)
        return "—" if value is None else f"{value:.0%}"

    out("\n── 统计(zhitong stats --json 的主要数字)──")
    out(f"  受理 {payload['submitted']} 件;响应率 {pct('response_rate')};办结率 "
        f"{pct('resolution_rate')};按期办结率 {pct('on_time_rate')};满意率 "
        f"{pct('satisfaction_rate')}(已评价 {payload['rated']},未评价 {payload['unrated']});"
        f"重办率 {pct('reopen_rate')};超期未办结 {payload['overdue_open']} 件")



def run_demo(out: Callable[[str], None] = print, framework: str = "aiogram",
             workdir: str | None = None) -> int:
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        for f in path.glob("zhitong-demo.db*"):
            f.unlink()
        return asyncio.run(play(out, path, framework))
    with tempfile.TemporaryDirectory(prefix="zhitong-demo-") as tmp:
        return asyncio.run(play(out, Path(tmp), framework))
