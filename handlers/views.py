"""Rendering tickets for a given viewer: the card text and the buttons that viewer may press."""

from __future__ import annotations

from domain.lifecycle import Action
from domain.permissions import Actor, may
from handlers import texts
from handlers.callbacks import encode
from handlers.context import Ctx, load_actor
from handlers.outmsg import Buttons
from storage.models import Account, Ticket


async def names(ctx: Ctx, ticket: Ticket) -> dict[str, str]:
    org = ctx.uow.org
    project = await org.project(ticket.project_id)
    unit = await org.unit(ticket.unit_id)
    category = await org.category(ticket.category_code)
    reporter = await ctx.uow.accounts.get(ticket.reporter_id)
    accepted = await ctx.uow.accounts.get(ticket.accepted_by_id) if ticket.accepted_by_id else None
    return {
        "project": project.name if project else "?",
        "unit": unit.name if unit else "?",
        "category": category.name if category else ticket.category_code,
        "reporter": reporter.name if reporter else "?",
        "accepted_by": accepted.name if accepted else "",
    }


def buttons_for(actor: Actor, ticket: Ticket) -> Buttons:
    from handlers.tickets import scope_of

    scope = scope_of(ticket)
    rows: Buttons = []
    if ticket.status == "submitted" and may(actor, Action.ACCEPT, scope):
        rows.append([
            (texts.BTN_ACCEPT, encode("t", "acc", ticket.id)),
            (texts.BTN_TRANSFER, encode("t", "trn", ticket.id)),
            (texts.BTN_RETURN, encode("t", "ret", ticket.id)),
        ])
    elif ticket.status == "in_progress" and may(actor, Action.RESOLVE, scope):
        row = [(texts.BTN_RESOLVE, encode("t", "res", ticket.id))]
        if ticket.extension_until is None:
            row.append((texts.BTN_EXTEND, encode("t", "ext", ticket.id)))
        rows.append(row)
    if ticket.extension_until is not None and may(actor, Action.APPROVE_EXTENSION, scope):
        rows.append([
            (texts.BTN_APPROVE, encode("t", "xa", ticket.id)),
            (texts.BTN_REFUSE, encode("t", "xr", ticket.id)),
        ])
    return rows


async def card_for(ctx: Ctx, ticket: Ticket, viewer: Account) -> tuple[str, Buttons]:
    n = await names(ctx, ticket)
    actor = await load_actor(ctx.uow, viewer)
    footer = None
    handling = actor.is_admin or actor.unit_id == ticket.unit_id
    if not handling and actor.is_official:
        footer = texts.handled_elsewhere(n["unit"])
    extension = None
    if ticket.extension_until is not None:
        extension = f"延至 {ctx.fmt(ticket.extension_until)},原因:{ticket.extension_reason or ''}"
    text = texts.ticket_card(
        number=ticket.number,
        project=n["project"],
        category=n["category"],
        urgent=ticket.urgent,
        status=ticket.status,
        unit=n["unit"],
        reporter=n["reporter"],
        text=ticket.text,
        created=ctx.fmt(ticket.created_at),
        due=ctx.fmt(ticket.due_at),
        accepted_by=n["accepted_by"] or None,
        returned_reason=ticket.returned_reason if ticket.status == "submitted" else None,
        reopen_count=ticket.reopen_count,
        extension=extension,
        result=ticket.result if ticket.status in ("resolved", "closed") else None,
        footer=footer,
    )
    return text, buttons_for(actor, ticket)


def rating_buttons(ticket: Ticket) -> Buttons:
    # The reopen count in the data makes buttons of an earlier round stale.
    n = ticket.reopen_count
    return [[
        (texts.BTN_SATISFIED, encode("r", "s", ticket.id, n)),
        (texts.BTN_BASICALLY, encode("r", "b", ticket.id, n)),
        (texts.BTN_UNSATISFIED, encode("r", "u", ticket.id, n)),
    ]]
