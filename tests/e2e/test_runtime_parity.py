"""aiogram and python-telegram-bot send Telegram the same requests for the same conversation.

`ZHITONG_FRAMEWORK` chooses the library, not the product: a person must not see a message
differently (link previews, parse mode, an alert instead of a toast) because of it. The same
conversation is held in polling mode and in webhook mode (the emulator POSTs each update to
the bot's own server); in webhook mode what each runtime answered to every POST is compared
too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.emulator import RecordedRequest
from bot.webhook import SPEND_AFTER_FAILURES
from tests.e2e.test_webhook import WebhookWorld
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

HAN, YANG, ZHOU, ZHAO = 800001, 800002, 900012, 900001
HV_LINE = ("我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司,"
           "详见 https://zhitong.example.gov.cn/site/ph-7")

# What differs from run to run whatever the runtime (callback query ids, file ids, uploads):
# compared by presence only.
PRESENCE = {"callback_query_id", "photo", "document"}
# What the person reads and taps (texts, toasts, buttons, menus) is compared by value, save
# what differs between two runs whatever the runtime: the time of day, and a draft's random
# nonce in its buttons' callback data ("d:<op>:<nonce>"). Ticket numbers, deadlines, chat
# and message ids come out the same in both runs and are compared as they are.
VISIBLE = {"text", "caption", "reply_markup", "commands", "scope"}
TIME_OF_DAY = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
DRAFT_NONCE = re.compile(r'"d:([a-z]+):\d+')


def masked(value: Any) -> str:
    dumped = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return DRAFT_NONCE.sub(r'"d:\1:#', TIME_OF_DAY.sub("HH:MM", dumped))


# The polling machinery (aiogram asks getMe again when its dispatcher starts polling). In
# webhook mode nothing is left out: a getUpdates there would be a runtime polling by mistake.
MACHINERY = {"polling": {"getMe", "getUpdates"}, "webhook": set[str]()}


def shape(request: RecordedRequest) -> str:
    params: dict[str, Any] = {}
    for key, value in request.params.items():
        if key == "media":  # an album: each item's fields, not the file ids
            params[key] = [sorted(item) for item in value]
        elif key in PRESENCE:
            params[key] = "…"
        elif key in VISIBLE:
            params[key] = masked(value)
        elif key == "url":  # setWebhook: each world's bot listens on its own free port
            params[key] = re.sub(r":\d+/", ":PORT/", value)
        else:
            params[key] = value
    via = "" if request.via == "http" else f" via {request.via}"
    return f"{request.method}{via} {json.dumps(params, sort_keys=True, ensure_ascii=False)}"


@dataclass
class Transcript:
    requests: list[RecordedRequest]  # what the bot sent Telegram (polling: machinery left out)
    # Webhook mode: for each update in turn, the HTTP status of every POST of it until one
    # was answered 2xx (None: no answer). Empty in polling mode.
    answers: list[list[int | None]]


def callback_data(world: World, msg: dict[str, Any], word: str) -> str:
    return str(next(b["callback_data"] for b in world.buttons(msg) if word in b["text"]))


async def conversation(framework: str, mode: str, database: Path,
                       tagger: object) -> Transcript:
    """A report with a link, submitted (and 提交 pressed again on the old card), accepted
    (twice), resolved with a photo and rated; a sticker; an update that fails (the person is
    told: by the adapter when polling, once its retries are spent over webhook); the admin's
    chart and ledger."""
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
    kind = WebhookWorld if mode == "webhook" else World
    w = kind(url, framework, tagger)  # type: ignore[arg-type]
    await w.start()
    try:
        await w.say(HAN, HV_LINE)
        card = w.with_button(HAN, "提交")
        await w.press(HAN, "提交")
        await w.press_data(HAN, card["message_id"], callback_data(w, card, "提交"))
        order = w.with_button(ZHOU, "受理")
        await w.press(ZHOU, "受理")
        await w.press_data(ZHOU, order["message_id"], callback_data(w, order, "受理"))
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
        posts: dict[int, list[int | None]] = {}
        for delivery in w.emu.webhook_deliveries:
            posts.setdefault(delivery["update_id"], []).append(delivery["status"])
        return Transcript([r for r in w.emu.requests if r.method not in MACHINERY[mode]],
                          [posts[update_id] for update_id in sorted(posts)])
    finally:
        await w.close()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_both_runtimes_send_the_same_requests(mode: str, tmp_path: Path,
                                                    tagger: object) -> None:
    from domain.texts import already_done
    from handlers import texts

    held = {framework: await conversation(framework, mode, tmp_path / f"{framework}.db", tagger)
            for framework in ("aiogram", "ptb")}
    start = "setWebhook" if mode == "webhook" else "deleteWebhook"
    for framework, transcript in held.items():
        requests = transcript.requests
        methods = {r.method for r in requests}
        # The scenario reached every kind of request it is meant to compare.
        assert {start, "setMyCommands", "sendMessage", "editMessageText",
                "answerCallbackQuery", "sendPhoto", "sendDocument"} <= methods, framework
        told = [r for r in requests if r.method == "sendMessage"
                and r.params.get("text") == texts.SYSTEM_ERROR]
        assert len(told) == 1, framework
        toasts = [r.params.get("text") for r in requests if r.method == "answerCallbackQuery"]
        # The presses again, on keyboards already used, were told so.
        assert {texts.STALE_BUTTON, already_done("accept")} <= set(toasts), framework
        # Cards are dense: no runtime lets a link typed into a ticket unfold into a preview.
        previews = [shape(r) for r in requests if r.method in ("sendMessage", "editMessageText")
                    and r.params.get("link_preview_options") != {"is_disabled": True}]
        assert previews == [], framework
        if mode == "webhook":
            # Every update came by POST; the one that kept failing was answered 5xx until
            # its retries were spent, then 200 (see bot/webhook.py); every other 200 at once.
            assert len(transcript.answers) == 12, framework
            assert [a for a in transcript.answers if a != [200]] == [
                [500] * SPEND_AFTER_FAILURES + [200]], framework
    aiogram = Counter(shape(r) for r in held["aiogram"].requests)
    ptb = Counter(shape(r) for r in held["ptb"].requests)
    assert aiogram == ptb, (f"only aiogram: {sorted((aiogram - ptb).elements())}\n"
                            f"only ptb: {sorted((ptb - aiogram).elements())}")
    assert held["aiogram"].answers == held["ptb"].answers


def _recorded(method: str, **params: Any) -> RecordedRequest:
    request = RecordedRequest.__new__(RecordedRequest)
    request.method, request.params, request.via = method, params, "http"
    return request


def test_the_comparison_tells_apart_what_a_person_would_see_differently() -> None:
    # Masked is only what differs between two runs whatever the runtime; an edit of another
    # card, another ticket number or deadline is a difference.
    edit = _recorded("editMessageText", chat_id=900012, message_id=1, text="x")
    assert shape(edit) != shape(_recorded("editMessageText", chat_id=900012, message_id=2,
                                          text="x"))
    receipt = _recorded("sendMessage", chat_id=1, text="诉求 #20261206-001 办理时限:2026-12-15")
    assert shape(receipt) != shape(_recorded("sendMessage", chat_id=1,
                                             text="诉求 #20261206-002 办理时限:2026-12-25"))
    at = _recorded("sendMessage", chat_id=1, text="已受理 22:41", reply_markup={
        "inline_keyboard": [[{"text": "提交", "callback_data": "d:sub:123456"}]]})
    assert shape(at) == shape(_recorded("sendMessage", chat_id=1, text="已受理 22:42", reply_markup={
        "inline_keyboard": [[{"text": "提交", "callback_data": "d:sub:987"}]]}))
