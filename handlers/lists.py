"""/mine, /todo and /ticket: what a person may see, paged with buttons."""

from __future__ import annotations

from domain.errors import Forbidden, InvalidInput
from domain.permissions import may_see
from handlers import outmsg, texts
from handlers.callbacks import encode
from handlers.context import Ctx
from handlers.outmsg import Buttons
from handlers.tickets import access_ticket_by_number, scope_of
from handlers.views import buttons_for, card_for
from storage.models import Ticket

OPEN = ["submitted", "in_progress"]


async def _page(ctx: Ctx, name: str, title: str, tickets: list[Ticket], total: int, page: int,
                message_id: int | None) -> None:
    size = ctx.config.page_size
    pages = max(1, (total + size - 1) // size)
    cats = {c.code: c.name for c in await ctx.uow.org.categories()}
    lines = [texts.list_header(title, total, page + 1, pages)]
    for t in tickets:
        overdue = t.status in OPEN and t.due_at < ctx.now
        lines.append(texts.list_line(t.number, t.status, cats.get(t.category_code, t.category_code),
                                     ctx.fmt(t.due_at), t.text, overdue))
    nav: list[tuple[str, str]] = []
    if page > 0:
        nav.append((texts.BTN_PREV, encode("p", name, page - 1)))
    if page + 1 < pages:
        nav.append((texts.BTN_NEXT, encode("p", name, page + 1)))
    buttons: Buttons = [nav] if nav else []
    body = "\n".join(lines)
    if message_id is not None:
        await ctx.reply(outmsg.edit(body, buttons, message_id=message_id))
    else:
        await ctx.reply(outmsg.send(body, buttons))


async def show_mine(ctx: Ctx, page: int = 0, message_id: int | None = None) -> None:
    assert ctx.actor is not None
    projects = sorted(ctx.actor.contact_project_ids | ctx.actor.officer_project_ids
                      | ctx.actor.leader_project_ids)
    total = await ctx.uow.tickets.count(project_ids=projects)
    if total == 0:
        await ctx.reply(outmsg.send(texts.MINE_EMPTY))
        return
    size = ctx.config.page_size
    rows = list(await ctx.uow.tickets.list(project_ids=projects, limit=size, offset=page * size))
    await _page(ctx, "mine", texts.MINE_TITLE, rows, total, page, message_id)


async def show_todo(ctx: Ctx, page: int = 0, message_id: int | None = None) -> None:
    actor = ctx.actor
    assert actor is not None
    if not (actor.is_official or actor.is_admin):
        raise Forbidden(texts.TODO_NOT_OFFICIAL)
    unit = None if actor.is_admin and not actor.is_official else actor.unit_id
    if actor.is_admin:
        unit = None
    total = await ctx.uow.tickets.count(unit_id=unit, statuses=OPEN)
    if total == 0:
        await ctx.reply(outmsg.send(texts.TODO_EMPTY))
        return
    size = ctx.config.page_size
    rows = list(await ctx.uow.tickets.list(unit_id=unit, statuses=OPEN, order_by_due=True,
                                           limit=size, offset=page * size))
    await _page(ctx, "todo", texts.TODO_TITLE, rows, total, page, message_id)


async def _unit_name(ctx: Ctx, unit_id: object) -> str:
    unit = await ctx.uow.org.unit(unit_id) if isinstance(unit_id, int) else None
    return unit.name if unit else "?"


async def show_ticket(ctx: Ctx, number: str) -> None:
    assert ctx.actor is not None and ctx.account is not None
    if not number.strip():
        raise InvalidInput(texts.TICKET_USAGE)
    ticket = await access_ticket_by_number(ctx, number)
    assert may_see(ctx.actor, scope_of(ticket))
    text, _ = await card_for(ctx, ticket, ctx.account)
    lines = [text, "", texts.HISTORY_TITLE]
    for ev in await ctx.uow.tickets.events(ticket.id):
        who = texts.SYSTEM_ACTOR
        if ev.actor_id is not None:
            acc = await ctx.uow.accounts.get(ev.actor_id)
            who = acc.name if acc else "?"
        from domain.texts import ACTION_NAMES

        note = ev.note
        if ev.action == "transfer" and ev.data and "to_unit" in ev.data:
            note = texts.transfer_history_note(
                await _unit_name(ctx, ev.data.get("from_unit")),
                await _unit_name(ctx, ev.data.get("to_unit")))
        lines.append(texts.history_line(ctx.fmt(ev.created_at), who,
                                        ACTION_NAMES.get(ev.action, ev.action), note))
    # Cut whole lines, never inside an HTML tag, to stay under Telegram's 4096 characters.
    while len("\n".join(lines)) > 3900 and len(lines) > 4:
        del lines[4]
    body = "\n".join(lines)
    buttons = buttons_for(ctx.actor, ticket)
    await ctx.uow.outbox.enqueue(
        idem_key=f"reply:{ctx.update_id}:detail", chat_id=ctx.chat_id or 0,
        payload=outmsg.send(body, buttons), now=ctx.now, ref=f"card:{ticket.id}", urgent=True,
    )
