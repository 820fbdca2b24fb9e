"""Ticket lifecycle as a pure state machine (DESIGN §4).

Only `next_status` decides where a ticket goes; storage and handlers call it and never set a
status by hand.
"""

from __future__ import annotations

from enum import StrEnum

from domain import texts
from domain.errors import IllegalTransition


class TicketStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Action(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    TRANSFER = "transfer"
    RETURN = "return"
    REROUTE = "reroute"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    RESOLVE = "resolve"
    RATE = "rate"  # 满意 / 基本满意 → closed
    REOPEN = "reopen"  # 不满意 → in_progress (重办)
    CLOSE_UNRATED = "close_unrated"
    ADD_CO_UNIT = "add_co_unit"
    LINK_DUPLICATE = "link_duplicate"


class Rating(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY = "basically"
    UNSATISFIED = "unsatisfied"


S = TicketStatus
A = Action

# (from, action) -> to.  Actions that keep the status (extension, co-unit) map to themselves.
_TRANSITIONS: dict[tuple[TicketStatus | None, Action], TicketStatus] = {
    (None, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.ACCEPT): S.IN_PROGRESS,
    (S.SUBMITTED, A.TRANSFER): S.SUBMITTED,
    (S.SUBMITTED, A.RETURN): S.SUBMITTED,
    (S.SUBMITTED, A.REROUTE): S.SUBMITTED,
    (S.SUBMITTED, A.ADD_CO_UNIT): S.SUBMITTED,
    (S.IN_PROGRESS, A.ADD_CO_UNIT): S.IN_PROGRESS,
    (S.SUBMITTED, A.LINK_DUPLICATE): S.SUBMITTED,
    (S.IN_PROGRESS, A.LINK_DUPLICATE): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.REFUSE_EXTENSION): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.RATE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.IN_PROGRESS,
    (S.RESOLVED, A.CLOSE_UNRATED): S.CLOSED,
}

OPEN_STATUSES = frozenset({S.SUBMITTED, S.IN_PROGRESS})


def next_status(current: TicketStatus | None, action: Action) -> TicketStatus:
    """The status after `action`, or IllegalTransition with the sentence the user sees."""
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        raise IllegalTransition(
            texts.illegal_transition(str(current or "none"), str(action))
        ) from None


def allowed_actions(current: TicketStatus) -> frozenset[Action]:
    return frozenset(a for (s, a) in _TRANSITIONS if s == current)
