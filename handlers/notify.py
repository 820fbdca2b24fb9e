"""notify_*: enqueue the messages a change causes, in the same transaction (DESIGN §10).

Idempotency keys name the event that caused the message, so a retried transaction or a second
sweep never sends twice.
"""

from __future__ import annotations

from handlers import outmsg, texts
from handlers.context import Ctx
from handlers.views import card_for, names, rating_buttons
from storage.models import Account, Ticket, TicketEvent


def card_ref(ticket: Ticket) -> str:
    return f"card:{ticket.id}"


async def _send_card(ctx: Ctx, ticket: Ticket, event: TicketEvent, who: Account) -> None:
    text, buttons = await card_for(ctx, ticket, who)
    await ctx.push(f"card:{ticket.id}:{event.id}:{who.id}", who, outmsg.send(text, buttons),
                   ref=card_ref(ticket), urgent=ticket.urgent)


async def notify_new_ticket(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    """Every official of the handling unit gets the card with 受理 / 转办 / 退回."""
    for official in await ctx.uow.accounts.officials_of(ticket.unit_id):
        await _send_card(ctx, ticket, event, official)


async def notify_cards_refresh(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    """Bring every card of this ticket already sent up to date (first action wins, others see it)."""
    for row in await ctx.uow.outbox.by_ref(card_ref(ticket)):
        if row.payload.get("op") != "send":
            continue
        viewer = await ctx.uow.accounts.by_telegram_id(row.chat_id)
        if viewer is None:
            continue
        text, buttons = await card_for(ctx, ticket, viewer)
        payload = outmsg.edit(text, buttons, message_id=row.message_id, edit_of=row.id)
        await ctx.uow.outbox.enqueue(
            idem_key=f"refresh:{row.id}:{event.id}", chat_id=row.chat_id, payload=payload,
            now=ctx.now, urgent=True,
        )


async def notify_accepted(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    n = await names(ctx, ticket)
    reporter = await ctx.uow.accounts.get(ticket.reporter_id)
    await ctx.push(f"accepted:{ticket.id}:{event.id}", reporter,
                   outmsg.send(texts.accepted_notice(ticket.number, n["unit"], n["accepted_by"])))
    await notify_cards_refresh(ctx, ticket, event)


async def notify_extension_requested(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    dispatcher = await ctx.uow.org.dispatcher()
    if dispatcher is not None:
        for official in await ctx.uow.accounts.officials_of(dispatcher.id):
            await _send_card(ctx, ticket, event, official)
    await notify_cards_refresh(ctx, ticket, event)


async def notify_extension_decided(
    ctx: Ctx, ticket: Ticket, event: TicketEvent, approved: bool, requester_id: int | None
) -> None:
    requester = await ctx.uow.accounts.get(requester_id) if requester_id else None
    await ctx.push(f"extdecided:{ticket.id}:{event.id}", requester,
                   outmsg.send(texts.extension_decided(ticket.number, approved,
                                                       ctx.fmt(ticket.due_at))))
    await notify_cards_refresh(ctx, ticket, event)


async def _enterprise_recipients(ctx: Ctx, ticket: Ticket) -> list[Account]:
    """The reporter if they are a contact; else (代为反映) the project's contacts."""
    contacts = list(await ctx.uow.org.contacts_of(ticket.project_id))
    reporter = await ctx.uow.accounts.get(ticket.reporter_id)
    if reporter is not None and any(c.id == reporter.id for c in contacts):
        return [reporter]
    return contacts or ([reporter] if reporter else [])


async def notify_resolved(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    n = await names(ctx, ticket)
    payload = outmsg.send(texts.result_for_rating(ticket.number, n["unit"], ticket.result or ""),
                          rating_buttons(ticket), photos=list(ticket.result_attachments or []))
    for person in await _enterprise_recipients(ctx, ticket):
        await ctx.push(f"rate:{ticket.id}:{ticket.reopen_count}:{person.id}", person, payload)
    await notify_cards_refresh(ctx, ticket, event)


async def notify_rated(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    await notify_cards_refresh(ctx, ticket, event)


async def notify_reopened(ctx: Ctx, ticket: Ticket, event: TicketEvent) -> None:
    n = await names(ctx, ticket)
    reason = ticket.rating_reason or ""
    for official in await ctx.uow.accounts.officials_of(ticket.unit_id):
        await ctx.push(f"reopen:{ticket.id}:{event.id}:{official.id}", official,
                       outmsg.send(texts.reopened_to_unit(ticket.number, reason)))
        await _send_card(ctx, ticket, event, official)
    project = await ctx.uow.org.project(ticket.project_id)
    if project is not None and project.leader_id is not None:
        leader = await ctx.uow.accounts.get(project.leader_id)
        await ctx.push(f"reopen-leader:{ticket.id}:{event.id}", leader,
                       outmsg.send(texts.reopened_to_leader(ticket.number, n["project"],
                                                            n["unit"], reason)))
    await notify_cards_refresh(ctx, ticket, event)


async def notify_co_unit(ctx: Ctx, ticket: Ticket, event: TicketEvent, unit_id: int) -> None:
    for official in await ctx.uow.accounts.officials_of(unit_id):
        await _send_card(ctx, ticket, event, official)


async def notify_supplement(ctx: Ctx, ticket: Ticket, event: TicketEvent, text: str) -> None:
    for official in await ctx.uow.accounts.officials_of(ticket.unit_id):
        await ctx.push(f"supplement:{ticket.id}:{event.id}:{official.id}", official,
                       outmsg.send(texts.supplement_note(ticket.number, text)))
