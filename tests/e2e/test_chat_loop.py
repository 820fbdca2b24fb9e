"""The whole chat loop through the emulator with real polling, on both runtimes."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from handlers import stats_texts, texts
from tests.e2e.test_webhook import free_port
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

HAN, YANG, ZHOU, QIAN, ZHAO, LI, FENG, WU = (800001, 800002, 900012, 900011, 900001, 900002,
                                             900016, 900013)
HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"


async def test_report_accept_resolve_redo_and_rate(world: World) -> None:
    await world.say(HAN, HV_LINE)
    card = world.last(HAN)
    assert "水电气网配套" in card["text"]
    assert [w for w in world.words(card)] == [texts.BTN_SUBMIT, texts.BTN_CHANGE_CATEGORY,
                                              texts.BTN_CANCEL]
    await world.press(HAN, "提交")
    assert "诉求编号" in world.text(HAN)

    assert world.words(world.last(ZHOU)) == [texts.BTN_ACCEPT, texts.BTN_TRANSFER,
                                             texts.BTN_RETURN]
    assert await world.press(ZHOU, "受理") == "已受理"
    assert "受理" in world.text(HAN)
    await world.press(ZHOU, "办结")
    await world.say(ZHOU, "已完成杆线迁移方案")
    assert world.words(world.last(HAN)) == [texts.BTN_SATISFIED, texts.BTN_BASICALLY,
                                            texts.BTN_UNSATISFIED]
    await world.press(HAN, "不满意")
    await world.say(HAN, "只迁了一半")
    assert "不满意" in world.text(LI)
    await world.press(ZHOU, "办结")
    await world.say(ZHOU, "全部迁移完毕")
    await world.press(HAN, "满意")
    assert "已销号" in world.text(HAN)
    [ticket] = await world.tickets()
    assert (ticket.status, ticket.rating, ticket.reopen_count) == ("closed", "satisfied", 1)


@pytest.mark.parametrize("framework", ["ptb+httpx"])
async def test_ptb_on_its_stock_http_client_runs_the_same_loop(world: World) -> None:
    # ZHITONG_PTB_HTTP=httpx: PTB's own HTTPXRequest instead of bot/ptb_request.py.
    assert world.core is not None and world.core.settings.ptb_http == "httpx"
    await world.say(HAN, HV_LINE)
    await world.press(HAN, "提交")
    assert "诉求编号" in world.text(HAN)
    assert await world.press(ZHOU, "受理") == "已受理"
    assert "受理" in world.text(HAN)


async def test_redelivered_update_creates_one_draft_and_one_ticket(world: World) -> None:
    first = await world.say(HAN, HV_LINE)
    world.emu.redeliver(first)
    await world.settle()
    cards = [m for m in world.messages(HAN) if texts.BTN_SUBMIT in world.words(m)]
    assert len(cards) == 1
    await world.press(HAN, "提交")
    world.emu.redeliver(world.last_update)
    await world.settle()
    assert len(await world.tickets()) == 1


async def test_double_press_and_two_officials(world: World) -> None:
    await world.say(FENG, "/report")
    await world.press(FENG, "豫东智能家居产业园")
    await world.say(FENG, "企业反映土地出让手续迟迟没有办完,用地指标还没下达")
    await world.press(FENG, "提交")
    card = world.with_button(QIAN, "受理")
    accept = next(b["callback_data"] for b in world.buttons(card) if "受理" in b["text"])
    assert await world.press(QIAN, "受理") == "已受理"
    # The same button again (an old keyboard): harmless.
    toast = await world.press_data(QIAN, card["message_id"], accept)
    assert toast and "已" in toast
    [ticket] = await world.tickets()
    assert ticket.status == "in_progress"


async def test_forged_and_stranger_presses_change_nothing(world: World) -> None:
    await world.say(HAN, HV_LINE)
    await world.press(HAN, "提交")
    card = world.with_button(ZHOU, "受理")
    accept = next(b["callback_data"] for b in world.buttons(card) if "受理" in b["text"])
    assert await world.press_data(WU, card["message_id"], accept)  # another unit
    assert await world.press_data(YANG, card["message_id"], accept)  # an enterprise
    assert await world.press_data(ZHOU, card["message_id"], "t:acc:999999") is not None
    assert await world.press_data(ZHOU, card["message_id"], "garbage") == texts.BAD_CALLBACK
    [ticket] = await world.tickets()
    assert ticket.status == "submitted"


async def test_bad_input_is_answered_politely(world: World) -> None:
    await world.sticker(HAN)
    assert world.text(HAN) == texts.UNSUPPORTED
    await world.say(HAN, "急" * 6000)
    assert "太长" in world.text(HAN)
    await world.say(HAN, "<b>停工</b> & <script>x</script> 高压线")
    assert "<script>" in world.text(HAN)  # shown as typed, because it was escaped
    await world.say(HAN, "/nosuch")
    assert world.text(HAN) == texts.UNKNOWN_COMMAND


async def test_429_delays_but_does_not_lose_a_notification(world: World) -> None:
    await world.say(HAN, HV_LINE)
    world.emu.fail_next("sendMessage", status=429, retry_after=1, count=1)
    await world.press(HAN, "提交")
    await world.settle(timeout=20)
    assert texts.BTN_ACCEPT in world.words(world.with_button(ZHOU, "受理"))
    assert "诉求编号" in "".join(m.get("text", "") for m in world.messages(HAN))


async def test_stats_summary_and_chart_reach_the_admin(world: World) -> None:
    await world.say(HAN, HV_LINE)
    await world.press(HAN, "提交")
    await world.say(ZHAO, "/stats")
    photos = [r for r in world.emu.requests_for("sendPhoto")
              if str(r.params.get("chat_id")) == str(ZHAO) and r.status == 200]
    assert len(photos) == 1
    from bot.emulator import UploadedFile

    upload = photos[0].params["photo"]
    assert isinstance(upload, UploadedFile) and upload.data[:4] == b"\x89PNG"  # the chart itself
    summary = "".join(m.get("text") or "" for m in world.messages(ZHAO))
    assert "受理" in summary
    await world.say(HAN, "/stats")
    assert "/stats" not in world.text(HAN) and world.text(HAN)  # refused politely, not a crash


async def test_the_exported_ledger_keeps_its_chinese_file_name(world: World) -> None:
    # Telegram's Bot API server takes a multipart upload's `filename` as sent (no
    # percent-decoding): the admin's phone shows 问题台账.xlsx, not "%E9%97%AE….xlsx".
    await world.say(ZHAO, "/export")
    [upload] = [r.params["document"] for r in world.emu.requests_for("sendDocument")]
    assert upload.filename == stats_texts.LEDGER_FILENAME
    assert world.last(ZHAO)["document"]["file_name"] == stats_texts.LEDGER_FILENAME


async def test_a_refused_toast_loses_nothing_and_alarms_no_one(world: World) -> None:
    # Telegram refuses answerCallbackQuery for a query answered before a restart or too old;
    # the press itself was applied, so the person sees its result and no error message.
    await world.say(HAN, HV_LINE)
    world.emu.fail_next("answerCallbackQuery", status=400, count=1,
                        description="query is too old and response timeout expired or "
                                    "query ID is invalid")
    await world.press(HAN, "提交")
    assert "诉求编号" in world.text(HAN)
    assert texts.BTN_ACCEPT in world.words(world.with_button(ZHOU, "受理"))
    # No "system error" alert or message in place of the lost toast.
    assert texts.SYSTEM_ERROR not in [a.get("text") for a in world.emu.callback_answers]
    assert texts.SYSTEM_ERROR not in [m.get("text") for m in world.messages(HAN)]
    assert len(await world.tickets()) == 1
    assert world.emu.pending_updates() == []  # acknowledged, not handed out again


async def test_a_slow_toast_does_not_hold_up_the_updates_behind_it(world: World) -> None:
    # Across a network every answerCallbackQuery takes a round trip; the bot answers presses
    # beside its update loop, so the next person's message is not kept waiting for it.
    await world.say(HAN, HV_LINE)
    world.emu.delay_next("answerCallbackQuery", 4.0)
    card = world.with_button(HAN, "提交")
    label = next(b["text"] for b in world.buttons(card) if "提交" in b["text"])
    press = world.emu.press(HAN, card["message_id"], text=label)
    world.emu.send_text(YANG, "/help")
    reply = await world.emu.wait_for_message(YANG, timeout=3.0)  # the toast takes 4 s
    assert reply["text"]
    query_id = world.emu.callback_query_id(press)
    answered = [r for r in world.emu.requests_for("answerCallbackQuery")
                if str(r.params.get("callback_query_id")) == query_id]
    assert answered == []  # still on its way when the other person had their answer
    assert await world.toast(press)  # and it did arrive in the end
    await world.settle()
    assert "诉求编号" in world.text(HAN)


async def test_polling_outlives_a_refused_get_updates(world: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # 409: a webhook was set meanwhile, or a second process polls with the same token. The
    # bot says so in its log and keeps polling; it must not stay up deaf to every update.
    from bot import ptb_adapter

    monkeypatch.setattr(ptb_adapter, "POLL_REFUSED_PAUSE", 0.1)
    world.emu.fail_next("getUpdates", status=409, count=2,
                        description="Conflict: terminated by other getUpdates request; make "
                                    "sure that only one bot instance is running")
    await world.say(HAN, "/help")
    assert world.text(HAN).startswith("项目直通车 · 企业")  # the help, shown without markup
    refused = [r for r in world.emu.requests_for("getUpdates") if r.status == 409]
    assert len(refused) == 2


async def set_webhook_elsewhere(world: World) -> None:
    """setWebhook as another instance started with --webhook calls it (nothing listens there,
    so the emulator keeps every update queued meanwhile)."""
    async with aiohttp.ClientSession() as http, http.post(
            world.emu.method_url("setWebhook"),
            json={"url": f"http://127.0.0.1:{free_port()}/telegram/webhook"}) as resp:
        assert resp.status == 200
    assert world.emu.webhook is not None


async def test_polling_start_deletes_a_leftover_webhook_even_after_one_failed_call(
        world: World) -> None:
    # Moving from webhook mode to polling: the start deletes the webhook, since getUpdates is
    # refused (409) for as long as one is set. A failed deleteWebhook (a proxy's 502, a 429)
    # is tried again: neither up and deaf for good, nor a start that ends in a traceback.
    await world.stop_bot()
    await set_webhook_elsewhere(world)
    world.emu.fail_next("deleteWebhook", status=502, description="Bad Gateway")
    await world.start_bot()
    await world.say(HAN, "/help")
    assert "/mine" in world.text(HAN)  # the help, answered by polling
    assert world.emu.webhook is None
    assert [r.status for r in world.emu.requests_for("deleteWebhook")][-2:] == [502, 200]
    assert world.task is not None and not world.task.done()


async def test_a_webhook_set_while_polling_is_deleted_and_polling_goes_on(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    # A webhook set while the bot polls (another instance started with --webhook, a setWebhook
    # by hand): every getUpdates is refused with 409 "can't use getUpdates method while webhook
    # is active". The polling process says so in its log, deletes the webhook and answers on.
    await world.say(HAN, "/help")
    await set_webhook_elsewhere(world)
    await world.say(HAN, "/help")
    assert len([m for m in world.messages(HAN) if "/mine" in (m.get("text") or "")]) == 2
    assert world.emu.webhook is None
    assert any(r.levelno == logging.WARNING and "webhook" in r.getMessage()
               for r in caplog.records if r.name.startswith("bot."))


async def test_an_update_the_library_cannot_parse_is_logged_and_skipped(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    # An update the installed aiogram / PTB cannot build (in life: a Bot API change it does
    # not know yet; here an entity without offset and length) cannot be applied. Polling logs
    # it with its update_id and confirms it, rather than end (PTB) or ask for the same batch
    # for ever (aiogram); the people behind it are answered as usual.
    await world.say(HAN, "/help")
    message = world.emu.update(world.last_update)["message"]
    bad = world.emu.inject_update({"message": {**message, "entities": [{"type": "bold"}]}})
    await world.emu.wait_until_confirmed(bad, timeout=10)
    await world.say(HAN, "/help")
    assert len([m for m in world.messages(HAN) if "/mine" in (m.get("text") or "")]) == 2
    assert world.emu.pending_updates() == []
    skipped = [r for r in caplog.records if r.levelno == logging.ERROR and "parse" in r.getMessage()]
    assert [str(bad) in r.getMessage() for r in skipped] == [True]


async def test_editing_a_report_before_submitting_updates_its_card(world: World) -> None:
    land = "企业反映土地出让手续迟迟没有办完,用地指标还没下达,影响开工"
    first = await world.say(HAN, HV_LINE)
    card = world.with_button(HAN, "提交")
    source = int(world.emu.update(first)["message"]["message_id"])
    world.last_update = world.emu.edit_text(HAN, source, land)  # an edited_message update
    await world.settle()
    assert world.text(HAN) == texts.EDIT_APPLIED
    updated = world.emu.message(HAN, card["message_id"])
    assert updated is not None and "用地保障" in updated["text"] and "用地指标" in updated["text"]
    await world.press(HAN, "提交", on=updated)
    [ticket] = await world.tickets()
    assert (ticket.text, ticket.category_code) == (land, "land")
    world.emu.edit_text(HAN, source, "算了,不用处理了")
    await world.settle()
    assert world.text(HAN) == texts.EDIT_NOT_APPLIED
    [ticket] = await world.tickets()
    assert ticket.text == land


async def test_a_live_location_moving_is_not_answered(world: World) -> None:
    # Telegram sends every move of a shared live location as an edited_message.
    first = world.emu.send_location(HAN, 34.41, 115.65)
    await world.settle()
    shared = world.emu.update(first)["message"]
    before = len(world.messages(HAN))
    for step in range(3):
        moved = {**shared, "edit_date": shared["date"] + 10 * (step + 1),
                 "location": {"latitude": 34.41 + step / 1000, "longitude": 115.65,
                              "live_period": 900}}
        world.last_update = world.emu.inject_update({"edited_message": moved})
        await world.settle()
    assert len(world.messages(HAN)) == before
    assert world.emu.pending_updates() == []
