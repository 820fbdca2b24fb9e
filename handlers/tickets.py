"""Ticket transitions: the one place that changes a ticket (DESIGN §4, §12.3).

Every function checks permission and the state machine, changes the row with a compare-and-set
(so the first of two presses wins), writes its TicketEvent and enqueues what it causes — all in
the caller's unit of work. `check_*` validates then changes; `do_*` changes after validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import texts as dtexts
from domain.errors import AlreadyDone, Forbidden, IllegalTransition, InvalidInput, NotFound
from domain.lifecycle import Action, Rating, TicketStatus, next_status
from domain.permissions import (
    Actor,
    TicketScope,
    check_may,
    may_report,
    may_see,
    serves_as_official,
)
from handlers import notify
from handlers.context import Ctx
from handlers.deadlines import accept_due, resolve_due
from storage.models import Account, Category, Project, Ticket, TicketEvent, Unit


def scope_of(ticket: Ticket) -> TicketScope:
    return TicketScope(
        project_id=ticket.project_id,
        unit_id=ticket.unit_id,
        co_unit_ids=frozenset(int(u) for u in ticket.co_unit_ids or []),
        reporter_id=ticket.reporter_id,
    )


def role_label(actor: Actor | None, ticket: Ticket | None = None) -> str:
    if actor is None:
        return "system"
    if ticket is not None and ticket.project_id in actor.contact_project_ids:
        return "enterprise"
    if ticket is not None and ticket.project_id in actor.officer_project_ids:
        return "service_officer"
    if actor.is_admin and ticket is not None and not serves_as_official(actor, scope_of(ticket)):
        return "admin"  # an admin who is also an official, acting outside their own unit
    if actor.is_official:
        return "official"
    if actor.is_admin:
        return "admin"
    if actor.leader_project_ids:
        return "leader"
    return "enterprise"


def _actor(ctx: Ctx) -> Actor:
    if ctx.actor is None:
        raise Forbidden(dtexts.forbidden("submit"))
    return ctx.actor


async def access_ticket(ctx: Ctx, ticket_id: int) -> Ticket:
    """The permission-checked fetch: a ticket the actor may not see looks like no ticket."""
    ticket = await ctx.uow.tickets.get(ticket_id)
    if ticket is None or ctx.actor is None or not may_see(ctx.actor, scope_of(ticket)):
        raise NotFound(dtexts.ticket_not_found(str(ticket_id)))
    return ticket


async def access_ticket_by_number(ctx: Ctx, number: str) -> Ticket:
    ticket = await ctx.uow.tickets.by_number(number.strip().lstrip("#"))
    if ticket is None or ctx.actor is None or not may_see(ctx.actor, scope_of(ticket)):
        raise NotFound(dtexts.ticket_not_found(number))
    return ticket


async def _record(
    ctx: Ctx,
    ticket: Ticket,
    action: Action,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=ctx.actor.account_id if ctx.actor else None,
        role=role_label(ctx.actor, ticket),
        action=str(action),
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
        update_id=ctx.update_id,
        created_at=ctx.now,
    )
    ctx.uow.tickets.add_event(event)
    await ctx.uow.tickets.flush()
    return event


async def _move(
    ctx: Ctx, ticket: Ticket, action: Action, values: dict[str, Any], note: str | None = None,
    data: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
) -> TicketEvent:
    """State machine + compare-and-set + audit row, in the caller's transaction."""
    current = TicketStatus(ticket.status)
    target = next_status(current, action)
    values = {**values, "status": str(target)}
    # On success `ticket` takes the new values (no second UPDATE of the row).
    won = await ctx.uow.tickets.compare_and_set(
        ticket, str(current), ticket.unit_id, values, extra
    )
    if not won:
        raise AlreadyDone(dtexts.already_done(str(action)))
    return await _record(ctx, ticket, action, str(current), str(target), note, data)


async def _fresh(ctx: Ctx, ticket_id: int, *, for_update: bool = False) -> Ticket:
    ticket = await ctx.uow.tickets.get(ticket_id, for_update=for_update)
    if ticket is None:
        raise NotFound(dtexts.ticket_not_found(str(ticket_id)))
    return ticket


def _guard(ctx: Ctx, action: Action, ticket: Ticket) -> Actor:
    actor = _actor(ctx)
    # A repeated press on a finished step reads "already done", not "illegal".
    try:
        next_status(TicketStatus(ticket.status), action)
    except IllegalTransition:
        if _already_past(ticket, action):
            raise AlreadyDone(dtexts.already_done(str(action))) from None
        raise
    check_may(actor, action, scope_of(ticket))
    return actor


def _already_past(ticket: Ticket, action: Action) -> bool:
    s = ticket.status
    return (
        (action == Action.ACCEPT and s in ("in_progress", "resolved", "closed"))
        or (action == Action.RESOLVE and s in ("resolved", "closed"))
        or (action in (Action.RATE, Action.REOPEN) and s in ("closed", "in_progress"))
    )


# --- routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    unit: Unit
    category: Category
    via: str  # "project", "category" or "dispatcher"


async def route(ctx: Ctx, project: Project, category_code: str) -> Route:
    """project override → category default unit → dispatcher (DESIGN §6)."""
    org = ctx.uow.org
    category = await org.category(category_code) or await org.category("other")
    if category is None:
        raise InvalidInput("尚未配置问题类别,请联系管理员加载组织架构。")
    override = (project.routing or {}).get(category.code)
    if override:
        unit = await org.unit_by_code(str(override))
        if unit is not None:
            return Route(unit, category, "project")
    unit = await org.unit(category.unit_id)
    if unit is not None:
        return Route(unit, category, "category")
    dispatcher = await org.dispatcher()
    if dispatcher is None:
        raise InvalidInput("尚未配置重点项目办(dispatcher)单位,请联系管理员。")
    return Route(dispatcher, category, "dispatcher")


# --- transitions ------------------------------------------------------------------------------


async def check_submit(
    ctx: Ctx,
    *,
    project: Project,
    reporter: Account,
    text: str,
    category_code: str,
    urgent: bool,
    tags: list[str] | None = None,
    attachments: list[str] | None = None,
) -> Ticket:
    actor = _actor(ctx)
    if not may_report(actor, project.id):
        raise Forbidden(dtexts.forbidden("submit"))
    if not text.strip():
        raise InvalidInput("问题描述不能为空。")
    r = await route(ctx, project, category_code)
    local_day = ctx.now.astimezone(ctx.config.timezone).strftime("%Y%m%d")
    number = await ctx.uow.tickets.next_number(local_day)
    due = resolve_due(ctx.now, urgent, r.category.days, ctx.config)
    ticket = Ticket(
        number=number,
        project_id=project.id,
        reporter_id=reporter.id,
        filed_by_id=actor.account_id,
        text=text.strip(),
        attachments=list(attachments or []),
        category_code=r.category.code,
        urgent=urgent,
        tags=list(tags or []),
        unit_id=r.unit.id,
        co_unit_ids=[],
        status=str(next_status(None, Action.SUBMIT)),
        created_at=ctx.now,
        accept_due_at=accept_due(ctx.now, urgent, ctx.config),
        due_at=due,
        first_due_at=due,
        reopen_count=0,
        rating_asks=0,
        result_attachments=[],
    )
    ctx.uow.tickets.add(ticket)
    await ctx.uow.tickets.flush()
    # Filed by someone who is not the project's contact: a service officer or admin (代为反映).
    proxy = project.id not in actor.contact_project_ids
    event = await _record(
        ctx, ticket, Action.SUBMIT, None, ticket.status,
        note="代为反映" if proxy else None,
        data={"route": r.via, "unit": r.unit.code, "category": r.category.code,
              "filed_by": actor.account_id},
    )
    await notify.notify_new_ticket(ctx, ticket, event)
    return ticket


async def check_accept(ctx: Ctx, ticket_id: int) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    actor = _guard(ctx, Action.ACCEPT, ticket)
    event = await _move(ctx, ticket, Action.ACCEPT,
                        {"accepted_at": ctx.now, "accepted_by_id": actor.account_id})
    await notify.notify_accepted(ctx, ticket, event)
    return ticket


async def check_transfer(ctx: Ctx, ticket_id: int, unit_id: int) -> Ticket:
    """转办: the ticket is submitted again at another unit (DESIGN §4).

    Only the handling unit (and the accept deadline, which is the new unit's to meet) changes.
    The category describes the problem, not who handles it — routing may send a category to a
    unit other than its default (project overrides, re-routing by the dispatcher) — so it is kept,
    and with it the statistics by category and the ledger's 问题类别.
    """
    ticket = await _fresh(ctx, ticket_id)
    actor = _guard(ctx, Action.TRANSFER, ticket)
    target = await ctx.uow.org.unit(unit_id)
    if target is None:
        raise InvalidInput("没有这个单位。")
    if target.id == ticket.unit_id:
        raise InvalidInput(dtexts.TRANSFER_SAME_UNIT)
    old_unit = ticket.unit_id
    source = await ctx.uow.org.unit(old_unit)
    values: dict[str, Any] = {
        "unit_id": target.id,
        "accept_due_at": accept_due(ctx.now, ticket.urgent, ctx.config),
    }
    action = Action.REROUTE if actor.is_dispatcher and ticket.returned_reason else Action.TRANSFER
    event = await _move(ctx, ticket, Action.TRANSFER, values, data={
        "from_unit": old_unit, "to_unit": target.id,
        "from_unit_code": source.code if source else None, "to_unit_code": target.code,
        "category": ticket.category_code, "kind": str(action),
    })
    await notify.notify_new_ticket(ctx, ticket, event)
    await notify.notify_cards_refresh(ctx, ticket, event)
    return ticket


async def check_return(ctx: Ctx, ticket_id: int, reason: str) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    _guard(ctx, Action.RETURN, ticket)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(dtexts.reason_required("return"))
    dispatcher = await ctx.uow.org.dispatcher()
    if dispatcher is None:
        raise InvalidInput("尚未配置重点项目办,无法退回。")
    if dispatcher.id == ticket.unit_id:
        raise InvalidInput("诉求已在重点项目办,请直接转办给责任单位。")
    event = await _move(ctx, ticket, Action.RETURN, {
        "unit_id": dispatcher.id, "returned_reason": reason,
        "accept_due_at": accept_due(ctx.now, ticket.urgent, ctx.config),
    }, note=reason, data={"from_unit": ticket.unit_id})
    await notify.notify_new_ticket(ctx, ticket, event)
    await notify.notify_cards_refresh(ctx, ticket, event)
    return ticket


async def check_request_extension(ctx: Ctx, ticket_id: int, until: datetime, reason: str) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    _guard(ctx, Action.REQUEST_EXTENSION, ticket)
    if not reason.strip():
        raise InvalidInput(dtexts.reason_required("request_extension"))
    if ticket.extension_until is not None:
        raise InvalidInput(dtexts.EXTENSION_PENDING)
    if ctx.now > ticket.due_at:
        raise InvalidInput(dtexts.EXTENSION_AFTER_DUE)
    if until <= ticket.due_at:
        raise InvalidInput(dtexts.EXTENSION_NOT_LATER)
    assert ctx.actor is not None
    event = await _move(ctx, ticket, Action.REQUEST_EXTENSION, {
        "extension_until": until, "extension_reason": reason.strip(),
        "extension_requested_by_id": ctx.actor.account_id,
    }, note=reason.strip(), data={"until": until.isoformat()}, extra={"extension_until": None})
    await notify.notify_extension_requested(ctx, ticket, event)
    return ticket


async def check_decide_extension(ctx: Ctx, ticket_id: int, approve: bool) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    action = Action.APPROVE_EXTENSION if approve else Action.REFUSE_EXTENSION
    if ticket.extension_until is None and ticket.status == "in_progress":
        raise AlreadyDone(dtexts.NO_EXTENSION_PENDING)
    _guard(ctx, action, ticket)
    until = ticket.extension_until
    values: dict[str, Any] = {"extension_until": None, "extension_reason": None,
                              "extension_requested_by_id": None}
    if approve and until is not None:
        values["due_at"] = until
        if ticket.first_resolved_at is None:
            # An approved extension is the deadline 按期办结率 judges the first resolution by.
            values["first_due_at"] = until
    requester_id = ticket.extension_requested_by_id
    event = await _move(ctx, ticket, action, values,
                        data={"until": until.isoformat() if until else None,
                              "previous_due": ticket.due_at.isoformat()},
                        extra={"extension_until": until})
    await notify.notify_extension_decided(ctx, ticket, event, approve, requester_id)
    return ticket


async def check_resolve(ctx: Ctx, ticket_id: int, result: str,
                        photos: list[str] | None = None) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    _guard(ctx, Action.RESOLVE, ticket)
    if not result.strip():
        raise InvalidInput(dtexts.RESULT_REQUIRED)
    values: dict[str, Any] = {
        "resolved_at": ctx.now, "result": result.strip(),
        "result_attachments": list(photos or []), "rating_asks": 1,
        "extension_until": None, "extension_reason": None,
    }
    if ticket.first_resolved_at is None:
        values["first_resolved_at"] = ctx.now
    event = await _move(ctx, ticket, Action.RESOLVE, values, note=result.strip())
    await notify.notify_resolved(ctx, ticket, event)
    return ticket


async def check_rate(ctx: Ctx, ticket_id: int, rating: Rating, reason: str | None = None) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    if rating == Rating.UNSATISFIED:
        return await check_reopen(ctx, ticket_id, reason or "")
    _guard(ctx, Action.RATE, ticket)
    event = await _move(ctx, ticket, Action.RATE, {
        "rating": str(rating), "rated_at": ctx.now, "closed_at": ctx.now,
    }, data={"rating": str(rating)})
    await notify.notify_rated(ctx, ticket, event)
    return ticket


async def check_reopen(ctx: Ctx, ticket_id: int, reason: str) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    _guard(ctx, Action.REOPEN, ticket)
    if not reason.strip():
        raise InvalidInput(dtexts.reason_required("reopen"))
    category = await ctx.uow.org.category(ticket.category_code)
    days = category.days if category else 7
    event = await _move(ctx, ticket, Action.REOPEN, {
        "rating": str(Rating.UNSATISFIED), "rating_reason": reason.strip(), "rated_at": ctx.now,
        "reopen_count": ticket.reopen_count + 1, "resolved_at": None,
        "due_at": resolve_due(ctx.now, ticket.urgent, days, ctx.config),
    }, note=reason.strip(), data={"rating": str(Rating.UNSATISFIED)})
    await notify.notify_reopened(ctx, ticket, event)
    return ticket


async def do_close_unrated(ctx: Ctx, ticket: Ticket) -> Ticket:
    """Used by the scheduler: no rating after the re-ask window (system actor)."""
    await _move(ctx, ticket, Action.CLOSE_UNRATED, {"closed_at": ctx.now})
    return ticket


async def check_add_co_unit(ctx: Ctx, ticket_id: int, unit_id: int) -> Ticket:
    ticket = await _fresh(ctx, ticket_id)
    _guard(ctx, Action.ADD_CO_UNIT, ticket)
    if unit_id == ticket.unit_id or unit_id in (ticket.co_unit_ids or []):
        raise AlreadyDone("该单位已在办理此诉求。")
    co = [*ticket.co_unit_ids, unit_id]
    event = await _move(ctx, ticket, Action.ADD_CO_UNIT, {"co_unit_ids": co},
                        data={"unit": unit_id})
    await notify.notify_co_unit(ctx, ticket, event, unit_id)
    return ticket


async def check_link_duplicate(ctx: Ctx, ticket_id: int, text: str,
                               attachments: list[str] | None = None) -> Ticket:
    """A reporter says a new report is the same problem: append it, audited, no new ticket."""
    # Locked: two reporters linking to one ticket at the same moment (two workers) must not
    # each write the attachments list as they read it, losing the other's photos.
    ticket = await _fresh(ctx, ticket_id, for_update=True)
    actor = _actor(ctx)
    if not may_report(actor, ticket.project_id):
        raise Forbidden(dtexts.forbidden("link_duplicate"))
    next_status(TicketStatus(ticket.status), Action.LINK_DUPLICATE)
    ticket.attachments = [*ticket.attachments, *(attachments or [])]
    event = await _record(ctx, ticket, Action.LINK_DUPLICATE, ticket.status, ticket.status,
                          note=text.strip())
    await notify.notify_supplement(ctx, ticket, event, text)
    return ticket
