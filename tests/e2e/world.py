"""The real bot, over HTTP, against the Bot API emulator: the way Telegram would drive it.

`World` starts the emulator, a fresh database with the example organisation, and the bot's
runtime (aiogram or python-telegram-bot) in this process. People act through the emulator:
`await w.say(HAN, "…")`, `await w.press(ZHOU, "受理")`, and read what their phone shows with
`w.last(HAN)`. Every request the bot sent is checked against the published Bot API spec.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.app import Core, build_core
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from handlers.tagging import TaggerLike
from tests.bot.api_spec import load_spec

TOKEN = "123456:E2E-TEST-TOKEN"

PEOPLE = {
    900001: "赵主任", 900002: "李副县长", 900003: "孙副县长", 900011: "钱科长", 900012: "周经理",
    900013: "吴科长", 900014: "郑主任", 900015: "王科长", 900016: "冯科长", 900017: "陈主任",
    900018: "褚科长", 900019: "卫科长", 900020: "蒋科长", 900021: "沈镇长",
    800001: "韩经理", 800002: "杨总",
}


class World:
    def __init__(self, database_url: str, framework: str, tagger: TaggerLike) -> None:
        self.database_url = database_url
        # "ptb+httpx": the PTB runtime on PTB's stock HTTP client (ZHITONG_PTB_HTTP=httpx).
        self.framework, _, http = framework.partition("+")
        self.ptb_http = http or "aiohttp"
        self.tagger = tagger
        self.emu = BotApiEmulator(token=TOKEN, username="zhitong_test_bot")
        self.core: Core | None = None
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.last_update = 0
        import tempfile

        self.data_dir = tempfile.mkdtemp(prefix="zhitong-e2e-")

    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, bot_token=TOKEN,
                        telegram_api=self.emu.base_url, framework=self.framework,
                        ptb_http=self.ptb_http,
                        send_per_chat_interval=0, send_global_per_second=1000,
                        rate_limit_per_minute=1000, data_dir=self.data_dir)

    async def start(self, *, with_emulator: bool = True) -> None:
        if with_emulator:
            await self.emu.start()
            for uid, name in PEOPLE.items():
                self.emu.add_user(uid, name)
        await self.start_bot()

    async def start_bot(self) -> None:
        self.stop = asyncio.Event()
        self.core = await build_core(self.settings(), tagger=self.tagger)
        if self.framework == "ptb":
            from bot.ptb_adapter import run_ptb

            runner = run_ptb(self.core, self.stop, with_scheduler=False, polling_timeout=1)
        else:
            from bot.app import run_aiogram

            runner = run_aiogram(self.core, self.stop, with_scheduler=False, polling_timeout=1)
        self.task = asyncio.create_task(runner)

    async def stop_bot(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)
            self.task = None
        if self.core is not None:
            await self.core.close()
            self.core = None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop_bot()
        await self.emu.stop()
        import shutil

        shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- people --------------------------------------------------------------------------

    async def say(self, user: int, text: str) -> int:
        self.last_update = self.emu.send_text(user, text)
        await self.settle()
        return self.last_update

    async def sticker(self, user: int) -> int:
        self.last_update = self.emu.send_sticker(user)
        await self.settle()
        return self.last_update

    async def photo(self, user: int, caption: str | None = None,
                    media_group_id: str | None = None) -> int:
        self.last_update = self.emu.send_photo(user, caption=caption,
                                               media_group_id=media_group_id)
        await self.settle()
        return self.last_update

    async def press(self, user: int, word: str, on: dict[str, Any] | None = None) -> str | None:
        """Press the button whose label contains `word`; returns the toast the person saw."""
        msg = on or self.with_button(user, word)
        label = next(b["text"] for b in self.buttons(msg) if word in b["text"])
        self.last_update = self.emu.press(user, msg["message_id"], text=label)
        await self.settle()
        return await self.toast(self.last_update)

    async def press_data(self, user: int, message_id: int, data: str) -> str | None:
        self.last_update = self.emu.press(user, message_id, data, strict=False)
        await self.settle()
        return await self.toast(self.last_update)

    async def toast(self, update_id: int) -> str | None:
        """The toast the press showed; None when its answer was refused. The bot answers a
        press beside its update loop, so the answer may land just after the update settled."""
        query_id = self.emu.callback_query_id(update_id)
        await self.emu.wait_for_request(
            "answerCallbackQuery", lambda r: str(r.params.get("callback_query_id")) == query_id)
        for a in self.emu.callback_answers:
            if a.get("update_id") == update_id:
                return a.get("text")
        return None

    # --- what phones show ----------------------------------------------------------------

    @staticmethod
    def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
        markup = msg.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def words(self, msg: dict[str, Any]) -> list[str]:
        return [b["text"] for b in self.buttons(msg)]

    def messages(self, user: int) -> list[dict[str, Any]]:
        return self.emu.sent_messages(user)

    def last(self, user: int) -> dict[str, Any]:
        msg = self.emu.last_message(user)
        assert msg is not None, f"{user} received nothing"
        return msg

    def text(self, user: int) -> str:
        return str(self.last(user).get("text") or self.last(user).get("caption") or "")

    def with_button(self, user: int, word: str) -> dict[str, Any]:
        for msg in reversed(self.messages(user)):
            if any(word in b["text"] for b in self.buttons(msg)):
                return msg
        raise AssertionError(f"{user} has no message with a {word!r} button")

    # --- waiting -------------------------------------------------------------------------

    async def settle(self, timeout: float = 15.0) -> None:
        """Until every update is confirmed and the outbox is empty (nothing left in flight)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while loop.time() < deadline:
            if not self.emu.pending_updates() and await self.outbox_pending() == 0:
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
            await asyncio.sleep(0.05)
        raise TimeoutError(f"not settled: pending updates {len(self.emu.pending_updates())}, "
                           f"outbox {await self.outbox_pending()}")

    async def outbox_pending(self) -> int:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage

        assert self.core is not None
        async with self.core.uow_factory() as uow:
            q = select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "pending")
            return int((await uow.session.execute(q)).scalar_one())

    async def tickets(self) -> list[Any]:
        """Tickets as plain snapshots (safe to read after the session closed)."""
        from types import SimpleNamespace

        assert self.core is not None
        async with self.core.uow_factory() as uow:
            rows = await uow.tickets.all()
            return [SimpleNamespace(**{a.key: getattr(t, a.key) for a in t.__mapper__.column_attrs})
                    for t in rows]

    def spec_problems(self) -> list[str]:
        spec = load_spec()
        problems: list[str] = []
        for req in self.emu.requests:
            for p in spec.validate_request(req):
                problems.append(f"{req.method}: {p}")
        return problems
