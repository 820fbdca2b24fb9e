"""A webhook update due to be spent while the database is away waits (503), like any other."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from bot.runtime_common import apply_webhook_inbound
from bot.webhook import SECRET_HEADER, SPEND_AFTER_FAILURES, make_webhook_app, serve
from domain.clock import FrozenClock
from handlers.config import DeskConfig
from handlers.desk import Desk
from handlers.inbound import Inbound, Kind
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWorkFactory
from tests.bot.test_webhook import PATH, SECRET, Server, free_port
from tests.outage import Switchable

HAN = 800001


async def test_spending_an_update_while_the_database_is_away_is_retried_not_dropped(
        uow_factory: UnitOfWorkFactory, clock: FrozenClock, config: DeskConfig,
        tagger: Any) -> None:
    # An update failed SPEND_AFTER_FAILURES times (a fault in it). Its next delivery is to be
    # spent: the person told 「系统暂时出了点问题……请稍后再发一次」. If the database is away at
    # that moment, spending it is an outage like any other (503: Telegram delivers it again),
    # not "the runtime cannot read it" (200 dropped: the person is never told anything).
    from tests.factories import load_example_org

    await load_example_org(uow_factory, clock.now())
    store = Switchable(uow_factory)
    desk = Desk(store, clock, config, tagger)  # type: ignore[arg-type]
    inb = Inbound(update_id=7, user_id=HAN, chat_id=HAN, first_name="韩经理",
                  kind=Kind.TEXT, text="你好")

    async def tell() -> None:
        return None

    async def apply(data: dict[str, Any], give_up: bool) -> None:
        if not give_up:
            raise RuntimeError("a fault in this update")  # its first deliveries
        await apply_webhook_inbound(desk, inb, tell, give_up)

    port = free_port()
    runner: web.AppRunner = await serve(
        make_webhook_app(PATH, SECRET, apply, lambda: store.reachable(timeout=1.0)),
        "127.0.0.1", port)
    try:
        server = Server(port, [])
        body = json.dumps({"update_id": 7}).encode()
        header = SECRET_HEADER.encode() + b": " + SECRET.encode() + b"\r\n"
        for _ in range(SPEND_AFTER_FAILURES):
            assert await server.post(header, body) == 500
        store.down = True
        status = await server.post(header, body)
    finally:
        await runner.cleanup()
    async with uow_factory() as uow:
        spent = (await uow.session.execute(
            select(func.count()).select_from(ProcessedUpdate))).scalar_one()
    assert spent == 0  # nothing recorded, the person not told
    assert status != 200, "dropped (200) while the database was away"


async def test_a_spend_failing_with_a_non_outage_operational_error_is_not_503_for_ever() -> None:
    # An error of the kind an outage raises, while the database answers (a read-only SQLite
    # file): spending the update fails the same way every time. It must be dropped in the
    # end, not answered 503 (Telegram delivering it for ever).
    async def apply(data: dict[str, Any], give_up: bool) -> None:
        raise sa_exc.OperationalError("INSERT INTO processed_updates ...", {},
                                      Exception("attempt to write a readonly database"))

    port = free_port()
    runner: web.AppRunner = await serve(make_webhook_app(PATH, SECRET, apply), "127.0.0.1", port)
    try:
        server = Server(port, [])
        body = json.dumps({"update_id": 9}).encode()
        header = SECRET_HEADER.encode() + b": " + SECRET.encode() + b"\r\n"
        statuses = [await server.post(header, body) for _ in range(SPEND_AFTER_FAILURES + 5)]
    finally:
        await runner.cleanup()
    assert statuses[-1] == 200, f"never dropped, Telegram redelivers for ever: {statuses}"
