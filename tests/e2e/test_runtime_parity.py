"""aiogram and python-telegram-bot send Telegram the same requests for the same conversation.

`ZHITONG_FRAMEWORK` chooses the library, not the product: a person must not see a message
differently (link previews, parse mode, an alert instead of a toast) because of it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.emulator import RecordedRequest
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

HAN, YANG, ZHOU, ZHAO = 800001, 800002, 900012, 900001
HV_LINE = ("我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司,"
           "详见 https://zhitong.example.gov.cn/site/ph-7")

# What differs from run to run whatever the runtime (ids, nonces, times in texts): compared by
# presence only. Everything else (parse_mode, link_preview_options, show_alert …) by value.
CONTENT = {"chat_id", "message_id", "callback_query_id", "text", "caption", "reply_markup",
           "photo", "document", "commands", "scope"}
# The polling machinery (aiogram asks getMe again when its dispatcher starts polling).
MACHINERY = {"getMe", "getUpdates"}


def shape(request: RecordedRequest) -> str:
    params: dict[str, Any] = {}
    for key, value in request.params.items():
        if key == "media":  # an album: each item's fields, not the file ids
            params[key] = [sorted(item) for item in value]
        else:
            params[key] = "…" if key in CONTENT else value
    return f"{request.method} {json.dumps(params, sort_keys=True, ensure_ascii=False)}"


async def conversation(framework: str, database: Path, tagger: object) -> list[RecordedRequest]:
    """A report with a link, submitted, accepted, resolved with a photo and rated; a sticker;
    an update that fails (the adapter itself tells the person); the admin's chart and ledger."""
    from domain.clock import SystemClock
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade
    from storage.uow import UnitOfWorkFactory
    from tests.factories import load_example_org

    url = f"sqlite:///{database}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    await load_example_org(UnitOfWorkFactory(make_sessionmaker(engine)), SystemClock().now())
    await engine.dispose()
    w = World(url, framework, tagger)  # type: ignore[arg-type]
    await w.start()
    try:
        await w.say(HAN, HV_LINE)
        await w.press(HAN, "提交")
        await w.press(ZHOU, "受理")
        await w.press(ZHOU, "办结")
        await w.photo(ZHOU, caption="杆线已迁移,现场照片见图")
        await w.press(HAN, "满意")
        await w.sticker(HAN)
        assert w.core is not None
        failing = w.core.engine.sync_engine

        def fail_drafts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO DRAFTS"):
                raise RuntimeError("injected fault")

        event.listen(failing, "before_cursor_execute", fail_drafts)
        try:
            await w.say(YANG, "施工用电的临时变压器一直没有装,影响设备调试")
        finally:
            event.remove(failing, "before_cursor_execute", fail_drafts)
        await w.say(ZHAO, "/stats")
        await w.say(ZHAO, "/export")
        await w.settle()
        assert w.spec_problems() == []
        return [r for r in w.emu.requests if r.method not in MACHINERY]
    finally:
        await w.close()


async def test_both_runtimes_send_the_same_requests(tmp_path: Path, tagger: object) -> None:
    from handlers import texts

    sent = {framework: await conversation(framework, tmp_path / f"{framework}.db", tagger)
            for framework in ("aiogram", "ptb")}
    for framework, requests in sent.items():
        methods = {r.method for r in requests}
        # The scenario reached every kind of request it is meant to compare.
        assert {"deleteWebhook", "setMyCommands", "sendMessage", "editMessageText",
                "answerCallbackQuery", "sendPhoto", "sendDocument"} <= methods, framework
        told = [r for r in requests if r.method == "sendMessage"
                and r.params.get("text") == texts.SYSTEM_ERROR]
        assert len(told) == 1, framework
        # Cards are dense: no runtime lets a link typed into a ticket unfold into a preview.
        previews = [shape(r) for r in requests if r.method in ("sendMessage", "editMessageText")
                    and r.params.get("link_preview_options") != {"is_disabled": True}]
        assert previews == [], framework
    aiogram = Counter(shape(r) for r in sent["aiogram"])
    ptb = Counter(shape(r) for r in sent["ptb"])
    assert aiogram == ptb, (f"only aiogram: {sorted((aiogram - ptb).elements())}\n"
                            f"only ptb: {sorted((ptb - aiogram).elements())}")
