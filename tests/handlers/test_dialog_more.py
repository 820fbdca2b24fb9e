"""More conversations: invites, photos, duplicates, lists, proxy reports, extensions."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import FrozenClock
from handlers import texts
from handlers.onboarding import do_create_invite, hash_token
from tests.dialog import Dialog
from tests.handlers.conftest import FENG, HAN, LI, QIAN, ZHAO, ZHOU

HV_LINE = "我们园区北侧的高压线迁改一直没人对接,影响厂房基础施工,麻烦尽快协调供电公司"
NEWBIE = 812345


async def _invite(dialog: Dialog, **kw: str) -> str:
    async with dialog.desk.uow_factory() as uow:
        created = await do_create_invite(uow, dialog.clock.now(), dialog.desk.config, **kw)
        await uow.commit()
    assert created.link.startswith("https://t.me/zhitong_test_bot?start=")
    return created.token


async def test_invite_binds_once_and_expired_or_forged_bind_nothing(dialog: Dialog) -> None:
    token = await _invite(dialog, role="enterprise", project_code="P2026-003")
    await dialog.say(NEWBIE, "/start " + "x" * 30)
    assert dialog.last(NEWBIE).text == texts.INVITE_INVALID
    await dialog.say(NEWBIE, f"/start {token}", first_name="孔经理")
    assert "京东冷链物流港" in dialog.last(NEWBIE).text
    assert any(c["scope_chat"] == NEWBIE for c in dialog.transport.commands)
    await dialog.say(NEWBIE + 1, f"/start {token}")
    assert dialog.last(NEWBIE + 1).text == texts.INVITE_USED
    await dialog.say(NEWBIE + 1, HV_LINE)
    assert dialog.last(NEWBIE + 1).text == texts.NOT_REGISTERED
    # The new contact reports for its project.
    await dialog.say(NEWBIE, "冷库的用电增容申请两个月了还没批下来,影响设备调试")
    assert "京东冷链物流港" in dialog.last(NEWBIE).text

    expired = await _invite(dialog, role="official", unit_code="gdgs")
    assert isinstance(dialog.clock, FrozenClock)
    dialog.clock.advance(days=8)
    await dialog.say(NEWBIE + 2, f"/start {expired}")
    assert dialog.last(NEWBIE + 2).text == texts.INVITE_EXPIRED
    await dialog.say(NEWBIE + 2, "/todo")
    assert dialog.last(NEWBIE + 2).text == texts.NOT_REGISTERED


async def test_a_person_removed_from_the_org_file_is_not_brought_back_by_an_invite(
        dialog: Dialog) -> None:
    token = await _invite(dialog, role="enterprise", project_code="P2026-003")
    async with dialog.desk.uow_factory() as uow:
        han = await uow.accounts.by_telegram_id(HAN)
        assert han is not None and han.person_key is not None
        han.active = False  # what `zhitong org load` does to a person no longer in the file
        await uow.commit()
    await dialog.say(HAN, f"/start {token}")
    assert dialog.last(HAN).text == texts.INVITE_REMOVED_PERSON
    async with dialog.desk.uow_factory() as uow:
        han = await uow.accounts.by_telegram_id(HAN)
        assert han is not None and han.active is False
        invite = await uow.invites.by_hash(hash_token(token))
        assert invite is not None and invite.used_at is None  # still usable by someone else
    await dialog.say(HAN, HV_LINE)
    assert dialog.last(HAN).text == texts.NOT_REGISTERED
    await dialog.say(NEWBIE, f"/start {token}", first_name="孔经理")
    assert "京东冷链物流港" in dialog.last(NEWBIE).text


async def test_photo_with_caption_and_photo_then_text(dialog: Dialog) -> None:
    await dialog.photo(HAN, caption=HV_LINE, file_id="ph-1")
    assert "附件:1 张照片" in dialog.last(HAN).text
    await dialog.say(HAN, "/cancel")
    await dialog.photo(HAN, file_id="ph-2")
    assert dialog.last(HAN).text == texts.PHOTO_NEEDS_TEXT
    await dialog.say(HAN, HV_LINE)
    assert "附件:1 张照片" in dialog.last(HAN).text
    await dialog.press(HAN, "提交")
    async with dialog.desk.uow_factory() as uow:
        [ticket] = await uow.tickets.all()
        assert ticket.attachments == ["ph-2"]


async def test_album_collects_every_photo(dialog: Dialog) -> None:
    await dialog.photo(HAN, caption=HV_LINE, file_id="a1", media_group_id="g1")
    await dialog.photo(HAN, file_id="a2", media_group_id="g1")
    await dialog.photo(HAN, file_id="a3", media_group_id="g1")
    await dialog.press(HAN, "提交")
    async with dialog.desk.uow_factory() as uow:
        [ticket] = await uow.tickets.all()
        assert ticket.attachments == ["a1", "a2", "a3"]


async def test_near_duplicate_is_offered_for_linking(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "提交")
    await dialog.say(HAN, "园区北侧高压线迁改还是没人对接,厂房基础施工受影响,请尽快协调供电公司")
    card = dialog.last(HAN)
    assert "是否与 #" in card.text
    await dialog.press(HAN, "合并")
    assert "已合并到诉求" in dialog.last(HAN).text
    assert "补充说明" in dialog.last(ZHOU).text
    async with dialog.desk.uow_factory() as uow:
        tickets = await uow.tickets.all()
        assert len(tickets) == 1
        actions = [e.action for e in await uow.tickets.events(tickets[0].id)]
        assert actions == ["submit", "link_duplicate"]


async def test_change_category_reroutes_and_records_the_correction(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "改类别")
    assert dialog.last(HAN).text == texts.CHOOSE_CATEGORY
    await dialog.press(HAN, "用地保障")
    assert "县自然资源局" in dialog.last(HAN).text
    await dialog.press(HAN, "提交")
    assert texts.BTN_ACCEPT in dialog.last(QIAN).words()
    async with dialog.desk.uow_factory() as uow:
        [c] = await uow.tickets.corrections()
        assert (c.old_category, c.new_category, c.source) == ("utilities", "land", "reporter")


async def test_cancel_and_stale_card(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    old = dialog.last(HAN)
    await dialog.press(HAN, "取消")
    assert old.text == texts.DRAFT_CANCELLED
    await dialog.say(HAN, HV_LINE)
    out = await dialog.press_data(HAN, "d:sub:1", old.message_id)
    assert out.callback_answer == texts.STALE_BUTTON
    async with dialog.desk.uow_factory() as uow:
        assert await uow.tickets.all() == []


async def test_lists_and_ticket_details_respect_visibility(dialog: Dialog) -> None:
    for i in range(10):
        await dialog.say(HAN, f"{HV_LINE} 第{i}处")
        await dialog.press(HAN, "提交")
        dialog.clock.advance(minutes=1)  # stay under the per-user rate limit
    await dialog.say(ZHOU, "/todo")
    page = dialog.last(ZHOU)
    assert "共 10 件" in page.text and "第 1/2 页" in page.text
    await dialog.press(ZHOU, "下一页")
    assert "第 2/2 页" in page.text
    await dialog.say(QIAN, "/todo")
    assert dialog.last(QIAN).text == texts.TODO_EMPTY
    async with dialog.desk.uow_factory() as uow:
        number = (await uow.tickets.all())[0].number
    await dialog.say(HAN, f"/ticket {number}")
    assert "处理记录" in dialog.last(HAN).text
    await dialog.say(QIAN, f"/ticket {number}")
    assert "没有找到" in dialog.last(QIAN).text
    await dialog.say(LI, f"/ticket {number}")  # the project's 分包领导 sees it
    assert "处理记录" in dialog.last(LI).text


async def test_extension_approved_by_the_dispatcher(dialog: Dialog) -> None:
    await dialog.say(HAN, HV_LINE)
    await dialog.press(HAN, "提交")
    await dialog.press(ZHOU, "受理")
    await dialog.press(ZHOU, "延期")
    await dialog.say(ZHOU, "需要等待设计院出图")
    assert dialog.last(ZHOU).text == texts.EXTENSION_NEEDS_DATE
    new_day = (dialog.clock.now() + timedelta(days=40)).strftime("%Y-%m-%d")
    await dialog.say(ZHOU, f"需要等待设计院出图,申请延期至 {new_day}")
    await dialog.press(ZHAO, "批准延期")
    assert "已批准" in dialog.last(ZHOU).text
    async with dialog.desk.uow_factory() as uow:
        [t] = await uow.tickets.all()
        assert t.due_at.astimezone(dialog.desk.config.timezone).strftime("%Y-%m-%d") == new_day


async def test_service_officer_reports_on_behalf_and_enterprise_rates(dialog: Dialog) -> None:
    await dialog.say(FENG, "/report")
    await dialog.press(FENG, "豫东智能家居产业园")
    await dialog.say(FENG, "企业反映高压线迁改没人对接")
    await dialog.press(FENG, "提交")
    await dialog.press(ZHOU, "受理")
    await dialog.press(ZHOU, "办结")
    await dialog.say(ZHOU, "已迁改完毕")
    assert texts.BTN_SATISFIED in dialog.last(HAN).words()  # the callback goes to the contact
    out = await dialog.press(FENG, "满意", on=dialog.last(HAN))
    assert out.alert  # the officer cannot rate for the enterprise
    await dialog.press(HAN, "满意")
    async with dialog.desk.uow_factory() as uow:
        [t] = await uow.tickets.all()
        officer = await uow.accounts.by_telegram_id(FENG)
        assert officer is not None
        assert (t.status, t.filed_by_id, t.rating) == ("closed", officer.id, "satisfied")
        submit = (await uow.tickets.events(t.id))[0]
        assert (submit.note, submit.role) == ("代为反映", "service_officer")
