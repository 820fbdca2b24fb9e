"""Progress reports as conversations: card → 提交, 改金额, albums, the guided form, /project,
/photos, and the milestone confirmation that moves a project's stage."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.progress import ColourRules
from handlers import progress, texts
from handlers import progress_texts as pt
from storage.models import ProgressReport, Project, ProjectEvent, Ticket
from tests.dialog import Dialog
from tests.handlers.conftest import FENG, HAN, LI, QIAN, YANG, ZHAO, ZHOU

REPORT = "本月完成投资2300万元,主体结构已封顶"
HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"


@pytest.fixture
def d(dialog: Dialog, tmp_path: Path) -> Dialog:
    progress.register(dialog.desk, tmp_path)
    return dialog


async def reports(d: Dialog) -> list[ProgressReport]:
    async with d.desk.uow_factory() as uow:
        rows = list((await uow.session.execute(
            select(ProgressReport).order_by(ProgressReport.id))).scalars())
        uow.session.expunge_all()
        return rows


async def ticket_count(d: Dialog) -> int:
    async with d.desk.uow_factory() as uow:
        return int((await uow.session.execute(select(func.count(Ticket.id)))).scalar_one())


async def project(d: Dialog, code: str) -> Project:
    async with d.desk.uow_factory() as uow:
        p = await uow.org.project_by_code(code)
        assert p is not None
        uow.session.expunge_all()
        return p


async def events(d: Dialog, action: str) -> list[ProjectEvent]:
    async with d.desk.uow_factory() as uow:
        rows = list((await uow.session.execute(
            select(ProjectEvent).where(ProjectEvent.action == action)
            .order_by(ProjectEvent.id))).scalars())
        uow.session.expunge_all()
        return rows


async def test_progress_message_is_confirmed_and_stored_never_a_ticket(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    card = d.last(HAN)
    assert "2300 万元" in card.text and "封顶" in card.text
    assert "豫东智能家居产业园" in card.text and "2026年11月" in card.text
    assert card.words() == [texts.BTN_SUBMIT, pt.BTN_AMOUNT, texts.BTN_CANCEL]

    out = await d.press(HAN, "提交")
    assert out.callback_answer == pt.SUBMITTED_TOAST
    assert card.buttons == []  # the card lost its buttons
    receipt = d.last(HAN).text
    assert "进度已报送" in receipt and "2300" in receipt and "不会作为问题转办" in receipt

    [stored] = await reports(d)
    assert (stored.amount_wan, stored.milestone, stored.period) == (2300.0, "topped_out", "2026-11")
    assert stored.text == REPORT
    assert await ticket_count(d) == 0
    assert d.messages(ZHOU) == [] and d.messages(QIAN) == []


async def test_problem_messages_still_become_tickets(d: Dialog) -> None:
    await d.say(HAN, HV_LINE)
    assert texts.BTN_CHANGE_CATEGORY in d.last(HAN).words()
    await d.press(HAN, "提交")
    assert await ticket_count(d) == 1
    assert await reports(d) == []


async def test_amount_is_corrected_by_reply(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.press(HAN, "改金额")
    assert d.last(HAN).text == pt.ASK_AMOUNT_CORRECTION
    await d.say(HAN, "不清楚")
    assert d.last(HAN).text == pt.AMOUNT_NOT_UNDERSTOOD
    await d.say(HAN, "2500万元")
    card = d.last(HAN)
    assert "2500 万元" in card.text and "封顶" in card.text
    await d.press(HAN, "提交")
    [stored] = await reports(d)
    assert stored.amount_wan == 2500.0
    assert await ticket_count(d) == 0


async def test_amount_correction_accepts_yi_and_bare_numbers(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.press(HAN, "改金额")
    await d.say(HAN, "1.2亿")
    assert "12000 万元" in d.last(HAN).text
    await d.press(HAN, "改金额")
    await d.say(HAN, "2600")
    assert "2600 万元" in d.last(HAN).text


async def test_giving_up_on_the_amount_leaves_the_card(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.press(HAN, "改金额")
    await d.say(HAN, "不清楚")
    await d.say(HAN, "还是不清楚")
    assert pt.AMOUNT_GIVE_UP in [m.text for m in d.messages(HAN)]
    assert "2300 万元" in d.last(HAN).text  # the card again, unchanged
    await d.press(HAN, "提交")
    assert [r.amount_wan for r in await reports(d)] == [2300.0]


async def test_album_photos_attach_to_one_report(d: Dialog) -> None:
    await d.photo(HAN, REPORT, "site-1", media_group_id="album-7")
    await d.photo(HAN, "", "site-2", media_group_id="album-7")
    await d.photo(HAN, "", "site-3", media_group_id="album-7")
    card = d.with_button(HAN, "提交")
    assert "现场照片:3 张" in card.text
    assert texts.PHOTO_NEEDS_TEXT not in [m.text for m in d.messages(HAN)]
    await d.press(HAN, "提交")
    [stored] = await reports(d)
    assert stored.photos == ["site-1", "site-2", "site-3"]
    assert stored.amount_wan == 2300.0
    assert await ticket_count(d) == 0


async def test_a_photo_sent_after_the_card_joins_it(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.photo(HAN, "", "late-1")
    assert "现场照片:1 张" in d.with_button(HAN, "提交").text
    await d.press(HAN, "提交")
    assert (await reports(d))[0].photos == ["late-1"]


async def test_guided_form_amount_milestone_photos(d: Dialog) -> None:
    await d.say(HAN, "/progress")
    assert pt.ASK_AMOUNT in d.last(HAN).text
    await d.say(HAN, "1800万")
    assert pt.ASK_MILESTONE in d.last(HAN).text
    assert d.last(HAN).words()[:5] == ["签约", "开工", "封顶", "竣工", "投产"]
    await d.press(HAN, "竣工")
    card = d.last(HAN)
    assert pt.ASK_PHOTOS in card.text and "1800 万元" in card.text and "竣工" in card.text
    await d.photo(HAN, "", "g-1", media_group_id="g-album")
    await d.photo(HAN, "", "g-2", media_group_id="g-album")
    assert "现场照片:2 张" in card.text
    await d.press(HAN, "提交")
    [stored] = await reports(d)
    assert (stored.amount_wan, stored.milestone, stored.photos) == (1800.0, "completed",
                                                                    ["g-1", "g-2"])


async def test_guided_form_without_milestone(d: Dialog) -> None:
    await d.say(HAN, "/progress")
    await d.say(HAN, "0")
    await d.press(HAN, pt.BTN_NO_MILESTONE)
    await d.press(HAN, "提交")
    [stored] = await reports(d)
    assert (stored.amount_wan, stored.milestone) == (0.0, None)
    assert d.messages(FENG) == []  # no milestone, nothing to confirm


async def test_cancel_and_stale_buttons(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    first = d.last(HAN)
    await d.say(HAN, "本月完成投资900万元")
    second = d.last(HAN)
    out = await d.press(HAN, "提交", on=first)
    assert out.callback_answer == texts.STALE_BUTTON
    await d.press(HAN, "取消", on=second)
    assert second.text == pt.DRAFT_CANCELLED
    assert await reports(d) == []


async def test_enterprise_sees_only_its_own_projects(d: Dialog) -> None:
    await d.say(YANG, "/project P2026-001")
    assert d.last(YANG).text == pt.project_not_found("P2026-001")
    assert "豫东" not in d.last(YANG).text
    await d.say(YANG, "/photos P2026-001")
    assert d.last(YANG).text == pt.project_not_found("P2026-001")
    await d.say(QIAN, "/project P2026-001")  # an official of another unit
    assert d.last(QIAN).text == pt.project_not_found("P2026-001")

    await d.say(HAN, "/project p2026-001")
    own = d.last(HAN).text
    assert "豫东智能家居产业园" in own and "四色状态" in own and "年度计划:120000 万元" in own
    for who in (FENG, LI, ZHAO):  # lead unit / service officer, 分包领导, admin
        await d.say(who, "/project P2026-001")
        assert "豫东智能家居产业园" in d.last(who).text


async def test_forged_project_button_is_refused(d: Dialog) -> None:
    p = await project(d, "P2026-001")
    await d.say(YANG, "/project")
    out = await d.press_data(YANG, f"g:pv:{p.id}", d.last(YANG).message_id)
    assert out.alert and out.callback_answer
    assert "豫东" not in d.last(YANG).text


async def test_project_view_shows_plan_actual_and_latest_photos(d: Dialog) -> None:
    await d.photo(HAN, REPORT, "a-1", media_group_id="m1")
    for i in range(2, 6):
        await d.photo(HAN, "", f"a-{i}", media_group_id="m1")
    await d.press(HAN, "提交")
    await d.say(HAN, "/project P2026-001")
    view = d.last(HAN)
    assert "今年已完成:2300 万元(完成率 1.9%)" in view.text
    assert "⏳ 封顶 已报送待确认" in view.text
    assert "未办结诉求:0 件" in view.text
    assert len(view.photos) == 4 and set(view.photos) <= {f"a-{i}" for i in range(1, 6)}
    assert pt.BTN_PHOTOS in view.words()


async def test_photo_library_by_month(d: Dialog) -> None:
    await d.photo(HAN, REPORT, "nov-1", media_group_id="nov")
    await d.photo(HAN, "", "nov-2", media_group_id="nov")
    await d.press(HAN, "提交")
    await d.say(HAN, "/photos P2026-001")
    lib = d.last(HAN)
    assert set(lib.photos) == {"nov-1", "nov-2"} and "2026年11月" in lib.text
    await d.say(HAN, "/photos P2026-001 2026-10")
    assert d.last(HAN).photos == [] and "本月还没有现场照片" in d.last(HAN).text
    await d.press(HAN, pt.BTN_NEXT_MONTH)
    assert set(d.last(HAN).photos) == {"nov-1", "nov-2"}


async def test_milestone_advances_the_stage_once_the_service_officer_confirms(d: Dialog) -> None:
    assert (await project(d, "P2026-001")).stage == "started"
    await d.photo(HAN, REPORT, "top-1")
    await d.press(HAN, "提交")
    assert (await project(d, "P2026-001")).stage == "started"  # not before confirmation

    ask = d.last(FENG)
    assert "形象进度节点待确认" in ask.text and "封顶" in ask.text
    assert ask.words() == [pt.BTN_CONFIRM_MILESTONE, pt.BTN_REFUSE_MILESTONE]
    assert ask.photos == ["top-1"]
    assert d.messages(LI) == []  # the 分包领导 does not confirm

    confirm = ask.button("确认节点")
    forged = await d.press_data(HAN, confirm, ask.message_id)
    assert forged.alert and forged.callback_answer == pt.MILESTONE_NOT_ALLOWED
    assert (await project(d, "P2026-001")).stage == "started"

    out = await d.press(FENG, "确认节点")
    assert out.callback_answer == pt.milestone_confirmed_toast("topped_out")
    assert (await project(d, "P2026-001")).stage == "topped_out"
    assert ask.buttons == [] and "确认" in ask.text
    assert "节点已由" in d.last(HAN).text
    [ev] = await events(d, "stage")
    assert (ev.from_value, ev.to_value) == ("started", "topped_out")

    again = await d.press_data(FENG, confirm, ask.message_id)  # an old keyboard, pressed again
    assert again.callback_answer and "过了" in again.callback_answer
    assert len(await events(d, "stage")) == 1

    await d.say(HAN, "/project P2026-001")
    assert "✅ 封顶" in d.last(HAN).text


async def test_refused_milestone_leaves_the_stage(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.press(HAN, "提交")
    out = await d.press(FENG, "不予确认")
    assert out.callback_answer == pt.MILESTONE_REFUSED_TOAST
    assert (await project(d, "P2026-001")).stage == "started"
    assert "暂未获确认" in d.last(HAN).text
    assert len(await events(d, "milestone_refused")) == 1


async def test_service_officer_reports_for_two_projects_and_chooses(d: Dialog) -> None:
    await d.say(FENG, "本月完成投资600万元")
    card = d.last(FENG)
    assert pt.CHOOSE_PROJECT in card.text
    await d.press(FENG, "新能源汽车PI膜铝材研发生产项目")
    assert "600 万元" in d.last(FENG).text
    await d.press(FENG, "提交")
    [stored] = await reports(d)
    assert stored.project_id == (await project(d, "P2026-002")).id
    assert await ticket_count(d) == 0


async def test_a_problem_typed_instead_of_the_amount_is_not_swallowed(d: Dialog) -> None:
    await d.say(HAN, REPORT)
    await d.press(HAN, "改金额")
    await d.say(HAN, HV_LINE)
    assert texts.BTN_CHANGE_CATEGORY in d.last(HAN).words()  # the problem card
    await d.press(HAN, "提交")
    assert await ticket_count(d) == 1
    await d.say(HAN, "2400")  # no longer read as the amount of the progress card
    assert await reports(d) == []


async def test_guided_form_gives_up_after_two_unreadable_amounts(d: Dialog) -> None:
    await d.say(HAN, "/progress")
    await d.say(HAN, "还没统计")
    await d.say(HAN, "不知道")
    assert d.last(HAN).text == pt.AMOUNT_GIVE_UP_GUIDED
    async with d.desk.uow_factory() as uow:
        han = await uow.accounts.by_telegram_id(HAN)
        assert han is not None
        assert await uow.drafts.get(han.id, progress.DRAFT) is None
        assert await uow.drafts.get(han.id, progress.INPUT) is None


async def test_project_view_shows_the_recorded_colour_and_the_live_one(d: Dialog) -> None:
    from handlers.progress_sweeps import sweep_project_colours

    # Recorded without the first-report grace period (the projects were loaded just now).
    await sweep_project_colours(d.desk.uow_factory, d.clock.now(), d.desk.config,
                                rules=ColourRules(first_report_grace_days=0))
    await d.say(HAN, "本月完成投资110000万元")
    await d.press(HAN, "提交")
    await d.say(HAN, "/project P2026-001")
    view = d.last(HAN).text
    assert "四色状态:⚫ 黑色" in view and "从未报送进度" in view
    assert "按最新数据测算为🟢 绿色" in view


async def test_album_sent_before_the_text_joins_the_progress_report(d: Dialog) -> None:
    for i in (1, 2, 3):
        await d.photo(HAN, "", f"pre-{i}", media_group_id="early")
    assert [m.text for m in d.messages(HAN)] == [pt.ALBUM_NEEDS_TEXT]  # answered once
    await d.say(HAN, REPORT)
    assert "现场照片:3 张" in d.last(HAN).text
    await d.press(HAN, "提交")
    assert (await reports(d))[0].photos == ["pre-1", "pre-2", "pre-3"]


async def test_album_sent_before_a_problem_text_joins_the_ticket(d: Dialog) -> None:
    for i in (1, 2):
        await d.photo(HAN, "", f"hv-{i}", media_group_id="early-hv")
    await d.say(HAN, HV_LINE)
    await d.press(HAN, "提交")
    async with d.desk.uow_factory() as uow:
        [t] = await uow.tickets.all()
        assert t.attachments == ["hv-1", "hv-2"]
    assert await reports(d) == []


async def test_problem_album_keeps_its_later_photos(d: Dialog) -> None:
    await d.photo(HAN, HV_LINE, "p-1", media_group_id="prob")
    await d.photo(HAN, "", "p-2", media_group_id="prob")
    await d.press(HAN, "提交")
    async with d.desk.uow_factory() as uow:
        [t] = await uow.tickets.all()
        assert t.attachments == ["p-1", "p-2"]


async def test_project_list_for_a_leader_and_progress_with_text(d: Dialog) -> None:
    await d.say(LI, "/project")
    listing = d.last(LI)
    assert listing.text == pt.PROJECT_LIST_TITLE and len(listing.buttons) == 2
    await d.press(LI, "京东冷链物流港")
    assert "京东冷链物流港</b>(P2026-003)" in d.last(LI).text

    await d.say(HAN, "/progress 本月完成投资800万元")
    assert "800 万元" in d.last(HAN).text
    await d.press(HAN, "提交")
    await d.say(HAN, "/photos")  # one project: straight to its library
    assert "豫东智能家居产业园" in d.last(HAN).text
    await d.say(LI, "/progress")
    assert d.last(LI).text == pt.NOT_A_PROGRESS_REPORTER


REPORT_TOPPED_OUT = "本月完成投资2300万元,主体结构已封顶"


async def test_a_milestone_confirmed_and_refused_at_once_is_decided_once(
        dialog: Dialog, database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # HAN reports 封顶. The service officer (FENG) presses 确认节点 on one worker while the
    # admin (ZHAO, who may decide too) presses 不予确认 on another, at the same moment. One
    # decision stands; the other press is told it was decided already. (Both used to read
    # "no decision yet" and both commit: the stage moved AND the milestone was recorded
    # refused.)
    from handlers.desk import Desk
    from handlers.inbound import Inbound, Kind
    from tests.factories import make_uow_factory

    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one write transaction at a time")
    progress.register(dialog.desk, tmp_path)
    await dialog.say(HAN, REPORT_TOPPED_OUT)
    await dialog.press(HAN, "提交")
    ask = dialog.with_button(FENG, pt.BTN_CONFIRM_MILESTONE)

    real = progress._decision_of
    read: list[object] = []
    both_read = asyncio.Event()

    async def decision_once_both_read(*a: Any, **k: Any) -> Any:
        # Each waits (a moment at most) until both have looked for a decision: the second
        # may not get that far before the first commits, and must then find it.
        got = await real(*a, **k)
        read.append(got)
        if len(read) == 2:
            both_read.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_read.wait(), 1)
        return got

    monkeypatch.setattr(progress, "_decision_of", decision_once_both_read)
    engine, other_factory = make_uow_factory(database_url)
    try:
        other = Desk(other_factory, dialog.clock, dialog.desk.config, dialog.desk.tagger)
        progress.register(other, tmp_path)
        confirm = Inbound(update_id=900, user_id=FENG, chat_id=FENG, first_name="冯科长",
                          kind=Kind.CALLBACK, callback_id="c1",
                          callback_data=ask.button(pt.BTN_CONFIRM_MILESTONE),
                          message_id=ask.message_id)
        refuse = Inbound(update_id=901, user_id=ZHAO, chat_id=ZHAO, first_name="赵主任",
                         kind=Kind.CALLBACK, callback_id="c2",
                         callback_data=ask.button(pt.BTN_REFUSE_MILESTONE),
                         message_id=ask.message_id)
        outs = await asyncio.gather(dialog.desk.handle(confirm), other.handle(refuse))
    finally:
        await engine.dispose()
    async with dialog.desk.uow_factory() as uow:
        decisions = [(e.action, e.actor_id) for e in (await uow.session.execute(
            select(ProjectEvent).where(ProjectEvent.action.in_(("stage", "milestone_refused")))
            .order_by(ProjectEvent.id))).scalars()]
    assert len(decisions) == 1, (decisions, [o.callback_answer for o in outs])
