"""Webhook mode on both runtimes: the emulator POSTs updates to the bot's own HTTP server.

The bot listens on a free 127.0.0.1 port and calls setWebhook with its secret; the emulator
delivers every update by POST with the secret header and retries until it gets a 2xx. The
secret is required (401 otherwise, nothing changes), and an update is applied exactly once even
when its first delivery failed or it arrives twice.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import event, func, select

from bot.app import WebhookOptions
from bot.webhook import SECRET_HEADER, SPEND_AFTER_FAILURES
from handlers import texts
from storage.models import Draft, ProcessedUpdate, Ticket
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

HAN, ZHOU = 800001, 900012
HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"
SECRET = "wh-Secret_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebhookWorld(World):
    """The same world, but the bot runs in webhook mode behind the emulator's POSTs."""

    def __init__(self, database_url: str, framework: str, tagger: Any,
                 path: str = "/telegram/webhook") -> None:
        super().__init__(database_url, framework, tagger)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.emu.webhook_retry_delay = 0.05
        self.emu.webhook_retry_max_delay = 0.2

    def settings(self) -> Any:
        s = super().settings()
        s.webhook_secret = SECRET
        return s

    async def start_bot(self) -> None:
        task = await self.start_task()
        await self.emu.wait_for(lambda: self.emu.webhook is not None or task.done(), 15)
        if task.done():
            await task  # raises what went wrong

    async def start_task(self) -> asyncio.Task[None]:
        """The runtime started in webhook mode, as a task (not waited for)."""
        self.stop = asyncio.Event()
        from bot.app import build_core

        self.core = await build_core(self.settings(), tagger=self.tagger)
        options = WebhookOptions(self.url, f"127.0.0.1:{self.port}", SECRET)
        if self.framework == "ptb":
            from bot.ptb_adapter import run_ptb

            runner = run_ptb(self.core, self.stop, with_scheduler=False, webhook=options)
        else:
            from bot.app import run_aiogram

            runner = run_aiogram(self.core, self.stop, with_scheduler=False, webhook=options)
        self.task = asyncio.create_task(runner)
        return self.task

    async def post(self, update: dict[str, Any], secret: str | None) -> int:
        """POST an update straight to the bot, as anyone on the network could."""
        headers = {} if secret is None else {SECRET_HEADER: secret}
        async with aiohttp.ClientSession() as http, http.post(
                self.url, json=update, headers=headers) as resp:
            return resp.status

    async def count(self, model: Any, *where: Any) -> int:
        assert self.core is not None
        async with self.core.uow_factory() as uow:
            q = select(func.count()).select_from(model).where(*where)
            return int((await uow.session.execute(q)).scalar_one())

    def deliveries(self, update_id: int) -> list[int | None]:
        return [d["status"] for d in self.emu.webhook_deliveries if d["update_id"] == update_id]


def raw_text_update(update_id: int, user_id: int, name: str, text: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": name}
    return {"update_id": update_id, "message": {
        "message_id": 10_000 + update_id % 10_000, "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": name},
        "from": person, "text": text}}


async def load_org(database_url: str) -> None:
    from domain.clock import SystemClock
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWorkFactory
    from tests.factories import load_example_org

    engine = make_engine(database_url)
    await load_example_org(UnitOfWorkFactory(make_sessionmaker(engine)), SystemClock().now())
    await engine.dispose()


@pytest.fixture
async def hook(database_url: str, framework: str, tagger: object) -> AsyncIterator[WebhookWorld]:
    await load_org(database_url)
    w = WebhookWorld(database_url, framework, tagger)
    await w.start()
    try:
        yield w
        assert w.spec_problems() == []
    finally:
        await w.close()


@pytest.fixture
def fail_once_on(hook: WebhookWorld) -> Iterator[list[str]]:
    """`fail_once_on.append("INSERT INTO tickets")`: the next such statement raises once."""
    assert hook.core is not None
    armed: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        for prefix in list(armed):
            if statement.lstrip().upper().startswith(prefix.upper()):
                armed.remove(prefix)
                raise RuntimeError(f"injected database failure on {prefix}")

    target = hook.core.engine.sync_engine
    event.listen(target, "before_cursor_execute", before)
    yield armed
    event.remove(target, "before_cursor_execute", before)


async def test_chat_loop_over_webhook(hook: WebhookWorld) -> None:
    assert hook.emu.webhook is not None
    assert hook.emu.webhook.url == hook.url and hook.emu.webhook.secret_token == SECRET
    await hook.say(HAN, HV_LINE)
    card = hook.last(HAN)
    assert "水电气网配套" in card["text"]
    assert hook.words(card) == [texts.BTN_SUBMIT, texts.BTN_CHANGE_CATEGORY, texts.BTN_CANCEL]
    assert await hook.press(HAN, "提交")
    assert "诉求编号" in hook.text(HAN)
    official = hook.with_button(ZHOU, "受理")
    assert hook.words(official) == [texts.BTN_ACCEPT, texts.BTN_TRANSFER, texts.BTN_RETURN]
    assert await hook.press(ZHOU, "受理") == "已受理"
    [ticket] = await hook.tickets()
    assert ticket.status == "in_progress"
    # Every update went by POST and was answered 2xx the first time; no polling happened.
    assert {d["status"] for d in hook.emu.webhook_deliveries} == {200}
    assert len(hook.emu.webhook_deliveries) == 3
    assert hook.emu.requests_for("getUpdates") == []


async def test_secret_required(hook: WebhookWorld) -> None:
    update = raw_text_update(90_001, HAN, "韩经理", HV_LINE)
    assert await hook.post(update, None) == 401
    assert await hook.post(update, "wrong-secret") == 401
    assert await hook.post(update, SECRET[:-1]) == 401
    assert await hook.post(update, SECRET + "x") == 401
    assert await hook.post(update, "") == 401
    await asyncio.sleep(0.2)
    assert await hook.count(ProcessedUpdate) == 0
    assert await hook.count(Draft) == 0
    assert hook.emu.sent_messages(HAN) == []

    assert await hook.post(update, SECRET) == 200
    await hook.settle()
    assert await hook.count(ProcessedUpdate, ProcessedUpdate.update_id == 90_001) == 1
    card = hook.last(HAN)
    assert texts.BTN_SUBMIT in hook.words(card)


async def test_failed_update_is_redelivered_and_applied_once(
        hook: WebhookWorld, fail_once_on: list[str]) -> None:
    await hook.say(HAN, HV_LINE)
    fail_once_on.append("INSERT INTO tickets")
    await hook.press(HAN, "提交")
    press = hook.last_update
    # The first delivery failed inside the transaction (rolled back, 5xx); the retry applied it.
    statuses = hook.deliveries(press)
    assert statuses[0] == 500 and statuses[-1] == 200 and statuses.count(200) == 1
    assert await hook.count(Ticket) == 1
    receipts = [m for m in hook.messages(HAN) if "诉求编号" in (m.get("text") or "")]
    assert len(receipts) == 1
    assert len([m for m in hook.messages(ZHOU) if texts.BTN_ACCEPT in hook.words(m)]) == 1


async def test_same_update_twice_is_applied_once(hook: WebhookWorld) -> None:
    first = await hook.say(HAN, HV_LINE)
    hook.emu.redeliver(first)  # Telegram did not see our 2xx and sends it again
    await hook.settle()
    assert hook.deliveries(first) == [200, 200]
    cards = [m for m in hook.messages(HAN) if texts.BTN_SUBMIT in hook.words(m)]
    assert len(cards) == 1
    # One press POSTed three times at once (e.g. a proxy retrying a slow request): one ticket.
    card = cards[0]
    submit = next(b["callback_data"] for b in hook.buttons(card) if "提交" in b["text"])
    person = {"id": HAN, "is_bot": False, "first_name": "韩经理"}
    raw = {"update_id": 90_002, "callback_query": {
        "id": "90002", "from": person, "chat_instance": str(HAN), "message": card,
        "data": submit}}
    statuses = await asyncio.gather(*(hook.post(raw, SECRET) for _ in range(3)))
    assert statuses == [200, 200, 200]
    await hook.settle()
    assert await hook.count(Ticket) == 1
    assert len([m for m in hook.messages(HAN) if "诉求编号" in (m.get("text") or "")]) == 1


async def test_restart_keeps_the_webhook_and_loses_nothing(hook: WebhookWorld) -> None:
    await hook.settle()  # (rows a sender held when it stopped wait out their lease)
    await hook.stop_bot()
    update_id = hook.emu.send_text(HAN, HV_LINE)  # arrives while the bot is down
    await hook.emu.wait_for(lambda: len(hook.deliveries(update_id)) >= 2, 10)
    assert set(hook.deliveries(update_id)) == {None}  # connection refused, retried
    await hook.start_bot()
    await hook.emu.wait_until_confirmed(update_id, timeout=15)
    await hook.settle()
    assert hook.deliveries(update_id)[-1] == 200
    assert texts.BTN_SUBMIT in hook.words(hook.last(HAN))


@pytest.fixture
def always_fail_on(hook: WebhookWorld) -> Iterator[list[str]]:
    """`always_fail_on.append("INSERT INTO tickets")`: every such statement raises (a bug
    that a certain update always runs into)."""
    assert hook.core is not None
    prefixes: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(statement.lstrip().upper().startswith(p.upper()) for p in prefixes):
            raise RuntimeError("injected fault")

    target = hook.core.engine.sync_engine
    event.listen(target, "before_cursor_execute", before)
    yield prefixes
    event.remove(target, "before_cursor_execute", before)


async def test_an_update_that_always_fails_is_spent_and_the_person_told(
        hook: WebhookWorld, always_fail_on: list[str]) -> None:
    # Polling tells the person at the first failure; a webhook gives a passing fault its
    # retries first, then does the same instead of letting Telegram retry for hours.
    await hook.say(HAN, HV_LINE)
    always_fail_on.append("INSERT INTO tickets")
    toast = await hook.press(HAN, "提交")
    press = hook.last_update
    assert hook.deliveries(press) == [500, 500, 500, 200]
    assert toast == texts.SYSTEM_ERROR
    assert await hook.count(Ticket) == 0
    assert await hook.count(ProcessedUpdate, ProcessedUpdate.update_id == press) == 1
    hook.emu.redeliver(press)  # spent: a redelivery changes nothing
    await hook.settle()
    assert hook.deliveries(press)[-1] == 200 and await hook.count(Ticket) == 0
    always_fail_on.append("INSERT INTO drafts")
    always_fail_on.append("UPDATE drafts")
    text = await hook.say(HAN, "另外,施工用电的临时变压器也一直没有装")
    assert hook.deliveries(text) == [500, 500, 500, 200]
    assert hook.text(HAN) == texts.SYSTEM_ERROR


async def test_an_edit_arrives_by_webhook_too(hook: WebhookWorld) -> None:
    assert hook.emu.webhook is not None
    assert "edited_message" in (hook.emu.webhook.allowed_updates or [])
    first = await hook.say(HAN, HV_LINE)
    source = int(hook.emu.update(first)["message"]["message_id"])
    edit = hook.emu.edit_text(HAN, source, "企业反映用地指标还没下达,土地出让手续没办完")
    await hook.settle()
    assert hook.deliveries(edit) == [200]
    assert hook.text(HAN) == texts.EDIT_APPLIED
    assert "用地保障" in hook.with_button(HAN, "提交")["text"]


@pytest.mark.parametrize("path", ["", "/", "/zhitong/tg%20hook", "/hook%2Fa", "/tok%25en"])
async def test_the_worker_listens_where_the_webhook_url_points(
        database_url: str, framework: str, tagger: object, path: str) -> None:
    # `zhitong run --webhook https://bot.example.gov.cn` (no path, or just "/"): Telegram POSTs
    # to "/", so that is where the worker listens; a path with an escaped character (an
    # escaped "/" or "%" too) is matched as Telegram sends it. Every update is answered 200
    # the first time, none 404.
    await load_org(database_url)
    w = WebhookWorld(database_url, framework, tagger, path=path)
    await w.start()
    try:
        assert w.emu.webhook is not None and w.emu.webhook.url == w.url
        await w.say(HAN, HV_LINE)
        assert texts.BTN_SUBMIT in w.words(w.last(HAN))
        assert await w.press(HAN, "提交")
        assert "诉求编号" in w.text(HAN)
        assert {d["status"] for d in w.emu.webhook_deliveries} == {200}
        assert len(w.emu.webhook_deliveries) == 2
    finally:
        await w.close()


async def test_an_update_the_runtime_cannot_read_is_dropped_after_its_retries(
        hook: WebhookWorld) -> None:
    # Valid JSON with an update_id, but not an Update the framework can build (a message
    # without chat or date; in life, a Bot API change the installed library chokes on). It
    # fails before the desk, so it cannot be spent the usual way either: after its retries it
    # is answered 200 (logged) instead of 500 for as long as Telegram keeps it, redeliveries
    # too. Nothing is recorded, and the next update is applied as usual.
    raw = {"update_id": 90_100, "message": {"message_id": 1, "text": "你好"}}
    statuses = [await hook.post(raw, SECRET) for _ in range(SPEND_AFTER_FAILURES + 2)]
    assert statuses == [500] * SPEND_AFTER_FAILURES + [200, 200]
    assert await hook.count(ProcessedUpdate) == 0
    assert hook.emu.sent_messages(HAN) == []
    await hook.say(HAN, HV_LINE)
    assert texts.BTN_SUBMIT in hook.words(hook.last(HAN))
    assert {d["status"] for d in hook.emu.webhook_deliveries} == {200}


@pytest.mark.parametrize("call", ["getMe", "setWebhook"])
async def test_a_flood_wait_at_start_up_is_waited_out(
        database_url: str, framework: str, tagger: object, call: str) -> None:
    # Telegram answers the first getMe (or setWebhook) with 429 retry_after=1 (a restart
    # loop, several workers started at once): the worker asks again only after that second,
    # then starts as usual instead of ending in a traceback.
    await load_org(database_url)
    w = WebhookWorld(database_url, framework, tagger)
    w.emu.fail_next(call, 429, retry_after=1)
    try:
        await w.start()
        await w.emu.wait_for(lambda: w.emu.webhook is not None, 10)
        first, second = w.emu.requests_for(call)[:2]
        assert (first.status, second.status) == (429, 200)
        assert second.time - first.time >= 1.0
        await w.say(HAN, HV_LINE)
        assert texts.BTN_SUBMIT in w.words(w.last(HAN))
    finally:
        await w.close()


async def test_a_webhook_path_in_chinese_receives_updates_as_telegram_sends_them(
        database_url: str, framework: str, tagger: object) -> None:
    # Telegram requests the path exactly as it was set, non-ASCII bytes raw, which aiohttp's
    # server refuses with 400: the worker sets it escaped, so what arrives is ASCII.
    from tests.bot.test_webhook import post_to, tdlib_request_target

    await load_org(database_url)
    w = WebhookWorld(database_url, framework, tagger, path="/钩子")
    await w.start()
    try:
        registered = w.emu.requests_for("setWebhook")[-1].params["url"]
        update = raw_text_update(990001, HAN, "韩经理", "你好")
        status = await post_to(w.port, b"POST", tdlib_request_target(registered),
                               json.dumps(update).encode())
        assert status == 200, registered
    finally:
        await w.close()


async def test_set_webhook_is_retried_after_a_proxys_html_502(
        sqlite_url: str, framework: str, tagger: object) -> None:
    # nginx's own HTML "502 Bad Gateway" while a self-hosted Bot API server restarts: a 5xx
    # like any other, though not JSON (aiogram raises ClientDecodeError for it).
    await load_org(sqlite_url)
    w = WebhookWorld(sqlite_url, framework, tagger)
    real_apply = w.emu._apply
    failed: list[int] = []

    async def behind_nginx(canonical: str, params: dict[str, Any], files: Any,
                           request: web.Request) -> web.StreamResponse:
        if canonical == "setWebhook" and not failed:
            failed.append(1)
            return web.Response(status=502, content_type="text/html",
                                text="<html><head><title>502 Bad Gateway</title></head>"
                                     "<body><center><h1>502 Bad Gateway</h1></center>"
                                     "<hr><center>nginx</center></body></html>")
        return await real_apply(canonical, params, files, request)

    w.emu._apply = behind_nginx  # type: ignore[method-assign]
    try:
        await w.start()  # raises what ended the worker
        await w.emu.wait_for(lambda: w.emu.webhook is not None, 10)
        assert failed
    finally:
        await w.close()


async def test_a_set_webhook_telegram_refuses_ends_the_worker(
        sqlite_url: str, framework: str, tagger: object) -> None:
    # Telegram's refusal ("bad webhook: …") is not an outage: the worker ends with the reason
    # instead of listening on for ever with no webhook set (PTB's BadRequest is a
    # NetworkError, which start-up retries).
    await load_org(sqlite_url)
    w = WebhookWorld(sqlite_url, framework, tagger)
    w.emu.fail_next("setWebhook", 400, count=10_000,
                    description="Bad Request: bad webhook: Failed to resolve host: "
                                "Name or service not known")
    await w.emu.start()
    try:
        task = await w.start_task()
        await w.emu.wait_for(lambda: task.done(), 10)  # (a retry for ever would time out)
        assert task.exception() is not None
    finally:
        await w.close()
