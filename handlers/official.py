"""Buttons on ticket cards and the answers they ask for (reason, result, new date, rating)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from domain.errors import AlreadyDone, Forbidden, InvalidInput
from domain.lifecycle import Action, Rating
from domain.permissions import check_may
from handlers import outmsg, texts
from handlers.callbacks import encode
from handlers.context import Ctx
from handlers.outmsg import Buttons
from handlers.tickets import (
    access_ticket,
    check_accept,
    check_decide_extension,
    check_rate,
    check_reopen,
    check_request_extension,
    check_resolve,
    check_return,
    check_transfer,
    scope_of,
)
from handlers.views import card_for

INPUT = "input"


async def _await_input(ctx: Ctx, what: str, ticket_id: int, extra: dict[str, Any] | None = None,
                       ) -> None:
    assert ctx.account is not None
    await ctx.uow.drafts.put(ctx.account.id, INPUT, {"await": what, "ticket_id": ticket_id,
                                                     **(extra or {})}, ctx.now)


async def on_ticket_button(ctx: Ctx, op: str, ticket_id: int, arg: str | None,
                           message_id: int | None) -> str | None:
    """Returns the toast text shown on the button press."""
    assert ctx.actor is not None and ctx.account is not None
    ticket = await access_ticket(ctx, ticket_id)
    scope = scope_of(ticket)
    if op == "acc":
        await check_accept(ctx, ticket_id)
        return "已受理"
    if op == "trn":
        if ticket.status != "submitted":
            raise AlreadyDone(texts.DONE_ALREADY)
        check_may(ctx.actor, Action.TRANSFER, scope)
        rows: Buttons = []
        units = [u for u in await ctx.uow.org.units() if u.id != ticket.unit_id]
        for i in range(0, len(units), 2):
            rows.append([(u.name[:20], encode("t", "tru", ticket.id, u.id)) for u in units[i:i + 2]])
        rows.append([(texts.BTN_BACK, encode("t", "bk", ticket.id))])
        await ctx.reply(outmsg.edit(texts.CHOOSE_TRANSFER_UNIT, rows, message_id=message_id))
        return None
    if op == "tru":
        unit_id = int(arg or 0)
        t = await check_transfer(ctx, ticket_id, unit_id)
        unit = await ctx.uow.org.unit(t.unit_id)
        await ctx.reply(outmsg.send(texts.transferred_notice(t.number, unit.name if unit else "")))
        return "已转办"
    if op == "bk":
        text, buttons = await card_for(ctx, ticket, ctx.account)
        await ctx.reply(outmsg.edit(text, buttons, message_id=message_id))
        return None
    if op in ("ret", "res", "ext"):
        action = {"ret": Action.RETURN, "res": Action.RESOLVE, "ext": Action.REQUEST_EXTENSION}[op]
        from domain.lifecycle import TicketStatus, next_status

        try:
            next_status(TicketStatus(ticket.status), action)
        except Exception:
            raise AlreadyDone(texts.DONE_ALREADY) from None
        check_may(ctx.actor, action, scope)
        what = {"ret": "return_reason", "res": "resolve_result", "ext": "extension"}[op]
        prompt = {"ret": texts.ASK_RETURN_REASON, "res": texts.ASK_RESULT,
                  "ext": texts.ASK_EXTENSION}[op]
        await _await_input(ctx, what, ticket_id)
        await ctx.reply(outmsg.send(f"#{texts.esc(ticket.number)} " + prompt))
        return None
    if op in ("xa", "xr"):
        t = await check_decide_extension(ctx, ticket_id, approve=op == "xa")
        return "已批准延期" if op == "xa" else "已驳回延期"
    raise InvalidInput(texts.BAD_CALLBACK)


async def on_rating_button(ctx: Ctx, op: str, ticket_id: int, arg: str | None,
                           message_id: int | None) -> str | None:
    assert ctx.account is not None
    ticket = await access_ticket(ctx, ticket_id)
    if arg is None or not arg.isdigit() or int(arg) != ticket.reopen_count:
        raise AlreadyDone(texts.STALE_BUTTON)
    if ticket.status != "resolved":
        raise AlreadyDone(texts.DONE_ALREADY)
    if op in ("s", "b"):
        rating = Rating.SATISFIED if op == "s" else Rating.BASICALLY
        t = await check_rate(ctx, ticket_id, rating)
        await ctx.reply(outmsg.edit(texts.rated_thanks(t.number, str(rating)),
                                    message_id=message_id))
        return texts.rating_name(str(rating))
    if op == "u":
        # Check the permission now so a stranger is told at once, not after typing a reason.
        from domain.permissions import may

        if ctx.actor is None or not may(ctx.actor, Action.REOPEN, scope_of(ticket)):
            raise Forbidden(texts.NOT_YOURS)
        await _await_input(ctx, "unsatisfied_reason", ticket_id, {"round": ticket.reopen_count})
        await ctx.reply(outmsg.send(texts.ASK_UNSATISFIED_REASON))
        return None
    raise InvalidInput(texts.BAD_CALLBACK)


_DATE = re.compile(r"(20\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


def parse_extension(text: str) -> tuple[date | None, str]:
    m = _DATE.search(text)
    if m is None:
        return None, text.strip()
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None, text.strip()
    reason = (text[: m.start()] + text[m.end():]).strip(" ,,。.;;:")
    reason = re.sub(r"(申请)?延期至?$", "", reason).strip(" ,,。.;;:")
    return day, reason


async def on_pending_input(ctx: Ctx, pending: dict[str, Any], text: str, photos: list[str]) -> None:
    """The person answered a question the bot asked (reason, result, new date)."""
    assert ctx.account is not None
    what = pending.get("await")
    ticket_id = int(pending.get("ticket_id", 0))
    if what == "return_reason":
        t = await check_return(ctx, ticket_id, text)
        await ctx.reply(outmsg.send(texts.returned_done(t.number)))
    elif what == "resolve_result":
        t = await check_resolve(ctx, ticket_id, text, photos)
        await ctx.reply(outmsg.send(texts.resolved_done(t.number)))
    elif what == "extension":
        day, reason = parse_extension(text)
        if day is None:
            raise InvalidInput(texts.EXTENSION_NEEDS_DATE)
        if not reason:
            raise InvalidInput(texts.EXTENSION_NEEDS_REASON)
        until = datetime.combine(day, time(18, 0), tzinfo=ctx.config.timezone)
        t = await check_request_extension(ctx, ticket_id, until, reason)
        await ctx.reply(outmsg.send(texts.extension_requested_done(t.number)))
    elif what == "unsatisfied_reason":
        ticket = await access_ticket(ctx, ticket_id)
        if int(pending.get("round", -1)) != ticket.reopen_count:
            raise AlreadyDone(texts.STALE_BUTTON)
        t = await check_reopen(ctx, ticket_id, text)
        await ctx.reply(outmsg.send(texts.reopened_done(t.number)))
    else:
        raise InvalidInput(texts.STALE_BUTTON)
    await ctx.uow.drafts.drop(ctx.account.id, INPUT)
