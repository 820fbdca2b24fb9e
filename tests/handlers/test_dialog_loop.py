"""The chat loop as conversations: report → routed → accepted → resolved → rated."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import texts
from tests.dialog import Dialog
from tests.handlers.conftest import FENG, HAN, LI, QIAN, WU, YANG, ZHAO, ZHOU

HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"


async def test_report_is_routed_accepted_resolved_and_rated(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    card = dialog.last(HAN)
    assert "水电气网配套" in card.text and "县供电公司" in card.text
    assert card.words() == [texts.BTN_SUBMIT, texts.BTN_CHANGE_CATEGORY, texts.BTN_CANCEL]

    await dialog.press(HAN, "提交")
    assert "诉求编号" in dialog.last(HAN).text
    assert dialog.messages(HAN)[-2].buttons == []  # the card lost its buttons

    official_card = dialog.last(ZHOU)
    assert "高压线迁改" in official_card.text
    assert [w for w in official_card.words()] == [texts.BTN_ACCEPT, texts.BTN_TRANSFER,
                                                  texts.BTN_RETURN]
    assert dialog.messages(QIAN) == []  # another unit sees nothing

    out = await dialog.press(ZHOU, "受理")
    assert out.callback_answer == "已受理"
    assert "已由 县供电公司 周经理 受理" in dialog.last(HAN).text
    assert official_card.words() == [texts.BTN_RESOLVE, texts.BTN_EXTEND]

    await dialog.press(ZHOU, "办结")
    assert "办理结果" in dialog.last(ZHOU).text
    await dialog.say(ZHOU, "已与业主现场确认迁改方案,本周内完成杆线迁移")
    rating = dialog.last(HAN)
    assert "本周内完成杆线迁移" in rating.text
    assert rating.words() == [texts.BTN_SATISFIED, texts.BTN_BASICALLY, texts.BTN_UNSATISFIED]

    await dialog.press(HAN, "不满意")
    await dialog.say(HAN, "迁改只做了一半")
    assert "重新办理" in dialog.last(HAN).text
    assert "不满意" in dialog.last(LI).text  # the 分包领导 is told
    assert "迁改只做了一半" in dialog.last(LI).text
    # The old rating buttons are stale now.
    out = await dialog.press(HAN, "满意", on=rating)
    assert out.callback_answer is not None

    await dialog.press(ZHOU, "办结")
    await dialog.say(ZHOU, "杆线已全部迁移完毕")
    await dialog.press(HAN, "基本满意")
    assert "已销号" in dialog.last(HAN).text

    await dialog.say(HAN, "/mine")
    assert "已办结" in dialog.last(HAN).text


async def test_second_official_press_is_told_already_done(dialog: Dialog) -> None:
    await dialog.say(FENG, "/report")
    await dialog.press(FENG, "豫东智能家居产业园")
    await dialog.say(FENG, "企业反映土地出让手续迟迟没有办完,用地指标还没下达")
    await dialog.press(FENG, "提交")
    qian_card = dialog.last(QIAN)
    assert "用地" in qian_card.text
    await dialog.press(QIAN, "受理")
    again = await dialog.press_data(QIAN, qian_card.button("办结").replace("res", "acc"),
                                    qian_card.message_id)
    assert again.callback_answer == texts.DONE_ALREADY or "已受理过" in (again.callback_answer or "")


async def test_forged_callback_changes_nothing(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "提交")
    zhou_card = dialog.last(ZHOU)
    accept = zhou_card.button("受理")
    # Another unit's official replays the data: refused, ticket still waiting.
    out = await dialog.press_data(WU, accept, zhou_card.message_id)
    assert out.alert and out.callback_answer
    # An enterprise forges it too.
    out = await dialog.press_data(YANG, accept, zhou_card.message_id)
    assert out.alert
    # Garbage data.
    out = await dialog.press_data(HAN, "t:acc:'; drop table tickets;--", 1)
    assert out.callback_answer == texts.BAD_CALLBACK
    assert zhou_card.words()[0] == texts.BTN_ACCEPT


async def test_return_goes_to_dispatcher_who_reroutes(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "提交")
    await dialog.press(ZHOU, "退回")
    await dialog.say(ZHOU, "属于园区内部线路,不归供电公司")
    zhao_card = dialog.last(ZHAO)
    assert "退回原因" in zhao_card.text
    await dialog.press(ZHAO, "转办")
    await dialog.press(ZHAO, "县发展和改革委员会")
    assert texts.BTN_ACCEPT in dialog.last(FENG).words()


async def test_duplicate_update_applies_once(dialog: Dialog) -> None:
    from handlers.inbound import Inbound, Kind

    inb = Inbound(update_id=777, user_id=HAN, chat_id=HAN, first_name="韩", kind=Kind.TEXT,
                  text=HV_LINE)
    await dialog.desk.handle(inb)
    await dialog.desk.handle(inb)
    while await dialog.sender.deliver_once():
        pass
    assert len(dialog.messages(HAN)) == 1


async def test_bad_input_gets_clear_answers(dialog: Dialog) -> None:
    await dialog.sticker(HAN)
    assert dialog.last(HAN).text == texts.UNSUPPORTED
    await dialog.say(HAN, "好" * 6000)
    assert "太长" in dialog.last(HAN).text
    await dialog.say(HAN, "/nosuchcommand")
    assert dialog.last(HAN).text == texts.UNKNOWN_COMMAND
    await dialog.say(HAN, "<b>高压线</b> & <script>迁改</script> 停工了")
    assert "&lt;script&gt;" in dialog.last(HAN).text
    await dialog.say(123456, "你好")
    assert dialog.last(123456).text == texts.NOT_REGISTERED


async def test_flooding_is_answered_once_and_changes_nothing(dialog: Dialog) -> None:
    limit = dialog.desk.config.rate_limit_per_minute
    for i in range(limit):
        await dialog.say(HAN, f"/mine {i}")
    before = len(dialog.messages(HAN))
    for i in range(5):
        await dialog.say(HAN, f"高压线迁改 {i}")
    assert len(dialog.messages(HAN)) == before + 1
    assert dialog.last(HAN).text == texts.RATE_LIMITED
    dialog.clock.advance(minutes=2)
    await dialog.say(HAN, "/mine")
    assert dialog.last(HAN).text != texts.RATE_LIMITED


async def test_submit_pressed_twice_at_once_on_two_workers_files_one_report(
        dialog: Dialog, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers share the database; the same 提交 reaches both at the same moment (a client
    # that sends the press twice), and both read the draft before either files it. One
    # report is filed; the other press is told the button is spent, and changes nothing.
    import asyncio

    from handlers.desk import Desk
    from handlers.inbound import Inbound, Kind
    from storage.repositories import DraftRepo
    from tests.factories import make_uow_factory

    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one write transaction at a time: no two workers at once")
    await dialog.say(HAN, HV_LINE)
    real_current = DraftRepo.current
    read: list[object] = []
    both_read = asyncio.Event()

    async def current_once_both_read(self: DraftRepo, *a: Any, **k: Any) -> Any:
        draft = await real_current(self, *a, **k)
        read.append(draft)
        if len(read) == 2:
            both_read.set()
        await asyncio.wait_for(both_read.wait(), 5)
        return draft

    monkeypatch.setattr(DraftRepo, "current", current_once_both_read)
    card = dialog.with_button(HAN, "提交")
    engine, other_factory = make_uow_factory(database_url)
    try:
        other = Desk(other_factory, dialog.clock, dialog.desk.config, dialog.desk.tagger)
        presses = [Inbound(update_id=500 + i, user_id=HAN, chat_id=HAN, first_name="韩经理",
                           kind=Kind.CALLBACK, callback_id=f"cb{i}",
                           callback_data=card.button("提交"), message_id=card.message_id)
                   for i in range(2)]
        outs = await asyncio.gather(dialog.desk.handle(presses[0]), other.handle(presses[1]))
    finally:
        await engine.dispose()
    async with dialog.desk.uow_factory() as uow:
        numbers = [t.number for t in await uow.tickets.all()]
    assert len(numbers) == 1
    answers = sorted(str(out.callback_answer) for out in outs)
    assert answers == sorted([f"已提交 #{numbers[0]}", texts.STALE_BUTTON])
