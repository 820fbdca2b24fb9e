"""A person edits a message they sent (Telegram's edited_message).

An edit of the message an open draft came from takes the draft with it: the card is tagged
again and updated in place. Any other edit changes nothing, and the person is told so instead
of being left to believe it did.
"""

from __future__ import annotations

from sqlalchemy import select

from handlers import texts
from storage.models import Ticket
from tests.dialog import Dialog
from tests.handlers.conftest import HAN, ZHAO

HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"
LAND = "企业反映土地出让手续迟迟没有办完,用地指标还没下达,影响开工"


async def tickets(d: Dialog) -> list[tuple[str, str]]:
    """(text, category code) of every ticket."""
    async with d.desk.uow_factory() as uow:
        rows = await uow.session.execute(select(Ticket.text, Ticket.category_code))
        return [(str(text), str(code)) for text, code in rows]


async def test_an_edit_before_submitting_updates_the_card_in_place(dialog: Dialog) -> None:
    d = dialog
    await d.say(HAN, HV_LINE)
    card = d.with_button(HAN, texts.BTN_SUBMIT)
    assert "水电气网配套" in card.text
    await d.edit(HAN, d.said[HAN], LAND)
    assert d.last(HAN).text == texts.EDIT_APPLIED
    updated = d.with_button(HAN, texts.BTN_SUBMIT)
    assert updated.message_id == card.message_id  # the same card, edited
    assert "用地保障" in updated.text and "用地指标" in updated.text
    assert "高压线" not in updated.text
    await d.press(HAN, texts.BTN_SUBMIT)
    assert await tickets(d) == [(LAND, "land")]


async def test_a_category_the_person_chose_survives_their_edit(dialog: Dialog) -> None:
    d = dialog
    await d.say(HAN, HV_LINE)
    source = d.said[HAN]
    await d.press(HAN, texts.BTN_CHANGE_CATEGORY)
    await d.press(HAN, "惠企政策")
    await d.edit(HAN, source, LAND)
    card = d.with_button(HAN, texts.BTN_SUBMIT)
    assert "惠企政策" in card.text and "用地指标" in card.text
    await d.press(HAN, texts.BTN_SUBMIT)
    [(_, category)] = await tickets(d)
    assert category == "policy"


async def test_an_edit_after_submitting_changes_nothing_and_says_so(dialog: Dialog) -> None:
    d = dialog
    await d.say(HAN, HV_LINE)
    source = d.said[HAN]
    await d.press(HAN, texts.BTN_SUBMIT)
    await d.edit(HAN, source, LAND)
    assert d.last(HAN).text == texts.EDIT_NOT_APPLIED
    [(text, _)] = await tickets(d)
    assert text == HV_LINE


async def test_an_edit_of_an_older_message_leaves_the_open_draft_alone(dialog: Dialog) -> None:
    d = dialog
    await d.say(HAN, HV_LINE)
    first = d.said[HAN]
    await d.say(HAN, LAND)  # a new report: the open draft is now this one
    await d.edit(HAN, first, "高压线的事已经解决了")
    assert d.last(HAN).text == texts.EDIT_NOT_APPLIED
    assert "用地指标" in d.with_button(HAN, texts.BTN_SUBMIT).text


async def test_an_edit_too_long_is_refused_and_the_draft_kept(dialog: Dialog) -> None:
    d = dialog
    await d.say(HAN, HV_LINE)
    await d.edit(HAN, d.said[HAN], "急" * 6000)
    assert "太长" in d.last(HAN).text
    assert "高压线" in d.with_button(HAN, texts.BTN_SUBMIT).text


async def test_edits_from_strangers_and_of_commands_get_no_wrong_answer(dialog: Dialog) -> None:
    d = dialog
    await d.edit(700099, 5, "我是谁")  # not registered: told when they sent it, not again
    assert d.messages(700099) == []
    await d.say(ZHAO, "/help")
    await d.edit(ZHAO, d.said[ZHAO], "/todo")
    assert d.last(ZHAO).text == texts.EDIT_NOT_APPLIED


async def test_edits_without_words_are_not_answered(dialog: Dialog) -> None:
    # A shared live location arrives as an edit every few seconds; a caption removed is an
    # edit with no text. Neither is the person correcting themselves.
    d = dialog
    await d.say(HAN, HV_LINE)
    before = len(d.messages(HAN))
    for _ in range(3 * d.desk.config.rate_limit_per_minute):  # a long live location
        await d.edit(HAN, d.said[HAN] + 1, "")
    assert len(d.messages(HAN)) == before
    await d.say(HAN, "/help")  # not counted against the person's rate limit
    assert texts.RATE_LIMITED not in d.last(HAN).text and "/mine" in d.last(HAN).text
