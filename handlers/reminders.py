"""/overdue: the open tickets past their due time that a person answers for (DESIGN §8).

Officials see their unit's, leaders (分包领导) their projects', admins everyone's; the most
overdue first, with the working days overdue. The reminders themselves are sent by the scheduler
(scheduler/sweeps.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, false, func, or_, select

from domain.calendar import working_days_overdue
from domain.errors import Forbidden
from handlers import outmsg
from handlers.context import Ctx
from handlers.texts import esc
from storage.models import Category, Project, Ticket, Unit

if TYPE_CHECKING:
    from handlers.desk import Desk

OPEN = ("submitted", "in_progress")
OVERDUE_LIMIT = 20  # keeps the message well under Telegram's 4096 characters

# Texts of /overdue (kept here until they move into handlers/texts.py).
OVERDUE_FORBIDDEN = "只有责任单位的工作人员、分包领导和管理员可以查看超期诉求。"
OVERDUE_NONE = "👍 目前没有超期未办结的诉求。"


def overdue_header(total: int, shown: int) -> str:
    more = f",列出超期最久的 {shown} 件" if shown < total else ""
    return f"🚨 <b>超期诉求</b>(共 {total} 件{more})"


def overdue_line(number: str, project: str, unit: str, category: str, days: int, due: str,
                 status: str, text: str, urgent: bool) -> str:
    flag = "🔴 " if urgent else ""
    late = f"超期 <b>{days}</b> 个工作日" if days > 0 else "今日已到期"
    body = " ".join(text.split())
    body = body if len(body) <= 40 else body[:39] + "…"
    return (
        f"• {flag}<b>#{esc(number)}</b> {late} · {esc(status)}\n"
        f"  {esc(project)} · {esc(unit)} · {esc(category)} · 时限 {due}\n"
        f"  {esc(body)}"
    )


OVERDUE_FOOTER = "发送 /ticket 编号 查看详情并处理。"


def _scope(ctx: Ctx) -> ColumnElement[bool] | None:
    """The tickets this person answers for; None means all (admins)."""
    actor = ctx.actor
    if actor is None:
        raise Forbidden(OVERDUE_FORBIDDEN)
    if actor.is_admin:
        return None
    conds: list[ColumnElement[bool]] = []
    if actor.is_official and actor.unit_id is not None:
        conds.append(Ticket.unit_id == actor.unit_id)
    if actor.leader_project_ids:
        conds.append(Ticket.project_id.in_(sorted(actor.leader_project_ids)))
    if not conds:
        raise Forbidden(OVERDUE_FORBIDDEN)
    return or_(false(), *conds)


async def overdue_list(ctx: Ctx) -> str:
    """HTML text listing the open overdue tickets of the person's unit and projects."""
    from domain.texts import STATUS_NAMES

    scope = _scope(ctx)
    conds: list[Any] = [Ticket.status.in_(OPEN), Ticket.due_at < ctx.now]
    if scope is not None:
        conds.append(scope)
    s = ctx.uow.session
    total = int((await s.execute(select(func.count(Ticket.id)).where(*conds))).scalar_one())
    if total == 0:
        return OVERDUE_NONE
    rows = (await s.execute(
        select(Ticket.number, Ticket.urgent, Ticket.status, Ticket.due_at, Ticket.text,
               Project.name, Unit.name, Category.name, Ticket.category_code)
        .join(Project, Project.id == Ticket.project_id)
        .join(Unit, Unit.id == Ticket.unit_id)
        .outerjoin(Category, Category.code == Ticket.category_code)
        .where(*conds)
        .order_by(Ticket.due_at, Ticket.id)
        .limit(OVERDUE_LIMIT)
    )).all()
    tz = ctx.config.timezone
    lines = [overdue_header(total, len(rows))]
    for number, urgent, status, due, text, project, unit, category, code in rows:
        lines.append(overdue_line(
            number, project, unit, category or code, working_days_overdue(due, ctx.now, tz),
            ctx.fmt(due), STATUS_NAMES.get(status, status), text or "", bool(urgent),
        ))
    lines.append(OVERDUE_FOOTER)
    return "\n".join(lines)


async def cmd_overdue(ctx: Ctx, args: str) -> None:
    """/overdue: the list above, as a reply."""
    await ctx.reply(outmsg.send(await overdue_list(ctx)))


def register(desk: Desk, data_dir: str | Path | None = None) -> None:
    """Plug /overdue into the desk (bot.app.register_desk_plugins calls this)."""
    desk.extra_commands["overdue"] = cmd_overdue
