"""`zhitong webhook info|delete` against the Bot API emulator over HTTP.

The command runs in a thread (it starts its own event loop) while the emulator serves on this
test's loop; every request it sends is checked against the published Bot API spec."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from bot import texts
from bot.cli import main
from bot.cli_run import listen_refusal
from bot.cli_webhook import describe
from bot.emulator import BotApiEmulator
from bot.webhook import serve
from tests.bot.api_spec import load_spec, spec_path

ALICE = 1001


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    if not spec_path().exists():
        pytest.skip(f"Bot API spec not found at {spec_path()} (set ZHITONG_BOT_API_SPEC)")
    async with BotApiEmulator(webhook_retry_delay=0.05) as emulator:
        emulator.add_user(ALICE, "张三")
        yield emulator
    load_spec().assert_valid_requests([r for r in emulator.requests if r.status != 401])


async def zhitong(emu: BotApiEmulator, *args: str, token: str | None = None) -> Result:
    env = {"ZHITONG_BOT_TOKEN": token if token is not None else emu.token,
           "ZHITONG_TELEGRAM_API": emu.base_url, "ZHITONG_TIMEZONE": "Asia/Shanghai"}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def call(emu: BotApiEmulator, method: str, **params: Any) -> Any:
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.base_url}/bot{emu.token}/{method}", json=params) as resp:
        body = await resp.json()
        assert body["ok"], body
        return body["result"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def failing_webhook(emu: BotApiEmulator) -> str:
    """A webhook Telegram cannot reach, with an update queued behind it."""
    url = f"http://127.0.0.1:{closed_port()}/tg"
    await call(emu, "setWebhook", url=url, allowed_updates=["message"])
    emu.send_text(ALICE, "你好")
    for _ in range(200):
        if emu.webhook is not None and emu.webhook.last_error_date is not None:
            return url
        await asyncio.sleep(0.02)
    raise AssertionError("the emulator never tried the webhook")


async def test_info_shows_a_failing_webhook_and_what_to_do(emu: BotApiEmulator) -> None:
    url = await failing_webhook(emu)
    out = await zhitong(emu, "webhook", "info")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert texts.WEBHOOK_URL.format(url=url) in lines
    assert texts.WEBHOOK_PENDING.format(count=1) in lines
    assert any(line.startswith("最近一次推送错误:") and "秒前" in line
               and "Connection failed" in line for line in lines)
    # Subscribed to messages only: the bot also needs edits and button presses.
    assert texts.WEBHOOK_MISSING_TYPES.format(types="edited_message, callback_query") in lines
    assert texts.WEBHOOK_FAILING_HINT in lines


async def test_info_json_is_telegrams_answer(emu: BotApiEmulator) -> None:
    url = await failing_webhook(emu)
    out = await zhitong(emu, "webhook", "info", "--json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["url"] == url and shown["pending_update_count"] == 1
    assert shown["allowed_updates"] == ["message"] and "last_error_message" in shown


async def test_info_without_a_webhook_says_polling(emu: BotApiEmulator) -> None:
    out = await zhitong(emu, "webhook", "info")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [texts.WEBHOOK_NONE]


async def test_a_healthy_webhook_shows_no_warning(emu: BotApiEmulator) -> None:
    await call(emu, "setWebhook", url="https://bot.example.org/tg",
               allowed_updates=["message", "edited_message", "callback_query"])
    out = await zhitong(emu, "webhook", "info")
    assert out.exit_code == 0, out.output
    assert texts.WEBHOOK_NO_ERROR in out.output.splitlines()
    assert "注意" not in out.output and "提示" not in out.output


async def test_delete_keeps_pending_updates_unless_told(emu: BotApiEmulator) -> None:
    await failing_webhook(emu)
    out = await zhitong(emu, "webhook", "delete")
    assert out.exit_code == 0, out.output
    assert out.output.strip() == texts.WEBHOOK_DELETED
    assert emu.webhook is None
    assert (await call(emu, "getWebhookInfo"))["pending_update_count"] == 1
    await failing_webhook(emu)
    out = await zhitong(emu, "webhook", "delete", "--drop-pending")
    assert out.exit_code == 0, out.output
    assert out.output.strip() == texts.WEBHOOK_DELETED_DROPPED
    assert (await call(emu, "getWebhookInfo"))["pending_update_count"] == 0


async def test_a_wrong_token_is_named_and_changes_nothing(emu: BotApiEmulator) -> None:
    await call(emu, "setWebhook", url="https://bot.example.org/tg")
    out = await zhitong(emu, "webhook", "delete", token="999:WRONG")
    assert out.exit_code == 1
    assert texts.WEBHOOK_BAD_TOKEN in out.output
    assert emu.webhook is not None and emu.webhook.url == "https://bot.example.org/tg"


async def test_no_token_or_no_bot_api_is_a_plain_answer(emu: BotApiEmulator) -> None:
    out = await zhitong(emu, "webhook", "info", token="")
    assert out.exit_code == 2 and texts.WEBHOOK_NO_TOKEN in out.output
    env = {"ZHITONG_BOT_TOKEN": emu.token,
           "ZHITONG_TELEGRAM_API": f"http://127.0.0.1:{closed_port()}"}
    out = await asyncio.to_thread(CliRunner().invoke, main, ["webhook", "info"], env=env)
    assert out.exit_code == 1
    assert out.output.startswith("连不上 Bot API(http://127.0.0.1:")


def test_an_old_error_is_shown_in_local_time_without_the_hint() -> None:
    error_at = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)  # 00:30 on the 6th in Beijing
    info = {"url": "https://bot.example.org/tg", "pending_update_count": 2,
            "last_error_date": int(error_at.timestamp()),
            "last_error_message": "Wrong response from the webhook: 502 Bad Gateway"}
    lines = describe(info, "Asia/Shanghai", error_at + timedelta(days=1, hours=2))
    assert texts.WEBHOOK_LAST_ERROR.format(
        when="2026-12-06 00:30:00", ago="1 天前",
        error="Wrong response from the webhook: 502 Bad Gateway") in lines
    assert texts.WEBHOOK_FAILING_HINT not in lines
    recent = describe(info, "Asia/Shanghai", error_at + timedelta(minutes=3))
    assert texts.WEBHOOK_FAILING_HINT in recent
    assert any("3 分钟前" in line for line in recent)


@pytest.mark.parametrize("api", ["api.telegram.org", "http://127.0.0.1:99999",
                                 "http://[::1"])
def test_a_malformed_bot_api_address_is_named_without_the_token(api: str) -> None:
    token = "123456:SECRET-token_value"
    out = CliRunner().invoke(main, ["webhook", "info"],
                             env={"ZHITONG_BOT_TOKEN": token, "ZHITONG_TELEGRAM_API": api})
    assert out.exit_code == 1
    assert "SECRET" not in out.output
    assert "ZHITONG_TELEGRAM_API" in out.output or "连不上 Bot API" in out.output


async def test_an_address_that_is_not_the_bot_api_is_named(emu: BotApiEmulator) -> None:
    # Something answers, but not the Bot API: an HTML page, or a JSON 404 for a wrong path.
    from aiohttp import web

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html>nginx</html>", content_type="text/html", status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = closed_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        env = {"ZHITONG_BOT_TOKEN": emu.token,
               "ZHITONG_TELEGRAM_API": f"http://127.0.0.1:{port}"}
        out = await asyncio.to_thread(CliRunner().invoke, main, ["webhook", "info"], env=env)
        assert out.exit_code == 1
        assert texts.WEBHOOK_NOT_BOT_API.format(api=f"http://127.0.0.1:{port}",
                                                status=404) in out.output
    finally:
        await runner.cleanup()
    out = await zhitong(emu, "webhook", "info", token="not-a-token")
    assert out.exit_code == 1
    assert "ZHITONG_BOT_TOKEN" in out.output and "not-a-token" not in out.output


# --- `zhitong run --webhook`: what Telegram would refuse is refused before anything starts ---

GOOD_SECRET = "wh-Secret_0123456789abcdef"
GOOD_URL = "https://bot.example.gov.cn/telegram/webhook"


def run_webhook(monkeypatch: pytest.MonkeyPatch, *args: str, secret: str = GOOD_SECRET,
                api: str | None = None) -> tuple[Result, list[Any]]:
    """`zhitong run --webhook …`, with the runtime replaced: what it would have started with."""
    from bot import cli_run

    started: list[Any] = []

    async def runtime(_settings: Any, _with_scheduler: bool, webhook: Any = None) -> None:
        started.append(webhook)

    monkeypatch.setattr(cli_run, "_main", runtime)
    env = {"ZHITONG_BOT_TOKEN": "123456:ABC-token", "ZHITONG_WEBHOOK_SECRET": secret,
           "ZHITONG_TELEGRAM_API": api}
    return CliRunner().invoke(main, ["run", "--webhook", *args], env=env), started


def refused_with(out: Result, *problems: str) -> bool:
    return (out.exit_code == 2 and out.exception is not None
            and isinstance(out.exception, SystemExit) and "Traceback" not in out.output
            and out.stderr.splitlines() == [texts.WEBHOOK_SETUP_INVALID, *problems])


def test_a_webhook_secret_telegram_would_refuse_is_named_before_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Base64 output (`+ / =`) or a stray space: Telegram's setWebhook refuses the secret, and
    # workers started with --no-set-webhook would refuse every update. Said at once, in plain
    # words, with the characters at fault but not the secret itself.
    secret = "abc+def/ghi= jkl"
    out, started = run_webhook(monkeypatch, GOOD_URL, secret=secret)
    assert refused_with(out, texts.WEBHOOK_SECRET_BAD_CHARS.format(chars="' ' '+' '/' '='"))
    assert secret not in out.output and started == []
    out, started = run_webhook(monkeypatch, GOOD_URL, secret="a" * 257)
    assert refused_with(out, texts.WEBHOOK_SECRET_TOO_LONG.format(length=257))
    assert started == []
    out, started = run_webhook(monkeypatch, GOOD_URL, secret="a" * 256)
    assert out.exit_code == 0 and [w.secret for w in started] == ["a" * 256]


@pytest.mark.parametrize("url, problem", [
    ("http://bot.example.gov.cn/telegram/webhook", texts.WEBHOOK_URL_NOT_HTTPS),
    ("bot.example.gov.cn/telegram/webhook", texts.WEBHOOK_URL_INVALID),
    ("https:///telegram/webhook", texts.WEBHOOK_URL_INVALID),
    ("https://bot.example.gov.cn:99999/tg", texts.WEBHOOK_URL_INVALID),
    ("https://[::1/tg", texts.WEBHOOK_URL_INVALID),
    ("https://bot.example.gov.cn:8080/telegram/webhook", texts.WEBHOOK_URL_BAD_PORT),
])
def test_a_webhook_url_telegram_would_refuse_is_named_before_start(
        monkeypatch: pytest.MonkeyPatch, url: str, problem: str) -> None:
    # Telegram's own servers push only to https, on ports 443, 80, 88 and 8443.
    out, started = run_webhook(monkeypatch, url)
    assert refused_with(out, problem.format(url=url, port=8080))
    assert started == []


@pytest.mark.parametrize("url", [GOOD_URL, "https://bot.example.gov.cn",
                                 "https://bot.example.gov.cn:8443/tg", "HTTPS://Bot.example.gov.cn/"])
def test_a_good_webhook_set_up_starts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    out, started = run_webhook(monkeypatch, url, "--listen", "[::1]:8081")
    assert out.exit_code == 0, out.output
    [webhook] = started
    assert (webhook.url, webhook.listen, webhook.secret) == (url, "[::1]:8081", GOOD_SECRET)


def test_plain_http_is_left_to_a_self_hosted_bot_api(monkeypatch: pytest.MonkeyPatch) -> None:
    # A self-hosted Bot API server (`telegram-bot-api --local`) and the built-in emulator push
    # to http:// on any port; the same URL is refused while the Bot API is Telegram's own.
    url = "http://127.0.0.1:8081/telegram/webhook"
    out, started = run_webhook(monkeypatch, url, api="http://127.0.0.1:8088")
    assert out.exit_code == 0, out.output
    assert [w.url for w in started] == [url]
    out, started = run_webhook(monkeypatch, url, api="https://api.telegram.org/")
    assert refused_with(out, texts.WEBHOOK_URL_NOT_HTTPS.format(url=url))
    assert started == []


@pytest.mark.parametrize("listen", ["::1:8443", "127.0.0.1", "127.0.0.1:http", "[::1]"])
def test_a_listen_address_that_cannot_be_served_is_named_before_start(
        monkeypatch: pytest.MonkeyPatch, listen: str) -> None:
    out, started = run_webhook(monkeypatch, GOOD_URL, "--listen", listen)
    assert refused_with(out, texts.LISTEN_INVALID.format(listen=listen))
    assert started == []


def test_every_webhook_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://bot.example.gov.cn/tg"
    out, started = run_webhook(monkeypatch, url, "--listen", "[::1]8443", secret="s=")
    assert refused_with(out, texts.WEBHOOK_SECRET_BAD_CHARS.format(chars="'='"),
                        texts.WEBHOOK_URL_NOT_HTTPS.format(url=url),
                        texts.LISTEN_INVALID.format(listen="[::1]8443"))
    assert started == []


def test_run_help_says_it_polls_or_takes_a_webhook() -> None:
    """It used to say 「运行机器人(轮询 Bot API)」 only."""
    out = CliRunner().invoke(main, ["run", "--help"])
    assert out.exit_code == 0
    summary = out.output.split("Options:")[0]
    assert "轮询" in summary and "--webhook" in summary


def test_a_listen_address_in_use_is_refused_before_the_start_is_announced(
        sqlite_url: str, emulator_in_thread: BotApiEmulator) -> None:
    """It used to print 「项目直通车已启动」, then an OSError traceback (exit 1)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        env = {"ZHITONG_DATABASE_URL": sqlite_url, "ZHITONG_BOT_TOKEN": emulator_in_thread.token,
               "ZHITONG_TELEGRAM_API": emulator_in_thread.base_url,
               "ZHITONG_WEBHOOK_SECRET": GOOD_SECRET}
        out = CliRunner().invoke(main, ["run", "--webhook", f"http://127.0.0.1:{port}/tg",
                                        "--listen", f"127.0.0.1:{port}"], env=env)
    assert out.exit_code == 2, (out.output, out.exception)
    assert isinstance(out.exception, SystemExit) and "Traceback" not in out.output
    assert out.stderr.splitlines() == [texts.LISTEN_IN_USE.format(listen=f"127.0.0.1:{port}")]
    assert texts.RUN_STARTED.split("(")[0] not in out.output
    assert emulator_in_thread.webhook is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def no_ipv6_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    real_socket, real_gai = socket.socket, socket.getaddrinfo

    def make_socket(family: Any = socket.AF_INET, *args: Any, **kwargs: Any) -> Any:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real_socket(family, *args, **kwargs)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":  # /etc/hosts: 127.0.0.1 localhost / ::1 localhost
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port))),
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", int(port), 0, 0))]
        return real_gai(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", make_socket)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


async def test_probe_agrees_with_the_server_on_a_host_without_ipv6(no_ipv6_kernel: None) -> None:
    # IPv6 off in the kernel while /etc/hosts still maps ::1 to localhost: asyncio's server
    # skips that family, and so must the probe before the start.
    port = free_port()
    runner = await serve(web.Application(), "localhost", port)  # the real start: listens
    await runner.cleanup()
    assert listen_refusal(f"localhost:{port}") is None
