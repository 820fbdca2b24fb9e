"""User-facing Chinese text of progress reports, project status and the photo library.

HTML for Telegram's parse_mode=HTML; everything a person typed goes through `esc`.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.progress import (
    COLOUR_EMOJI,
    COLOUR_MEANINGS,
    COLOUR_NAMES,
    MILESTONE_NAMES,
    milestone_name,
    pct,
    period_label,
)
from handlers.texts import esc

BTN_AMOUNT = "✏️ 改金额"
BTN_NO_MILESTONE = "无节点变化"
BTN_CONFIRM_MILESTONE = "✅ 确认节点"
BTN_REFUSE_MILESTONE = "✖ 不予确认"
BTN_PHOTOS = "📷 现场照片"
BTN_PREV_MONTH = "« 上月"
BTN_NEXT_MONTH = "下月 »"
BTN_MORE_PHOTOS = "更多照片 »"

COMMANDS = [
    ("progress", "报送项目进度"),
    ("project", "项目状态(四色、计划与完成)"),
    ("photos", "现场照片(形象进度)"),
]
HELP = (
    "• 报送进度:直接发「本月完成投资2300万元,主体结构已封顶」并附现场照片,确认后提交;"
    "也可发送 /progress 按步骤填写;\n"
    "• /project 项目编号 查看项目四色状态、计划与完成、节点;\n"
    "• /photos 项目编号 [2026-11] 按月查看现场照片。"
)


def wan(value: float | None) -> str:
    """2300.0 → 2300, 1234.5 → 1234.5 (万元 figures as people write them)."""
    if value is None:
        return "—"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text.replace(",", "")


def colour_label(colour: str | None) -> str:
    if not colour:
        return "未评定"
    return f"{COLOUR_EMOJI.get(colour, '')} {COLOUR_NAMES.get(colour, colour)}" \
           f"({COLOUR_MEANINGS.get(colour, '')})"


# --- the confirmation card and the guided form --------------------------------------------------

CHOOSE_PROJECT = "您关联了多个项目,请选择本次报送的是哪个项目:"
NOT_A_PROGRESS_REPORTER = "只有项目的企业联系人、首席服务员可以报送进度。"
ASK_AMOUNT = (
    "请发送本月完成的投资额,例如「2300万元」或「1.2亿」。\n本月没有新增投资请发送 0。"
)
ASK_AMOUNT_CORRECTION = "请直接回复正确的金额,例如「2500万元」或「1.2亿」(单位默认为万元)。"
AMOUNT_NOT_UNDERSTOOD = "没有识别到金额。请按「2300万元」「1.2亿」这样的格式再发一次。"
AMOUNT_GIVE_UP = "仍然没有识别到金额,已退出修改金额。需要时请在确认卡片上重新点「改金额」。"
AMOUNT_GIVE_UP_GUIDED = "仍然没有识别到金额,本次进度报送已取消。需要时请重新发送 /progress。"
ASK_MILESTONE = "本月项目有没有到达新的形象进度节点?"
ASK_PHOTOS = "请发送现场照片(可以一次发多张),发完后点「提交」;没有照片也可以直接提交。"
DRAFT_CANCELLED = "已取消,本次进度未报送。"
ALBUM_NEEDS_TEXT = (
    "收到照片。请再发一段文字说明,照片会一起附上:\n"
    "• 反映问题:描述遇到的问题;\n"
    "• 报送进度:写明本月完成投资和形象进度,例如「本月完成投资2300万元,主体结构已封顶」。"
)
DRAFT_GONE = "这份进度报送已经提交或取消了。"
SUBMITTED_TOAST = "进度已报送"


def amount_noted(amount: float | None) -> str:
    return f"本期完成投资:{wan(amount)} 万元"


def project_chosen(project: str) -> str:
    return f"报送进度:<b>{esc(project)}</b>"


def milestone_chosen(milestone: str | None) -> str:
    return f"形象进度节点:{esc(milestone_name(milestone)) if milestone else '无变化'}"


def photos_received(count: int) -> str:
    return f"已收到照片,本次进度报送共 {count} 张照片。"


@dataclass(frozen=True)
class CardView:
    project: str | None
    period: str
    amount_wan: float | None
    milestone: str | None
    photos: int
    text: str
    previous_wan: float | None = None
    over_total: bool = False
    stage: str | None = None
    step: str = "card"


def progress_card(v: CardView, *, submitted: bool = False) -> str:
    title = "✅ <b>进度已报送</b>" if submitted else "<b>请确认进度报送</b>"
    lines = [title, f"项目:{esc(v.project) if v.project else '(请选择)'}",
             f"报送期间:{period_label(v.period)}"]
    amount = f"{wan(v.amount_wan)} 万元" if v.amount_wan is not None else "(未识别,请点「改金额」)"
    lines.append(f"本期完成投资:<b>{amount}</b>")
    if v.over_total:
        lines.append("⚠️ 该金额超过项目总投资,请核对单位(万元)")
    if v.previous_wan is not None and not submitted:
        lines.append(f"本期此前已报 {wan(v.previous_wan)} 万元,提交后以本次为准")
    ms = esc(milestone_name(v.milestone)) if v.milestone else "无变化"
    lines.append(f"形象进度节点:{ms}")
    lines.append(f"现场照片:{v.photos} 张")
    if v.text:
        lines.append(f"内容:{esc(v.text)}")
    if not submitted:
        if v.step == "photos":
            lines.append("\n" + ASK_PHOTOS)
        elif v.project:
            lines.append("\n确认无误请点「提交」;金额不对请点「改金额」。")
    return "\n".join(lines)


def receipt(project: str, period: str, amount: float | None, completed: float,
            rate: float | None, milestone_pending: str | None) -> str:
    lines = [f"✅ <b>{esc(project)}</b> {period_label(period)}进度已报送。"]
    if amount is not None:
        lines.append(f"本期完成投资 {wan(amount)} 万元;今年累计 {wan(completed)} 万元"
                     + (f",完成年度计划 {pct(rate)}。" if rate is not None else "。"))
    if milestone_pending:
        lines.append(f"「{esc(milestone_name(milestone_pending))}」节点已提交牵头单位(首席服务员)"
                     "确认,确认后更新项目阶段。")
    lines.append("本条是进度报送,不会作为问题转办。遇到问题请直接描述问题。")
    return "\n".join(lines)


# --- milestone confirmation ---------------------------------------------------------------------

MILESTONE_NOT_ALLOWED = "只有牵头单位工作人员或首席服务员可以确认形象进度节点。"
STAGE_ALREADY = "项目已处于该阶段或之后,无需再确认。"
REPORT_NOT_FOUND = "没有找到这份进度报送。"


def milestone_confirm_card(project: str, code: str, reporter: str, reported_at: str,
                           milestone: str, stage: str | None, text: str, photos: int) -> str:
    lines = [
        "🏗 <b>形象进度节点待确认</b>",
        f"项目:{esc(project)}({esc(code)})",
        f"报送人:{esc(reporter)} · {reported_at}",
        f"报送节点:<b>{esc(milestone_name(milestone))}</b>(当前阶段:{esc(milestone_name(stage))})",
    ]
    if photos:
        lines.append(f"现场照片:{photos} 张(见上)")
    lines.append(f"内容:{esc(text)}")
    return "\n".join(lines)


def milestone_decided_line(confirmed: bool, who: str, at: str) -> str:
    if confirmed:
        return f"\n✅ 已由 {esc(who)} 于 {at} 确认,项目阶段已更新。"
    return f"\n✖ {esc(who)} 于 {at} 未予确认。"


def milestone_already(confirmed: bool, who: str) -> str:
    return f"该节点已由 {who} {'确认' if confirmed else '处理'}过了。"


def milestone_confirmed_toast(milestone: str) -> str:
    return f"已确认,项目阶段更新为「{milestone_name(milestone)}」"


MILESTONE_REFUSED_TOAST = "已记录:不予确认"


def milestone_decided_notice(project: str, milestone: str, confirmed: bool, who: str) -> str:
    if confirmed:
        return (f"✅ 您报送的<b>{esc(project)}</b>「{esc(milestone_name(milestone))}」节点已由 "
                f"{esc(who)} 确认,项目阶段已更新。")
    return (f"您报送的<b>{esc(project)}</b>「{esc(milestone_name(milestone))}」节点暂未获确认"
            f"({esc(who)})。如有疑问请联系首席服务员。")


# --- /project -----------------------------------------------------------------------------------

PROJECT_USAGE = "用法:/project 项目编号,例如 /project P2026-001"
PROJECT_LIST_TITLE = "<b>您可以查看的项目</b>(点击查看详情):"
NO_VISIBLE_PROJECTS = "您目前没有可以查看的项目。"


def project_not_found(code: str) -> str:
    return f"没有找到项目 {esc(code)},或者您无权查看该项目。"


@dataclass(frozen=True)
class MilestoneLine:
    code: str
    reached: bool
    actual: str | None = None
    planned: str | None = None
    pending: bool = False


@dataclass(frozen=True)
class ProjectView:
    name: str
    code: str
    level: str | None
    stage: str | None
    colour: str | None
    colour_since: str | None
    reasons: tuple[str, ...]
    live_note: str | None
    annual_plan_wan: float | None
    total_investment_wan: float | None
    completed_wan: float
    completion_rate: float | None
    elapsed_share: float | None
    shortfall_wan: float | None
    last_report: str | None
    open_tickets: int
    lead_unit: str | None
    leader: str | None
    officer: str | None
    milestones: tuple[MilestoneLine, ...]
    photos: int


def project_view(v: ProjectView) -> str:
    head = f"<b>{esc(v.name)}</b>({esc(v.code)})"
    if v.level:
        head += f" · {esc(v.level)}"
    lines = [head, f"四色状态:{colour_label(v.colour)}"
             + (f"(自 {v.colour_since})" if v.colour_since else "")]
    for reason in v.reasons:
        lines.append(f"  · {esc(reason)}")
    if v.live_note:
        lines.append(v.live_note)
    lines.append(f"当前阶段:{esc(milestone_name(v.stage)) if v.stage else '—'}")
    people = []
    if v.lead_unit:
        people.append(f"牵头单位 {esc(v.lead_unit)}")
    if v.leader:
        people.append(f"分包领导 {esc(v.leader)}")
    if v.officer:
        people.append(f"首席服务员 {esc(v.officer)}")
    if people:
        lines.append(";".join(people))
    lines.append("")
    lines.append("<b>计划与完成</b>")
    if v.total_investment_wan is not None:
        lines.append(f"总投资:{wan(v.total_investment_wan)} 万元")
    lines.append(f"年度计划:{wan(v.annual_plan_wan)} 万元")
    lines.append(f"今年已完成:{wan(v.completed_wan)} 万元(完成率 {pct(v.completion_rate)})")
    if v.elapsed_share is not None:
        tail = ""
        if v.shortfall_wan is not None and v.shortfall_wan > 0:
            tail = f",落后序时进度 {wan(round(v.shortfall_wan, 1))} 万元"
        elif v.shortfall_wan is not None:
            tail = ",达到序时进度"
        lines.append(f"时间进度:{pct(v.elapsed_share)}{tail}")
    lines.append(f"最近报送:{v.last_report or '从未报送'}")
    lines.append("")
    lines.append("<b>形象进度节点</b>")
    for m in v.milestones:
        name = MILESTONE_NAMES.get(m.code, m.code)
        if m.reached:
            mark = f"✅ {name}" + (f" {m.actual}" if m.actual else "")
        elif m.pending:
            mark = f"⏳ {name} 已报送待确认"
        else:
            mark = f"▫️ {name}"
        if m.planned:
            mark += f"(计划 {m.planned})"
        lines.append(mark)
    lines.append("")
    lines.append(f"未办结诉求:{v.open_tickets} 件")
    if v.photos:
        lines.append(f"最新现场照片 {v.photos} 张见上;发送 /photos {esc(v.code)} 按月查看。")
    return "\n".join(lines)


def live_colour(colour: str, reasons: tuple[str, ...]) -> str:
    return (f"按最新数据测算为{colour_label(colour)}:{esc(';'.join(reasons))}"
            "(以每日评定为准)")


def project_list_line(name: str, colour: str | None) -> str:
    return f"{COLOUR_EMOJI.get(colour or '', '▫️')} {name}"[:40]


# --- /photos ------------------------------------------------------------------------------------

PHOTOS_USAGE = "用法:/photos 项目编号 [年-月],例如 /photos P2026-001 2026-11"


def photo_library(name: str, code: str, period: str, total: int, first: int, last: int,
                  lines: list[str], months: list[str]) -> str:
    out = [f"📷 <b>{esc(name)}</b>({esc(code)})现场照片 · {period_label(period)}"]
    if total == 0:
        out.append("本月还没有现场照片。")
    else:
        shown = f"第 {first}–{last} 张," if total > last - first + 1 else ""
        out.append(f"共 {total} 张,{shown}见上。")
        out.extend(lines)
    if months:
        out.append("有照片的月份:" + "、".join(period_label(m) for m in months[-12:]))
    return "\n".join(out)


def photo_line(day: str, who: str, count: int, text: str) -> str:
    return f"• {day} {esc(who)}:{count} 张 — {esc(text[:40])}"


# --- letters and reminders (pushed by the sweeps) -----------------------------------------------


def colour_letter(*, addressee: str, role: str, project: str, code: str, colour: str,
                  previous: str | None, day: str, reasons: tuple[str, ...],
                  annual_plan_wan: float | None, completed_wan: float, rate: float | None,
                  elapsed: float | None, last_report: str | None, sender: str) -> str:
    lines = [
        "📮 <b>提醒函</b>",
        f"{esc(addressee)}:",
        f"您{role}的重点项目<b>{esc(project)}</b>({esc(code)})于 {day} 由"
        f"{colour_label(previous) if previous else '未评定'}调整为<b>{colour_label(colour)}</b>。",
        "原因:",
    ]
    lines.extend(f"  · {esc(r)}" for r in reasons)
    lines.append(
        f"年度计划 {wan(annual_plan_wan)} 万元,今年已完成 {wan(completed_wan)} 万元"
        f"(完成率 {pct(rate)},时间进度 {pct(elapsed)});最近报送:{last_report or '从未报送'}。"
    )
    lines.append("请督促企业加快推进,协调解决存在的问题,并按时报送项目进度。")
    lines.append(f"—— {esc(sender)}")
    return "\n".join(lines)


ROLE_LEAD_UNIT = "单位牵头"
ROLE_LEADER = "分包"
DEFAULT_SENDER = "县重点项目办公室"


def report_reminder(name: str, project: str, period: str) -> str:
    return (
        f"📝 {esc(name)},您好!<b>{esc(project)}</b>{period_label(period)}的项目进度还没有报送。\n"
        "请直接发消息报送,例如「本月完成投资2300万元,主体结构已封顶」,并附几张现场照片;"
        "也可以发送 /progress 按步骤填写。"
    )
