"""The database goes away under the running bot (restart, fail-over, a cut network).

On PostgreSQL the bot reaches the server through a relay the test can cut: every open connection is dropped
and new ones are refused, as a database restart looks from the bot's side. Nothing a person
sends meanwhile is lost or answered with an error: they are told once that it will be handled,
the update is not acknowledged, and it is applied when the database answers again. On
SQLite the same holds for a write lock another process keeps past the busy wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers import texts
from tests.e2e.test_webhook import WebhookWorld
from tests.e2e.world import World
from tests.tcp_relay import TcpRelay, relay_database

pytestmark = pytest.mark.e2e

HAN, ZHOU = 800001, 900012
HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"


@pytest.fixture(params=[pytest.param("polling", marks=pytest.mark.postgres),
                        pytest.param("webhook", marks=pytest.mark.postgres)])
async def cut(request: pytest.FixtureRequest, postgres_url: str, framework: str,
              tagger: object) -> AsyncIterator[tuple[World, TcpRelay]]:
    database_url = postgres_url  # cutting the database off needs a database server
    from domain.clock import SystemClock
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWorkFactory
    from tests.factories import load_example_org

    engine = make_engine(database_url)
    await load_example_org(UnitOfWorkFactory(make_sessionmaker(engine)), SystemClock().now())
    await engine.dispose()
    relay, relayed = await relay_database(database_url)
    kind = WebhookWorld if request.param == "webhook" else World
    w = kind(relayed, framework, tagger)  # type: ignore[arg-type]
    await w.start()
    try:
        yield w, relay
        assert w.spec_problems() == []
    finally:
        relay.restore()
        await w.close()
        await relay.close()


def texts_of(world: World, user: int) -> list[str]:
    return [str(m.get("text") or "") for m in world.messages(user)]


async def test_a_report_sent_while_the_database_is_down_is_applied_when_it_is_back(
        cut: tuple[World, Any]) -> None:
    world, relay = cut
    await world.say(HAN, "/help")  # the bot is up and has met the database
    relay.cut()
    update = world.emu.send_text(HAN, HV_LINE)
    notice = await world.emu.wait_for_message(HAN, texts.STORE_WAIT, timeout=10)
    assert notice["text"] == texts.STORE_WAIT
    assert not world.emu.is_confirmed(update)  # not acknowledged: Telegram still holds it
    relay.restore()
    await world.settle(timeout=30)
    assert world.emu.is_confirmed(update)
    said = texts_of(world, HAN)
    assert texts.SYSTEM_ERROR not in said
    assert said.count(texts.STORE_WAIT) == 1
    drafts = [m for m in world.messages(HAN) if texts.BTN_SUBMIT in world.words(m)]
    assert len(drafts) == 1 and "水电气网配套" in drafts[0]["text"]
    await world.press(HAN, "提交")
    [ticket] = await world.tickets()
    assert ticket.status == "submitted"
    assert texts.BTN_ACCEPT in world.words(world.with_button(ZHOU, "受理"))


@pytest.mark.postgres
@pytest.mark.parametrize("cut", ["polling"], indirect=True)
async def test_a_press_while_the_database_is_down_is_applied_when_it_is_back(
        cut: tuple[World, Any]) -> None:
    world, relay = cut
    await world.say(HAN, HV_LINE)
    card = world.with_button(HAN, "提交")
    label = next(b["text"] for b in world.buttons(card) if "提交" in b["text"])
    relay.cut()
    press = world.emu.press(HAN, card["message_id"], text=label)
    assert await world.toast(press) == texts.STORE_WAIT_TOAST
    relay.restore()
    await world.settle(timeout=30)
    [ticket] = await world.tickets()
    assert ticket.status == "submitted"
    assert any("诉求编号" in t for t in texts_of(world, HAN))
    assert texts.SYSTEM_ERROR not in texts_of(world, HAN)


@pytest.mark.postgres
@pytest.mark.parametrize("cut", ["polling"], indirect=True)
async def test_a_database_restart_between_two_messages_goes_unnoticed(
        cut: tuple[World, Any]) -> None:
    world, relay = cut
    await world.say(HAN, "/help")
    before = len(world.messages(HAN))
    relay.cut()  # every pooled connection dies …
    relay.restore()  # … and the database is back at once
    await world.say(HAN, HV_LINE)
    said = texts_of(world, HAN)[before:]
    assert len(said) == 1 and "水电气网配套" in said[0]  # the draft card, nothing else


@pytest.mark.postgres
@pytest.mark.parametrize("cut", ["webhook"], indirect=True)
async def test_a_webhook_answers_503_past_its_patience_and_the_redelivery_is_applied(
        cut: tuple[World, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import runtime_common

    monkeypatch.setattr(runtime_common, "WEBHOOK_PATIENCE", 0.3)
    world, relay = cut
    assert isinstance(world, WebhookWorld)
    await world.say(HAN, "/help")
    relay.cut()
    update = world.emu.send_text(HAN, HV_LINE)
    await world.emu.wait_for(lambda: world.deliveries(update).count(503) >= 2, 15)
    relay.restore()
    await world.settle(timeout=30)
    assert world.deliveries(update)[-1] == 200 and 200 not in world.deliveries(update)[:-1]
    said = texts_of(world, HAN)
    assert said.count(texts.STORE_WAIT) == 1  # told once, not at every delivery
    assert len([m for m in world.messages(HAN) if texts.BTN_SUBMIT in world.words(m)]) == 1



async def test_stopped_while_waiting_for_the_database_the_update_waits_for_the_next_start(
        cut: tuple[World, Any]) -> None:
    # SIGTERM during an outage (a rolling restart, the host shutting down): the bot stops at
    # once rather than waiting out the outage, the update is not spent, and the next start
    # applies it.
    world, relay = cut
    await world.say(HAN, "/help")
    relay.cut()
    update = world.emu.send_text(HAN, HV_LINE)
    await world.emu.wait_for_message(HAN, texts.STORE_WAIT, timeout=10)
    await world.stop_bot()  # fails the test if it takes 15 s
    assert not world.emu.is_confirmed(update)
    relay.restore()
    await world.start_bot()
    await world.settle(timeout=30)
    drafts = [m for m in world.messages(HAN) if texts.BTN_SUBMIT in world.words(m)]
    assert len(drafts) == 1 and "水电气网配套" in drafts[0]["text"]


@pytest.fixture
async def sqlite_world(sqlite_url: str, tagger: object,
                       monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    from domain.clock import SystemClock
    from storage import db
    from storage.uow import UnitOfWorkFactory
    from tests.factories import load_example_org

    # Another process holding SQLite's write lock longer than the busy wait (10 s in
    # production, shortened here) is SQLite's form of a database that cannot be reached.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = db.make_engine(sqlite_url)
    await load_example_org(UnitOfWorkFactory(db.make_sessionmaker(engine)), SystemClock().now())
    await engine.dispose()
    w = World(sqlite_url, "aiogram", tagger)  # type: ignore[arg-type]
    await w.start()
    try:
        yield w
    finally:
        await w.close()


async def test_sqlite_locked_by_another_process_for_long_is_waited_for(
        sqlite_world: World, sqlite_url: str) -> None:
    import sqlite3

    from sqlalchemy.engine import make_url

    world = sqlite_world
    await world.say(HAN, "/help")
    other = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a long `zhitong org load`, or a backup
    try:
        update = world.emu.send_text(HAN, HV_LINE)
        await world.emu.wait_for_message(HAN, texts.STORE_WAIT, timeout=10)
        assert not world.emu.is_confirmed(update)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await world.settle(timeout=30)
    said = texts_of(world, HAN)
    assert texts.SYSTEM_ERROR not in said
    assert len([m for m in world.messages(HAN) if texts.BTN_SUBMIT in world.words(m)]) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("cut", ["webhook"], indirect=True)
async def test_healthz_says_whether_the_worker_can_apply_updates(
        cut: tuple[World, Any]) -> None:
    import aiohttp

    world, relay = cut
    assert isinstance(world, WebhookWorld)
    health = world.url.rsplit("/telegram/", 1)[0] + "/healthz"

    async def check() -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(health) as resp:
            return resp.status, await resp.json()

    assert await check() == (200, {"ok": True, "database": "ok"})
    relay.cut()
    assert await check() == (503, {"ok": False, "database": "unreachable"})
    relay.restore()
    assert await check() == (200, {"ok": True, "database": "ok"})
