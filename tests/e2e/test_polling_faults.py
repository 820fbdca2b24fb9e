"""Polling outlives any getUpdates answer (a proxy's own error sent with 200, a null result,
a webhook that keeps standing in the way) without spinning, and a bad update spent alone
never takes a valid one of its batch with it. Both runtimes, over HTTP against the emulator."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from domain.clock import SystemClock
from tests.e2e.world import PEOPLE, World
from tests.factories import load_example_org, make_uow_factory

pytestmark = pytest.mark.e2e

HAN, YANG = 800001, 800002
WEBHOOK_409 = ("Conflict: can't use getUpdates method while webhook is active; use "
               "deleteWebhook to delete the webhook first")


def polling_task() -> asyncio.Task[object]:
    [polling] = [t for t in asyncio.all_tasks() if t.get_name() == "polling"]
    return polling


def assert_still_polling(polling: asyncio.Task[object]) -> None:
    ended = polling.done() and not polling.cancelled() and polling.exception()
    assert not polling.done(), f"the polling task ended: {ended!r}"


async def still_answering(world: World, polling: asyncio.Task[object]) -> None:
    """A moment after the bad answer, polling goes on and the next /help is answered (the
    second of the test)."""
    await asyncio.sleep(0.5)
    assert_still_polling(polling)
    await world.say(HAN, "/help")
    assert len([m for m in world.messages(HAN) if "/mine" in (m.get("text") or "")]) == 2


async def test_polling_outlives_a_get_updates_answer_without_result(world: World) -> None:
    # A 200 whose JSON body carries no "result" (an API proxy in ZHITONG_TELEGRAM_API that
    # answers its own errors with 200, or a truncated body): one bad answer, then normal ones.
    await world.say(HAN, "/help")
    polling = polling_task()
    world.emu.fail_next("getUpdates", status=200, description="proxy: upstream error")
    await world.emu.wait_for_request("getUpdates", lambda r: r.status == 200
                                     and r.response is not None and not r.response.get("ok"))
    await still_answering(world, polling)


async def test_polling_outlives_a_get_updates_result_of_null(world: World) -> None:
    # {"ok": true, "result": null}: PTB's own get_updates died on it too (de_list(None)),
    # aiogram keeps polling.
    await world.say(HAN, "/help")
    polling = polling_task()
    emu = world.emu
    original = emu._get_updates
    answered = asyncio.Event()

    async def once_null(params, request):  # type: ignore[no-untyped-def]
        if not answered.is_set():
            answered.set()
            return None
        return await original(params, request)

    emu._get_updates = once_null  # type: ignore[method-assign]
    await asyncio.wait_for(answered.wait(), 10)
    await still_answering(world, polling)


async def test_a_webhook_conflict_that_persists_does_not_spin(world: World) -> None:
    # getUpdates keeps answering 409 "webhook is active" although deleteWebhook succeeds
    # (another process keeps setting it, or Telegram has not caught up yet): the poller may
    # delete and retry, but must pause between rounds, not hammer the Bot API.
    await world.say(HAN, "/help")
    before = len(world.emu.requests_for("deleteWebhook"))
    world.emu.fail_next("getUpdates", status=409, count=10_000, description=WEBHOOK_409)
    await asyncio.sleep(2.0)
    world.emu.clear_faults()
    deletes = len(world.emu.requests_for("deleteWebhook")) - before
    assert deletes <= 6, f"{deletes} deleteWebhook calls in 2 s"


async def test_valid_updates_around_a_bad_one_in_one_batch_are_all_applied(world: World) -> None:
    await world.say(HAN, "/help")
    message = world.emu.update(world.last_update)["message"]
    # One getUpdates batch: a valid update, one the library cannot parse, two valid ones.
    world.emu.send_text(YANG, "/help")
    world.emu.inject_update({"message": {**message, "entities": [{"type": "bold"}]}})
    world.emu.send_text(HAN, "/help")
    world.emu.send_text(YANG, "/help")
    await world.settle()
    helps = {u: len([m for m in world.messages(u) if "/mine" in (m.get("text") or "")])
             for u in (HAN, YANG)}
    assert helps == {HAN: 2, YANG: 2}
    batches = [len(r.response["result"]) for r in world.emu.requests_for("getUpdates")
               if r.response and r.response.get("ok")]
    assert max(batches) == 4  # they did come as one batch


async def world_not_started(sqlite_url: str, framework: str, tagger: object) -> World:
    """The example organisation and the emulator up, the bot not yet started."""
    engine, uow_factory = make_uow_factory(sqlite_url)
    try:
        await load_example_org(uow_factory, SystemClock().now())
    finally:
        await engine.dispose()
    world = World(sqlite_url, framework, tagger)  # type: ignore[arg-type]
    await world.emu.start()
    for uid, name in PEOPLE.items():
        world.emu.add_user(uid, name)
    return world


async def test_a_polling_start_that_deletes_a_webhook_says_so(
        sqlite_url: str, framework: str, tagger: object,
        caplog: pytest.LogCaptureFixture) -> None:
    # A poller started beside webhook workers unhooks them all (docs/deployment.md): the
    # operator must find that in its log, not only in getWebhookInfo.
    world = await world_not_started(sqlite_url, framework, tagger)
    try:
        async with aiohttp.ClientSession() as http, http.post(
                world.emu.method_url("setWebhook"),
                json={"url": "http://127.0.0.1:9/telegram/webhook"}) as resp:
            assert resp.status == 200
        caplog.set_level(logging.WARNING, logger="bot.runtime_common")
        await world.start_bot()
        await world.emu.wait_for(lambda: world.emu.webhook is None, timeout=10)
        assert [r for r in caplog.records if "http://127.0.0.1:9/telegram/webhook"
                in r.getMessage() and r.levelno == logging.WARNING]
        await world.say(HAN, "/help")  # and polls on
        assert any("/mine" in (m.get("text") or "") for m in world.messages(HAN))
    finally:
        await world.close()


async def test_polling_starts_when_the_api_has_no_get_webhook_info(
        sqlite_url: str, framework: str, tagger: object) -> None:
    # A Bot API proxy that forwards the methods the bot needs but not getWebhookInfo (asked
    # only for the warning above): deleteWebhook and polling go ahead all the same.
    world = await world_not_started(sqlite_url, framework, tagger)
    world.emu.fail_next("getWebhookInfo", 404, count=10_000, description="Not Found")
    try:
        await world.start_bot()
        await world.say(HAN, "/help")  # settle() raises TimeoutError when nobody polls
        assert any("/mine" in (m.get("text") or "") for m in world.messages(HAN))
    finally:
        await world.close()
