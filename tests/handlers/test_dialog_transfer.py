"""转办 as a conversation: the ticket moves to another unit, its category stays what the problem is.

An approval problem (审批手续, routed to xzspj, 吴科长) is transferred to 县发展和改革委员会
(fgw, 冯科长) — the default unit of 惠企政策. Moving it there must not relabel the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from domain.stats import Scope
from handlers import stats_texts as T
from handlers import texts
from handlers.ledger import export_ledger
from storage.stats_queries import query_stats
from tests.dialog import Dialog
from tests.handlers.conftest import FENG, HAN, QIAN, WU, ZHAO

PERMIT = "我们项目的建设工程规划许可证一直办不下来,卡在审批环节一个多月了"
XZSPJ = "县行政审批和政务信息管理局"
FGW = "县发展和改革委员会"


async def _ticket(dialog: Dialog) -> Any:
    async with dialog.desk.uow_factory() as uow:
        [t] = await uow.tickets.all()
        events = list(await uow.tickets.events(t.id))
        units = {u.id: u.code for u in await uow.org.units()}
        uow.session.expunge_all()
        return t, events, units


async def test_transfer_moves_the_unit_and_keeps_the_category(dialog: Dialog,
                                                              tmp_path: Path) -> None:
    await dialog.say(HAN, PERMIT)
    assert "审批手续" in dialog.last(HAN).text and XZSPJ in dialog.last(HAN).text
    await dialog.press(HAN, "提交")
    wu_card = dialog.last(WU)
    wu_accept = wu_card.button("受理")
    assert dialog.messages(FENG) == []

    # The transfer offers units (never categories), not the unit that has it now.
    await dialog.press(WU, "转办")
    choose = dialog.last(WU)
    assert choose.text == texts.CHOOSE_TRANSFER_UNIT
    offered = choose.words()
    assert FGW in offered and "县供电公司" in offered and XZSPJ not in offered
    assert not {"惠企政策", "审批手续", "用地保障"} & set(offered)
    await dialog.press(WU, FGW)
    t, events, units = await _ticket(dialog)
    assert dialog.last(WU).text == texts.transferred_notice(t.number, FGW)

    # The target unit's official gets the card: same category, new unit, buttons to act.
    card = dialog.last(FENG)
    assert f"#{t.number}" in card.text
    assert "类别:审批手续" in card.text and f"责任单位:{FGW}" in card.text
    assert "惠企政策" not in card.text
    assert card.words() == [texts.BTN_ACCEPT, texts.BTN_TRANSFER, texts.BTN_RETURN]

    # The row: unit changed, category kept; the audit event names both units.
    assert (units[t.unit_id], t.category_code, t.status) == ("fgw", "approval", "submitted")
    transfer = events[-1]
    assert transfer.action == "transfer" and transfer.actor_id is not None
    assert (units[transfer.data["from_unit"]], units[transfer.data["to_unit"]]) == ("xzspj", "fgw")
    assert (transfer.data["from_unit_code"], transfer.data["to_unit_code"]) == ("xzspj", "fgw")
    assert transfer.data["category"] == "approval"
    async with dialog.desk.uow_factory() as uow:
        assert list(await uow.tickets.corrections()) == []  # a transfer is not a re-tag

    # The old unit can no longer act; the new one can.
    assert texts.BTN_ACCEPT not in wu_card.words()
    out = await dialog.press_data(WU, wu_accept, wu_card.message_id)
    assert out.alert
    await dialog.press(FENG, "受理", on=card)
    assert "已由 县发展和改革委员会 冯科长 受理" in dialog.last(HAN).text

    # /ticket shows the original category and the transfer between the two units.
    await dialog.say(FENG, f"/ticket {t.number}")
    detail = dialog.last(FENG).text
    assert "类别:审批手续" in detail and "惠企政策" not in detail
    assert texts.transfer_history_note(XZSPJ, FGW) in detail

    # The ledger's 问题类别 and the statistics by category stay truthful.
    path = tmp_path / "ledger.xlsx"
    async with dialog.desk.uow_factory() as uow:
        assert await export_ledger(uow, path, None, dialog.clock.now(),
                                   dialog.desk.config.timezone) == 1
        now, tz = dialog.clock.now(), dialog.desk.config.timezone
        approval = await query_stats(uow.session, now=now, tz=tz, scope=Scope.category("approval"))
        policy = await query_stats(uow.session, now=now, tz=tz, scope=Scope.category("policy"))
    assert (approval.totals.submitted, policy.totals.submitted) == (1, 0)
    ws = load_workbook(path)[T.LEDGER_SHEET]
    header, row = list(ws.iter_rows(values_only=True))
    line = dict(zip(header, row, strict=True))
    assert (line["问题类别"], line["责任单位"]) == ("审批手续", FGW)


async def test_rerouting_a_returned_ticket_keeps_its_category(dialog: Dialog) -> None:
    await dialog.say(HAN, PERMIT)
    await dialog.press(HAN, "提交")
    await dialog.press(WU, "退回")
    await dialog.say(WU, "规划条件需发改部门先行论证")
    await dialog.press(ZHAO, "转办")
    await dialog.press(ZHAO, FGW)
    t, events, units = await _ticket(dialog)
    assert (units[t.unit_id], t.category_code) == ("fgw", "approval")
    assert events[-1].data["kind"] == "reroute"
    assert (events[-1].data["from_unit_code"], events[-1].data["to_unit_code"]) == ("zdb", "fgw")
    assert "类别:审批手续" in dialog.last(FENG).text
    assert dialog.messages(QIAN) == []
