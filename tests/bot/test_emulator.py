"""The Bot API emulator driven over real HTTP by aiogram 3 and python-telegram-bot 22.

Every request a test sends with the right token to an existing method is checked against the
published Bot API spec when the test ends (fixture `emu`).
"""

from __future__ import annotations

import asyncio
import html
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import telegram
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import error as ptb_error
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.emulator import TINY_PNG, BotApiEmulator, UploadedFile
from tests.bot.api_spec import load_spec, spec_path

ALICE = 1001
BOB = 1002
REPO = Path(__file__).resolve().parents[2]


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=label, callback_data=data) for label, data in pairs]])


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    if not spec_path().exists():
        pytest.skip(f"Bot API spec not found at {spec_path()} (set ZHITONG_BOT_API_SPEC)")
    async with BotApiEmulator(webhook_retry_delay=0.05) as emulator:
        emulator.add_user(ALICE, "张三", "zhangsan", last_name="Zhang")
        emulator.add_user(BOB, "李四")
        yield emulator
    # 401/404 answers are the tests of wrong tokens and unknown methods; all else must match.
    checked = [r for r in emulator.requests if r.status not in (401, 404)]
    load_spec().assert_valid_requests(checked)


@pytest.fixture
async def abot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    yield bot
    await bot.session.close()


@pytest.fixture
async def pbot(emu: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(emu.token, base_url=emu.ptb_base_url,
                       base_file_url=emu.ptb_base_file_url)
    async with bot:
        yield bot


async def raw_call(emu: BotApiEmulator, method: str, *, token: str | None = None,
                   http_method: str = "POST", **kwargs: Any) -> tuple[int, dict[str, Any]]:
    url = f"{emu.base_url}/bot{token or emu.token}/{method}"
    async with aiohttp.ClientSession() as session, session.request(
            http_method, url, **kwargs) as resp:
        return resp.status, await resp.json()


async def control(emu: BotApiEmulator, path: str, body: dict[str, Any] | None = None,
                  **query: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        url = f"{emu.base_url}/_emu/{path}"
        if body is None:
            async with session.get(url, params={k: str(v) for k, v in query.items()}) as resp:
                payload = await resp.json()
        else:
            async with session.post(url, json=body) as resp:
                payload = await resp.json()
    assert payload["ok"], payload
    return payload["result"]


# ---------------------------------------------------------------------------- basics
async def test_get_me_with_both_libraries(emu: BotApiEmulator, abot: Bot,
                                          pbot: telegram.Bot) -> None:
    me = await abot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "zhitong_demo_bot")
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert pbot.bot.username == "zhitong_demo_bot"  # PTB's initialize() called getMe
    assert pbot.bot.can_read_all_group_messages is False
    assert [r.method for r in emu.requests] == ["getMe", "getMe"]


async def test_wrong_token_unknown_method_and_plain_http(emu: BotApiEmulator) -> None:
    assert await raw_call(emu, "getMe", token="123456:WRONG") == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert await raw_call(emu, "sendTelepathy") == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_call(emu, "getme", http_method="GET")  # names are case-insensitive
    assert status == 200 and body["result"]["username"] == "zhitong_demo_bot"
    assert emu.requests[-1].method == "getMe"


async def test_body_formats_json_form_query_and_multipart(emu: BotApiEmulator) -> None:
    markup = {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}
    status, body = await raw_call(emu, "sendMessage",
                                  json={"chat_id": ALICE, "text": "json", "reply_markup": markup})
    assert status == 200 and body["result"]["reply_markup"] == markup
    status, body = await raw_call(emu, "sendMessage", data={
        "chat_id": str(ALICE), "text": "form", "reply_markup": json.dumps(markup)})
    assert status == 200 and body["result"]["text"] == "form"
    status, body = await raw_call(emu, "sendMessage", http_method="GET",
                                  params={"chat_id": str(ALICE), "text": "query"})
    assert status == 200 and body["result"]["chat"]["id"] == ALICE
    form = aiohttp.FormData()
    form.add_field("chat_id", str(ALICE))
    form.add_field("caption", "multipart")
    form.add_field("document", b"a,b\n1,2\n", filename="t.csv", content_type="text/csv")
    status, body = await raw_call(emu, "sendDocument", data=form)
    assert status == 200
    doc = body["result"]["document"]
    assert (doc["file_name"], doc["mime_type"], doc["file_size"]) == ("t.csv", "text/csv", 8)
    assert isinstance(emu.requests[-1].params["document"], UploadedFile)
    assert [m["text"] for m in emu.sent_messages(ALICE)[:3]] == ["json", "form", "query"]


# ---------------------------------------------------------------------------- messages
async def test_send_keyboard_edit_and_not_modified_aiogram(emu: BotApiEmulator,
                                                           abot: Bot) -> None:
    sent = await abot.send_message(ALICE, "新问题 #12", reply_markup=keyboard(
        ("受理", "acc:12"), ("退回", "ret:12")))
    assert sent.from_user is not None and sent.from_user.id == 123456
    assert sent.chat.first_name == "张三" and sent.chat.type == "private"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][1].callback_data == "ret:12"

    edited = await abot.edit_message_text("#12 已受理", chat_id=ALICE,
                                          message_id=sent.message_id,
                                          reply_markup=keyboard(("办结", "res:12")))
    assert isinstance(edited, Message) and edited.edit_date is not None
    now = emu.last_message(ALICE)
    assert now is not None and now["text"] == "#12 已受理"
    assert [b["text"] for b in emu.buttons(now)] == ["办结"]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await abot.edit_message_text("#12 已受理", chat_id=ALICE, message_id=sent.message_id,
                                     reply_markup=keyboard(("办结", "res:12")))
    await abot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)
    assert "reply_markup" not in (emu.message(ALICE, sent.message_id) or {})
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await abot.edit_message_text("x", chat_id=ALICE, message_id=999)
    # Editing text without reply_markup removes the keyboard, as Telegram does.
    again = await abot.send_message(ALICE, "card", reply_markup=keyboard(("a", "a")))
    await abot.edit_message_text("card v2", chat_id=ALICE, message_id=again.message_id)
    assert "reply_markup" not in (emu.message(ALICE, again.message_id) or {})


async def test_send_and_edit_with_ptb(emu: BotApiEmulator, pbot: telegram.Bot) -> None:
    markup = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("满意",
                                                                           callback_data="r:5")]])
    sent = await pbot.send_message(ALICE, "<i>请评价</i>", parse_mode="HTML", reply_markup=markup)
    assert sent.text == "请评价" and sent.entities[0].type == "italic"
    edited = await pbot.edit_message_text("谢谢", chat_id=ALICE, message_id=sent.message_id)
    assert isinstance(edited, telegram.Message) and edited.text == "谢谢"
    with pytest.raises(ptb_error.BadRequest, match=r"(?i)message is not modified"):
        await pbot.edit_message_text("谢谢", chat_id=ALICE, message_id=sent.message_id)
    with pytest.raises(ptb_error.BadRequest, match=r"(?i)message to edit not found"):
        await pbot.edit_message_text("x", chat_id=ALICE, message_id=4242)


async def test_telegram_errors_for_bad_messages(emu: BotApiEmulator, abot: Bot) -> None:
    status, body = await raw_call(emu, "sendMessage", json={"chat_id": ALICE, "text": ""})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await abot.send_message(ALICE, "   ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await abot.send_message(ALICE, "长" * 4097)
    assert (await abot.send_message(ALICE, "长" * 4096)).text == "长" * 4096
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await abot.send_message(ALICE, "x", reply_markup=keyboard(("b", "é" * 33)))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await abot.send_message(424242, "hello?")
    emu.block_user(BOB)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await abot.send_message(BOB, "hello?")
    assert [r.status for r in emu.requests] == [400, 400, 400, 200, 400, 400, 403]


async def test_html_validator_rejects_raw_user_text_and_accepts_escaped(
        emu: BotApiEmulator, abot: Bot, pbot: telegram.Bot) -> None:
    user_text = '电线<杆>倒了 & "危险" <script>alert(1)</script>'
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await abot.send_message(ALICE, f"<b>反映：</b>{user_text}", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await abot.send_message(ALICE, "<b>A & B</b>", parse_mode="HTML")
    with pytest.raises(ptb_error.BadRequest, match=r"(?i)can't find end tag"):
        await pbot.send_message(ALICE, "<b>unclosed", parse_mode="HTML")
    sent = await abot.send_message(ALICE, f"<b>反映：</b>{html.escape(user_text)}",
                                   parse_mode="HTML")
    assert sent.text == f"反映：{user_text}"  # the person sees exactly what was typed
    assert sent.entities is not None and sent.entities[0].type == "bold"
    photo = await abot.send_photo(ALICE, BufferedInputFile(TINY_PNG, "p.png"),
                                  caption=f"<u>{html.escape('<x>')}</u>", parse_mode="HTML")
    assert photo.caption == "<x>"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await abot.send_photo(ALICE, BufferedInputFile(TINY_PNG, "p.png"), caption="<x>",
                              parse_mode="HTML")


# ---------------------------------------------------------------------------- updates
async def test_get_updates_offset_confirmation_and_limit(emu: BotApiEmulator,
                                                         abot: Bot) -> None:
    first = emu.send_text(ALICE, "/start tok123")
    second = emu.send_text(BOB, "电力迁改有问题")
    third = emu.send_sticker(ALICE)
    updates = await abot.get_updates(limit=2)
    assert [u.update_id for u in updates] == [first, second]
    msg = updates[0].message
    assert msg is not None and msg.text == "/start tok123"
    assert msg.entities is not None and msg.entities[0].type == "bot_command"
    assert msg.entities[0].length == len("/start")
    assert emu.pending_updates()[0]["update_id"] == first  # handed out, not yet confirmed

    updates = await abot.get_updates(offset=second + 1)
    assert [u.update_id for u in updates] == [third]
    assert updates[0].message is not None and updates[0].message.sticker is not None
    assert emu.is_confirmed(first) and emu.is_confirmed(second) and not emu.is_confirmed(third)
    assert emu.confirmed_offset == second + 1
    assert await abot.get_updates(offset=third + 1, timeout=1) == []  # long poll, nothing new
    await emu.wait_until_confirmed(third, timeout=1)
    assert emu.pending_updates() == []


async def test_long_poll_returns_when_an_update_arrives(emu: BotApiEmulator,
                                                        abot: Bot) -> None:
    poll = asyncio.create_task(abot.get_updates(timeout=30))
    await emu.wait_for(lambda: emu.waiting_polls == 1)
    update_id = emu.send_text(ALICE, "在吗")
    updates = await asyncio.wait_for(poll, 10)
    assert [u.update_id for u in updates] == [update_id]


async def test_newer_poll_ends_older_one_with_conflict(emu: BotApiEmulator, abot: Bot) -> None:
    old = asyncio.create_task(abot.get_updates(timeout=30))
    await emu.wait_for(lambda: emu.waiting_polls == 1)
    new = asyncio.create_task(abot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(old, 10)
    assert await new == []


async def test_redeliver_and_allowed_updates_with_ptb(emu: BotApiEmulator,
                                                      pbot: telegram.Bot) -> None:
    update_id = emu.send_text(ALICE, "第一条")
    got = await pbot.get_updates()
    assert [u.update_id for u in got] == [update_id]
    assert got[0].effective_user is not None and got[0].effective_user.first_name == "张三"
    assert await pbot.get_updates(offset=update_id + 1) == ()
    assert emu.is_confirmed(update_id)

    emu.redeliver(update_id)  # as if the confirmation never reached Telegram
    again = await pbot.get_updates(offset=update_id + 1)
    assert [u.update_id for u in again] == [update_id]
    assert again[0].message is not None and again[0].message.text == "第一条"
    assert await pbot.get_updates(offset=update_id + 1) == ()

    sent = await pbot.send_message(ALICE, "card", reply_markup=telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("ok", callback_data="ok")]]))
    emu.send_text(ALICE, "ignored text")
    press = emu.press(ALICE, sent.message_id, "ok")
    only = await pbot.get_updates(offset=update_id + 1, allowed_updates=["callback_query"])
    assert [u.update_id for u in only] == [press]
    query = only[0].callback_query
    assert query is not None and query.data == "ok" and query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("收到")
    assert (await emu.wait_for_callback_answer(press))["text"] == "收到"
    assert await pbot.get_updates(offset=press + 1, timeout=1) == ()  # long poll, nothing new


# ---------------------------------------------------------------------------- buttons
async def test_press_and_answer_callback(emu: BotApiEmulator, abot: Bot) -> None:
    card = await abot.send_message(ALICE, "#7 待受理", reply_markup=keyboard(("受理", "acc:7")))
    await abot.edit_message_text("#7 待受理（已更新）", chat_id=ALICE,
                                 message_id=card.message_id,
                                 reply_markup=keyboard(("受理", "acc:7")))
    update_id = emu.press(ALICE, card.message_id, text="受理")
    [update] = await abot.get_updates()
    query = update.callback_query
    assert query is not None and query.data == "acc:7" and query.chat_instance
    assert isinstance(query.message, Message)
    assert query.message.text == "#7 待受理（已更新）"  # the message as it is now
    assert await abot.answer_callback_query(query.id, text="已受理", show_alert=True)
    answer = await emu.wait_for_callback_answer(update_id)
    assert (answer["text"], answer["show_alert"], answer["user_id"]) == ("已受理", True, ALICE)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await abot.answer_callback_query(query.id)

    with pytest.raises(ValueError, match="no such button"):
        emu.press(ALICE, card.message_id, "acc:8")
    forged = emu.press(ALICE, card.message_id, "acc:8", strict=False)
    stale = emu.press(ALICE, 999, "acc:7", strict=False)
    updates = await abot.get_updates(offset=update.update_id + 1)
    assert [u.update_id for u in updates] == [forged, stale]
    assert updates[0].callback_query is not None and updates[0].callback_query.data == "acc:8"
    stale_query = updates[1].callback_query
    assert stale_query is not None
    assert isinstance(stale_query.message, InaccessibleMessage)


# ---------------------------------------------------------------------------- files
async def test_photo_upload_media_group_and_download_aiogram(emu: BotApiEmulator,
                                                             abot: Bot) -> None:
    photo = await abot.send_photo(ALICE, BufferedInputFile(b"site-photo", "site.jpg"),
                                  caption="现场照片")
    assert photo.photo is not None and len(photo.photo) == 3 and photo.caption == "现场照片"
    largest = photo.photo[-1]
    assert largest.file_size == len(b"site-photo")
    file = await abot.get_file(largest.file_id)
    assert file.file_path and file.file_size == len(b"site-photo")
    downloaded = await abot.download(file)
    assert downloaded is not None and downloaded.read() == b"site-photo"

    again = await abot.send_photo(BOB, largest.file_id)  # re-send by file_id
    assert again.photo is not None and again.photo[-1].file_id == largest.file_id

    album = await abot.send_media_group(ALICE, [
        InputMediaPhoto(media=BufferedInputFile(b"one", "1.jpg"), caption="第一张"),
        InputMediaPhoto(media=BufferedInputFile(b"two", "2.jpg")),
        InputMediaPhoto(media=largest.file_id),
    ])
    assert len(album) == 3 and len({m.media_group_id for m in album}) == 1
    assert album[0].caption == "第一张"
    second = album[1].photo
    assert second is not None
    file = await abot.get_file(second[-1].file_id)
    downloaded = await abot.download(file)
    assert downloaded is not None and downloaded.read() == b"two"
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await abot.get_file("nope")


async def test_photo_document_and_media_group_with_ptb(emu: BotApiEmulator,
                                                       pbot: telegram.Bot) -> None:
    sent = await pbot.send_photo(ALICE, photo=b"ptb-bytes", caption="ptb")
    file = await sent.photo[-1].get_file()
    assert file.file_path is not None and file.file_path.startswith(emu.ptb_base_file_url)
    assert bytes(await file.download_as_bytearray()) == b"ptb-bytes"
    doc = await pbot.send_document(ALICE, document=b"%PDF-1.4", filename="台账.pdf")
    assert doc.document is not None and doc.document.file_name == "台账.pdf"
    group = await pbot.send_media_group(ALICE, [telegram.InputMediaPhoto(b"a"),
                                                telegram.InputMediaPhoto(b"bb", caption="两张")])
    assert len(group) == 2 and group[1].caption == "两张"
    assert group[0].media_group_id == group[1].media_group_id


async def test_user_photo_album_and_document_are_downloadable(emu: BotApiEmulator,
                                                              abot: Bot,
                                                              pbot: telegram.Bot) -> None:
    emu.send_photo(ALICE, caption="高压线", image_bytes=b"jpeg-bytes")
    album = emu.send_album(BOB, 2, caption="两张图")
    emu.send_document(ALICE, b"xlsx-bytes", "台账.xlsx", "application/vnd.ms-excel")
    emu.send_contact(BOB, "+8613800000000")
    updates = await abot.get_updates()
    assert [u.update_id for u in updates][1:3] == album
    first = updates[0].message
    assert first is not None and first.photo is not None and first.caption == "高压线"
    file = await abot.get_file(first.photo[-1].file_id)
    downloaded = await abot.download(file)
    assert downloaded is not None and downloaded.read() == b"jpeg-bytes"
    group = {u.message.media_group_id for u in updates[1:3] if u.message}
    assert len(group) == 1 and None not in group
    ptb_updates = await pbot.get_updates()  # the same objects parse in PTB too
    document = ptb_updates[3].message.document if ptb_updates[3].message else None
    assert document is not None and document.file_name == "台账.xlsx"
    data = await (await pbot.get_file(document.file_id)).download_as_bytearray()
    assert bytes(data) == b"xlsx-bytes"
    contact = ptb_updates[4].message.contact if ptb_updates[4].message else None
    assert contact is not None and contact.user_id == BOB


# ---------------------------------------------------------------------------- faults
# PTB 22 itself reads its deprecated int-valued retry_after while building RetryAfter.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_surfaces_in_both_libraries(emu: BotApiEmulator, abot: Bot,
                                                      pbot: telegram.Bot) -> None:
    emu.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await abot.send_message(ALICE, "通知")
    assert caught.value.retry_after == 7
    assert emu.requests[-1].response == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7}}
    assert emu.sent_messages(ALICE) == []  # a 429 sends nothing
    await abot.send_message(ALICE, "通知")  # only the next call failed

    emu.fail_next("sendMessage", 429, retry_after=3, count=2)
    for _ in range(2):
        with pytest.raises(ptb_error.RetryAfter, match="Retry in 3 seconds"):
            await pbot.send_message(ALICE, "通知")
    await pbot.send_message(ALICE, "通知")
    assert len(emu.sent_messages(ALICE)) == 2


async def test_server_errors_and_dropped_connections(emu: BotApiEmulator, abot: Bot,
                                                     pbot: telegram.Bot) -> None:
    emu.fail_next("sendMessage", 500)
    with pytest.raises(TelegramServerError):
        await abot.send_message(ALICE, "x")
    emu.fail_next("*", 502, applied=True)  # performed, but the answer is lost
    with pytest.raises(ptb_error.NetworkError, match="Bad Gateway"):
        await pbot.send_message(ALICE, "送达但未确认")
    assert [m["text"] for m in emu.sent_messages(ALICE)] == ["送达但未确认"]
    emu.fail_next("sendMessage", status=0)
    with pytest.raises(TelegramNetworkError):
        await abot.send_message(ALICE, "y")
    assert [r.status for r in emu.requests_for("sendMessage")] == [500, 502, 0]


async def test_reply_keyboards_replies_captions_and_deletes(emu: BotApiEmulator,
                                                            abot: Bot) -> None:
    share = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="共享手机号",
                                                          request_contact=True)]],
                                resize_keyboard=True, one_time_keyboard=True)
    prompt = await abot.send_message(ALICE, "请共享手机号", reply_markup=share)
    assert prompt.reply_markup is None  # Telegram does not echo reply keyboards
    shown = emu.reply_keyboard(ALICE)
    assert shown is not None and shown["keyboard"][0][0]["request_contact"] is True
    await abot.send_message(ALICE, "好的", reply_markup=ReplyKeyboardRemove())
    assert emu.reply_keyboard(ALICE) is None
    assert await abot.send_chat_action(ALICE, "typing")

    asked = emu.send_text(ALICE, "进度如何？")
    user_msg = emu.update(asked)["message"]
    answer = await abot.send_message(ALICE, "办理中", reply_parameters=ReplyParameters(
        message_id=user_msg["message_id"]))
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "进度如何？"
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await abot.edit_message_text("改别人的话", chat_id=ALICE,
                                     message_id=user_msg["message_id"])

    photo = await abot.send_photo(ALICE, BufferedInputFile(TINY_PNG, "p.png"), caption="旧")
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await abot.edit_message_text("x", chat_id=ALICE, message_id=photo.message_id)
    edited = await abot.edit_message_caption(chat_id=ALICE, message_id=photo.message_id,
                                             caption="新")
    assert isinstance(edited, Message) and edited.caption == "新"
    assert await abot.delete_message(ALICE, photo.message_id)
    assert emu.message(ALICE, photo.message_id) is None
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await abot.delete_message(ALICE, photo.message_id)
    info = await abot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 1
    assert [m["message_id"] for m in emu.history(ALICE)][-2:] == [
        user_msg["message_id"], answer.message_id]


# ---------------------------------------------------------------------------- commands
async def test_commands_per_scope(emu: BotApiEmulator, abot: Bot) -> None:
    scope = BotCommandScopeChat(chat_id=ALICE)
    assert await abot.set_my_commands([BotCommand(command="todo", description="待办")],
                                      scope=scope)
    assert await abot.set_my_commands([BotCommand(command="start", description="开始")])
    assert emu.get_commands({"type": "chat", "chat_id": ALICE}) == [
        {"command": "todo", "description": "待办"}]
    assert [c.command for c in await abot.get_my_commands(scope=scope)] == ["todo"]
    assert [c["command"] for c in emu.get_commands()] == ["start"]
    assert await abot.delete_my_commands(scope=scope)
    assert emu.get_commands({"type": "chat", "chat_id": ALICE}) == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await abot.set_my_commands([BotCommand(command="Bad Name", description="x")])


# ---------------------------------------------------------------------------- webhook
class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 answering a scripted list of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.hits: list[tuple[str | None, dict[str, Any]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                          await request.json()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = next(a[1] for a in self.runner.addresses if isinstance(a, tuple))
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_webhook_delivery_secret_and_redelivery(emu: BotApiEmulator, abot: Bot) -> None:
    async with Receiver([500, 200]) as receiver:
        assert await abot.set_webhook(receiver.url, secret_token="s3cret_Token-1",
                                      allowed_updates=["message", "callback_query"])
        update_id = emu.send_text(ALICE, "webhook 你好")
        await emu.wait_until_confirmed(update_id)
        assert [h[1]["update_id"] for h in receiver.hits] == [update_id, update_id]
        assert {h[0] for h in receiver.hits} == {"s3cret_Token-1"}
        assert receiver.hits[1][1]["message"]["text"] == "webhook 你好"
        info = await abot.get_webhook_info()
        assert info.url == receiver.url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message
        assert [d["status"] for d in emu.webhook_deliveries] == [500, 200]
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await abot.get_updates()
        assert await abot.delete_webhook()
    queued = emu.send_text(BOB, "back to polling")
    assert [u.update_id for u in await abot.get_updates()] == [queued]


async def test_webhook_keeps_order_per_chat_and_aiogram_reply_in_body(
        emu: BotApiEmulator, abot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> Any:
        return message.answer(f"echo: {message.text}")  # sent back in the webhook response

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=abot, secret_token="right",
                         handle_in_background=False).register(app, path="/tg")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    try:
        # A wrong secret is refused by aiogram (401): Telegram keeps retrying the same update.
        await abot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="wrong")
        first = emu.send_text(ALICE, "一")
        second = emu.send_text(ALICE, "二")
        await emu.wait_for(lambda: len(emu.webhook_deliveries) >= 2)
        assert {d["update_id"] for d in emu.webhook_deliveries} == {first}  # order kept
        await abot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="right")
        await emu.wait_until_confirmed(second)
        await emu.wait_for_message(ALICE, "echo: 二")
        assert [m["text"] for m in emu.sent_messages(ALICE)] == ["echo: 一", "echo: 二"]
        replies = [r for r in emu.requests if r.via == "webhook_reply"]
        assert [r.method for r in replies] == ["sendMessage", "sendMessage"]
        await abot.delete_webhook()
    finally:
        await runner.cleanup()


async def test_webhook_posts_to_the_url_path_as_it_was_set(emu: BotApiEmulator,
                                                          abot: Bot) -> None:
    # Telegram POSTs to the URL as given: escapes stay as they are (none decoded, none added
    # to what is already escaped); only what may not stand in a request line is escaped.
    targets: list[str] = []

    async def record(request: web.Request) -> web.Response:
        targets.append(request.raw_path)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    paths = ["/hook%2Fa", "/tok%25en", "/%7Ebot/a%41%2f", "/q?x=%2F&y=1", "/tg hook/钩子"]
    try:
        for path in paths:
            await abot.set_webhook(f"http://127.0.0.1:{port}{path}")
            await emu.wait_until_confirmed(emu.send_text(ALICE, path))
        await abot.delete_webhook()
    finally:
        await runner.cleanup()
    assert targets == ["/hook%2Fa", "/tok%25en", "/%7Ebot/a%41%2f", "/q?x=%2F&y=1",
                       "/tg%20hook/%E9%92%A9%E5%AD%90"]


# ---------------------------------------------------------------------------- real runtimes
async def test_aiogram_dispatcher_polling_loop(emu: BotApiEmulator, abot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        name = message.from_user.full_name if message.from_user else ""
        await message.answer(f"欢迎 {html.escape(name)}，邀请码 {html.escape(command.args or '')}",
                             parse_mode="HTML", reply_markup=keyboard(("确认", "ok:1")))

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("已确认")
        if isinstance(query.message, Message):
            await query.message.edit_text("已确认 ✅")

    polling = asyncio.create_task(dp.start_polling(abot, handle_signals=False,
                                                   polling_timeout=1, close_bot_session=False))
    try:
        start_update = emu.send_text(ALICE, "/start a<b>")
        welcome = await emu.wait_for_message(ALICE, "欢迎", timeout=10)
        assert welcome["text"] == "欢迎 张三 Zhang，邀请码 a<b>"
        press = emu.press(ALICE, welcome["message_id"], "ok:1")
        answer = await emu.wait_for_callback_answer(press, timeout=10)
        assert answer["text"] == "已确认"
        await emu.wait_for_message(ALICE, "已确认 ✅", timeout=10)
        assert "reply_markup" not in (emu.last_message(ALICE) or {})
        await emu.wait_until_confirmed(press, timeout=10)
        assert emu.is_confirmed(start_update)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 10)


async def test_ptb_application_polling_loop(emu: BotApiEmulator) -> None:
    async def echo(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"收到：{update.message.text}")

    app = (ApplicationBuilder().token(emu.token).base_url(emu.ptb_base_url)
           .base_file_url(emu.ptb_base_file_url).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        try:
            emu.send_text(BOB, "PTB 你好")
            reply = await emu.wait_for_message(BOB, "收到", timeout=10)
            assert reply["text"] == "收到：PTB 你好"
        finally:
            await app.updater.stop()
            await app.stop()


# ---------------------------------------------------------------------------- control
async def test_http_control_interface(emu: BotApiEmulator, abot: Bot) -> None:
    await control(emu, "users", {"user_id": 2001, "first_name": "王五", "username": "wangwu"})
    update_id = (await control(emu, "send_text", {"user_id": 2001, "text": "/mine"}))["update_id"]
    [update] = await abot.get_updates()
    assert update.update_id == update_id and update.message is not None
    card = await abot.send_message(2001, "卡片", reply_markup=keyboard(("查看", "v:1")))
    waited = await control(emu, "wait_message", chat_id=2001, contains="卡片")
    assert waited["message_id"] == card.message_id
    pressed = await control(emu, "press", {"user_id": 2001, "message_id": card.message_id,
                                           "data": "v:1"})
    assert pressed["update_id"] > update_id
    photo = await control(emu, "send_photo", {"user_id": 2001, "caption": "图"})
    sticker = await control(emu, "send_sticker", {"user_id": 2001})
    raw = await control(emu, "inject_update", {"update": {"message": {
        "message_id": 77, "date": 0, "chat": {"id": 2001, "type": "private", "first_name": "王五"},
        "from": {"id": 2001, "is_bot": False, "first_name": "王五"}, "text": "forged"}}})
    assert sorted(u["update_id"] for u in await control(emu, "updates")) == [
        update_id, pressed["update_id"], photo["update_id"], sticker["update_id"],
        raw["update_id"]]
    await control(emu, "fail_next", {"method": "sendMessage", "status": 429, "retry_after": 2})
    with pytest.raises(TelegramRetryAfter):
        await abot.send_message(2001, "x")
    messages = await control(emu, "messages", chat_id=2001)
    assert [m["text"] for m in messages] == ["卡片"]
    requests = await control(emu, "requests", method="sendMessage")
    assert [r["status"] for r in requests] == [200, 429]
    state = await control(emu, "state")
    assert state["confirmed_offset"] == 0 and 2001 in [u["id"] for u in state["users"]]
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.base_url}/_emu/send_text", json={"user_id": 9999, "text": "?"}) as resp:
        assert resp.status == 400 and "unknown user" in (await resp.json())["error"]


async def test_standalone_entry_point() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.emulator", "--port", "0", "--user", "3001:赵六",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        base = line.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/bot123456:TEST/getMe") as resp:
                assert (await resp.json())["result"]["username"] == "zhitong_demo_bot"
            async with session.post(f"{base}/_emu/send_text",
                                    json={"user_id": 3001, "text": "hi"}) as resp:
                assert (await resp.json())["ok"]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


async def test_a_round_trip_and_a_late_answer_as_over_a_network(emu: BotApiEmulator) -> None:
    loop = asyncio.get_running_loop()
    emu.rtt = 0.2
    began, began_wall = loop.time(), time.time()  # requests are stamped with wall time
    status, body = await raw_call(emu, "sendMessage", json={"chat_id": ALICE, "text": "hi"})
    took = loop.time() - began
    assert (status, body["result"]["text"]) == (200, "hi")
    # Applied half-way (the request travelling there), answered after the whole round trip.
    applied_after = emu.requests_for("sendMessage")[-1].time - began_wall
    assert 0.1 - 0.01 <= applied_after < took
    assert took >= 0.2 - 0.01
    emu.rtt = 0.0
    emu.delay_next("sendMessage", 0.3)
    assert emu.faults_waiting() == 1
    began = loop.time()
    status, body = await raw_call(emu, "sendMessage", json={"chat_id": ALICE, "text": "late"})
    assert (status, body["result"]["text"]) == (200, "late")  # answered normally, only late
    assert loop.time() - began >= 0.3 - 0.01
    assert emu.faults_waiting() == 0
    status, _ = await raw_call(emu, "sendMessage", json={"chat_id": ALICE, "text": "on time"})
    assert status == 200 and len(emu.sent_messages(ALICE)) == 3
    with pytest.raises(ValueError):
        BotApiEmulator(rtt=-1)


async def test_a_webhook_url_that_cannot_be_requested_is_a_failed_delivery() -> None:
    # setWebhook's check lets a port over 65535 through: each delivery fails, is recorded and
    # backed off (as an unreachable URL is), instead of its task dying and being made again.
    emu = BotApiEmulator()
    await emu.start()
    try:
        emu.add_user(800001, "韩经理")
        emu.api.set_webhook({"url": "http://127.0.0.1:99999/hook"}, {})
        emu.send_text(800001, "hi")
        await asyncio.sleep(0.5)
        assert 1 <= len(emu.webhook_deliveries) < 10
        assert emu.webhook is not None and emu.webhook.last_error_message
    finally:
        await emu.stop()
