"""User-facing Chinese text the scheduler sends: reminders, 督办, escalations, re-asks, bulletins.

HTML for Telegram's parse_mode=HTML; every piece of user text goes through `esc`. Times arrive
already formatted in the desk's zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.texts import esc

EXCERPT_CHARS = 60
TICKET_HINT = "发送 /ticket {number} 查看详情并处理。"


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    t = " ".join((text or "").split())
    return esc(t if len(t) <= limit else t[: limit - 1] + "…")


def _hint(number: str) -> str:
    return TICKET_HINT.format(number=esc(number))


def _urgent(urgent: bool) -> str:
    return "🔴 紧急 " if urgent else ""


@dataclass(frozen=True)
class TicketLine:
    """What a reminder says about its ticket."""

    number: str
    project: str
    unit: str
    category: str
    urgent: bool
    text: str
    due: str
    accept_due: str


def accept_overdue_unit(t: TicketLine) -> str:
    return (
        f"⏰ <b>受理提醒</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"项目「{esc(t.project)}」的诉求已超过受理时限({t.accept_due}),本单位尚未受理,请立即受理或转办。\n"
        f"类别:{esc(t.category)}\n内容:{excerpt(t.text)}\n{_hint(t.number)}"
    )


def accept_overdue_dispatcher(t: TicketLine) -> str:
    return (
        f"⏰ <b>受理超时</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"{esc(t.unit)} 未在受理时限({t.accept_due})内受理项目「{esc(t.project)}」的诉求。\n"
        f"内容:{excerpt(t.text)}\n{_hint(t.number)}"
    )


def before_due(t: TicketLine) -> str:
    return (
        f"⏳ <b>到期提醒</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"项目「{esc(t.project)}」的诉求将于 {t.due} 到期,请抓紧办结;确需延期请在到期前申请。\n"
        f"内容:{excerpt(t.text)}\n{_hint(t.number)}"
    )


def at_due(t: TicketLine) -> str:
    return (
        f"🔔 <b>到期督办</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"项目「{esc(t.project)}」的诉求已到办理时限({t.due}),尚未办结,请立即办理。"
        "超期后每个工作日督办一次,并按规定提级。\n"
        f"内容:{excerpt(t.text)}\n{_hint(t.number)}"
    )


def overdue(t: TicketLine, days: int) -> str:
    return (
        f"🚨 <b>督办</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"项目「{esc(t.project)}」的诉求已超期 <b>{days}</b> 个工作日(办理时限 {t.due}),"
        "请立即办理并反馈结果。\n"
        f"内容:{excerpt(t.text)}\n{_hint(t.number)}"
    )


def escalate_leader(t: TicketLine, days: int, status: str) -> str:
    return (
        f"📌 <b>超期提级</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"您分包的项目「{esc(t.project)}」的诉求已超期 <b>{days}</b> 个工作日,请协调督促。\n"
        f"责任单位:{esc(t.unit)}\n类别:{esc(t.category)}\n状态:{esc(status)}\n"
        f"办理时限:{t.due}\n内容:{excerpt(t.text)}"
    )


def escalate_admin(t: TicketLine, days: int, status: str, leader: str | None) -> str:
    told = f"已提请分包领导 {esc(leader)} 协调。" if leader else "该项目未设分包领导。"
    return (
        f"📌 <b>超期通报</b> {_urgent(t.urgent)}#{esc(t.number)}\n"
        f"项目「{esc(t.project)}」的诉求已超期 <b>{days}</b> 个工作日,{told}\n"
        f"责任单位:{esc(t.unit)}\n类别:{esc(t.category)}\n状态:{esc(status)}\n"
        f"办理时限:{t.due}\n内容:{excerpt(t.text)}"
    )


def reask_rating(number: str, unit: str, result: str) -> str:
    return (
        f"📣 <b>回访</b> 您的诉求 <b>#{esc(number)}</b> 已由 {esc(unit)} 办结,还没有收到您的评价。\n"
        f"办理结果:{excerpt(result, 200)}\n\n请对办理结果进行评价(未评价的将在几个工作日后自动销号):"
    )


def autoclosed(number: str) -> str:
    return (
        f"诉求 <b>#{esc(number)}</b> 办结后未收到评价,已按「未评价」销号。"
        "如问题仍未解决,请直接发消息重新反映。"
    )


# --- weekly bulletin (the monthly ranking's text is in handlers.stats_texts) ----------------------


@dataclass(frozen=True)
class UnitWeek:
    unit: str
    new: int
    resolved: int
    overdue: int


@dataclass(frozen=True)
class OverdueLine:
    number: str
    project: str
    unit: str
    days: int


def bulletin(week_label: str, rows: list[UnitWeek], worst: list[OverdueLine]) -> str:
    total_new = sum(r.new for r in rows)
    total_resolved = sum(r.resolved for r in rows)
    total_overdue = sum(r.overdue for r in rows)
    lines = [
        f"📊 <b>周通报</b>({esc(week_label)})",
        f"新增诉求 {total_new} 件,办结 {total_resolved} 件,目前超期未办结 {total_overdue} 件。",
    ]
    shown = [r for r in rows if r.new or r.resolved or r.overdue]
    if shown:
        lines.append("\n<b>分单位</b>(新增 / 办结 / 超期):")
        for r in shown:
            flag = " ⚠️" if r.overdue else ""
            lines.append(f"• {esc(r.unit)}:{r.new} / {r.resolved} / {r.overdue}{flag}")
    if worst:
        lines.append("\n<b>超期最久</b>:")
        for w in worst:
            lines.append(
                f"• #{esc(w.number)} {esc(w.project)} · {esc(w.unit)} · 超期 {w.days} 个工作日"
            )
    return "\n".join(lines)
