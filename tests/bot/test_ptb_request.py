"""PTB over aiohttp (bot/ptb_request.py): python-telegram-bot's own Bot driving the emulator
over real HTTP, every request checked against the published Bot API spec."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import telegram
from telegram import error as ptb_error
from telegram.request import HTTPXRequest

from bot.emulator import BotApiEmulator
from bot.ptb_adapter import make_bot
from bot.ptb_request import AiohttpRequest, env_proxy
from tests.bot.api_spec import load_spec, spec_path

ALICE = 1001


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    if not spec_path().exists():
        pytest.skip(f"Bot API spec not found at {spec_path()} (set ZHITONG_BOT_API_SPEC)")
    async with BotApiEmulator() as emulator:
        emulator.add_user(ALICE, "张三")
        yield emulator
    load_spec().assert_valid_requests(emulator.requests)


def bot_on(emu: BotApiEmulator, read_timeout: float = 5.0) -> telegram.Bot:
    return telegram.Bot(emu.token, base_url=emu.ptb_base_url,
                        base_file_url=emu.ptb_base_file_url,
                        request=AiohttpRequest(connections=4, read_timeout=read_timeout))


async def test_messages_edits_uploads_and_downloads_go_through(emu: BotApiEmulator) -> None:
    async with bot_on(emu) as bot:
        assert bot.bot.is_bot  # PTB's own getMe at start-up came back and parsed
        sent = await bot.send_message(ALICE, "<b>你好</b> &amp; 再见", parse_mode="HTML")
        await bot.edit_message_text("改过了", chat_id=ALICE, message_id=sent.message_id)
        photo = await bot.send_photo(ALICE, photo=b"chart-bytes", caption="趋势图")
        file = await bot.get_file(photo.photo[-1].file_id)
        downloaded = bytes(await file.download_as_bytearray())
    assert [m.get("text") for m in emu.sent_messages(ALICE)] == ["改过了", None]
    calls = {r.method: r for r in emu.requests}
    assert list(calls) == ["getMe", "sendMessage", "editMessageText", "sendPhoto", "getFile"]
    assert calls["sendMessage"].params["parse_mode"] == "HTML"
    assert calls["editMessageText"].params["text"] == "改过了"
    assert calls["sendPhoto"].params["photo"].data == b"chart-bytes"  # a multipart upload
    assert calls["sendPhoto"].params["caption"] == "趋势图"
    assert downloaded == b"chart-bytes"


async def test_an_uploaded_file_keeps_its_chinese_name(emu: BotApiEmulator) -> None:
    # Telegram's Bot API server takes the multipart `filename` as written (it neither
    # percent-decodes it nor reads `filename*`): the name sent is the name the person sees.
    async with bot_on(emu) as bot:
        sent = await bot.send_document(ALICE, b"PK\x03\x04ledger", filename="问题台账.xlsx")
    assert emu.requests_for("sendDocument")[0].params["document"].filename == "问题台账.xlsx"
    assert sent.document is not None and sent.document.file_name == "问题台账.xlsx"


async def test_telegram_errors_reach_ptb_as_ptb_errors(emu: BotApiEmulator) -> None:
    async with bot_on(emu) as bot:
        emu.fail_next("sendMessage", 429, retry_after=7)
        with pytest.raises(ptb_error.RetryAfter) as flood:
            await bot.send_message(ALICE, "太快了")
        # An int in PTB 22, a timedelta once PTB_TIMEDELTA is on: either way, Telegram's 7 s.
        assert flood.value.retry_after in (7, timedelta(seconds=7))
        with pytest.raises(ptb_error.BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(424242, "无此人")
        emu.fail_next("sendMessage", 0)  # the connection drops without an answer
        with pytest.raises(ptb_error.NetworkError, match="aiohttp"):
            await bot.send_message(ALICE, "断线")
        assert (await bot.send_message(ALICE, "恢复")).text == "恢复"


async def test_a_slow_answer_times_out_and_a_dead_server_is_a_network_error(
        emu: BotApiEmulator) -> None:
    async with bot_on(emu, read_timeout=0.2) as bot:
        emu.delay_next("sendMessage", 1.0)
        with pytest.raises(ptb_error.TimedOut):
            await bot.send_message(ALICE, "慢")
        # PTB's own per-call read timeout wins over the default.
        emu.delay_next("sendMessage", 0.4)
        assert (await bot.send_message(ALICE, "等得起", read_timeout=2)).text == "等得起"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = telegram.Bot(emu.token, base_url=f"http://127.0.0.1:{port}/bot",
                        request=AiohttpRequest(connections=1))
    await dead.request.initialize()
    try:
        with pytest.raises(ptb_error.NetworkError):
            await dead.get_me()
    finally:
        await dead.request.shutdown()


async def test_an_unstarted_request_says_so() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/x", "POST")


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https", "api.telegram.org") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "botapi.internal")
    assert env_proxy("https", "api.telegram.org") == "http://proxy.example:3128"
    assert env_proxy("https", "botapi.internal") is None
    assert env_proxy("http", "api.telegram.org") is None
    monkeypatch.setenv("ALL_PROXY", "http://all.example:8080")
    assert env_proxy("http", "api.telegram.org") == "http://all.example:8080"


def test_make_bot_picks_the_http_client() -> None:
    fast = make_bot("1:T", "http://127.0.0.1:9", connections=12)
    stock = make_bot("1:T", "http://127.0.0.1:9", connections=12, http="httpx")
    assert isinstance(fast.request, AiohttpRequest)
    assert isinstance(stock.request, HTTPXRequest)
    assert fast.request._connections == 12


async def test_tls_trusts_certifis_roots_even_where_the_system_has_none() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        tls = request._session.connector._ssl  # type: ignore[union-attr]
        assert isinstance(tls, ssl.SSLContext) and tls.verify_mode == ssl.CERT_REQUIRED
        assert len(tls.get_ca_certs()) > 50  # certifi's bundle (system roots would not load)
    finally:
        await request.shutdown()
