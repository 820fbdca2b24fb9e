"""Who may do what (DESIGN §5), on plain data so it is testable without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain import texts
from domain.errors import Forbidden
from domain.lifecycle import Action


class Role(StrEnum):
    ENTERPRISE = "enterprise"
    OFFICIAL = "official"
    LEADER = "leader"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    account_id: int
    roles: frozenset[str]
    unit_id: int | None = None
    unit_is_dispatcher: bool = False
    contact_project_ids: frozenset[int] = field(default_factory=frozenset)
    leader_project_ids: frozenset[int] = field(default_factory=frozenset)
    officer_project_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_official(self) -> bool:
        return Role.OFFICIAL in self.roles and self.unit_id is not None

    @property
    def is_dispatcher(self) -> bool:
        return self.is_official and self.unit_is_dispatcher


@dataclass(frozen=True)
class TicketScope:
    """What the permission check needs to know about a ticket."""

    project_id: int
    unit_id: int
    co_unit_ids: frozenset[int] = frozenset()
    reporter_id: int | None = None


def may_report(actor: Actor, project_id: int) -> bool:
    """Enterprise contacts report for their projects; service officers and admins on their behalf."""
    return (
        project_id in actor.contact_project_ids
        or project_id in actor.officer_project_ids
        or actor.is_admin
    )


def serves_as_official(actor: Actor, t: TicketScope) -> bool:
    """The actor is an official of the ticket: its handling unit, a co-unit, or the dispatcher
    (which re-routes and approves, so every ticket is its business)."""
    return actor.is_official and (actor.unit_id == t.unit_id or actor.unit_id in t.co_unit_ids
                                  or actor.unit_is_dispatcher)


def may_see(actor: Actor, t: TicketScope) -> bool:
    if actor.is_admin:
        return True
    if t.project_id in actor.contact_project_ids or t.project_id in actor.leader_project_ids:
        return True
    if t.project_id in actor.officer_project_ids:
        return True
    return serves_as_official(actor, t)


_HANDLING = frozenset(
    {Action.ACCEPT, Action.TRANSFER, Action.RETURN, Action.RESOLVE, Action.REQUEST_EXTENSION}
)
_DISPATCHING = frozenset(
    {Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION, Action.REROUTE, Action.ADD_CO_UNIT,
     Action.LINK_DUPLICATE}
)


def may(actor: Actor, action: Action, t: TicketScope) -> bool:
    if action in _HANDLING:
        return actor.is_admin or (actor.is_official and actor.unit_id == t.unit_id)
    if action in _DISPATCHING:
        return actor.is_admin or actor.is_dispatcher
    if action in (Action.RATE, Action.REOPEN):
        # The reporter, or any enterprise contact of the project, rates the result.
        return t.project_id in actor.contact_project_ids or (
            t.reporter_id == actor.account_id and Role.ENTERPRISE in actor.roles
        )
    if action == Action.SUBMIT:
        return may_report(actor, t.project_id)
    return False


def check_may(actor: Actor, action: Action, t: TicketScope) -> None:
    if not may(actor, action, t):
        raise Forbidden(texts.forbidden(str(action)))
