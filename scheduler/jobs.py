"""What a ticket is owed by the scheduler at a given moment: the reminder ladder of DESIGN §8.

Pure: a ticket's facts and the time in, the steps due now and the time of its next step out.
`scheduler/sweeps.py` reads the tickets whose `sweep_at` has come, asks `plan_ticket`, enqueues the
messages (idempotency keys name the step and its local date) and stores the next time.

The ladder of an open ticket (submitted or in progress), in local time:

- ``accept``: not accepted by the accept deadline → the unit is reminded, the dispatcher told;
- ``before``: 1 working day before the due time (urgent: ``urgent_remind_before_hours`` before);
- ``due``: at the due time;
- ``overdue`` (督办): at ``config.morning_push_at`` (``ZHITONG_MORNING_PUSH_AT``, default 09:00
  local) on every working day after the due date, naming the working days overdue;
- ``leader``: once, at the 督办 of the ``escalate_leader_after_days``-th overdue working day;
- ``admin``: once, at the 督办 of the ``escalate_admin_after_days``-th overdue working day.

A resolved ticket without a rating is asked again (``reask``) ``rating_reask_after_days`` working
days after the resolution, then closed as unrated (``close``) ``rating_autoclose_after_days``
working days after the re-ask.

Collapse rule: the before → due → 督办 chain sends only its latest step; after downtime nobody gets
yesterday's "due soon" together with today's 督办. Escalations are sent once even if late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from domain.calendar import (
    add_working_days,
    at_local,
    latest_working_slot,
    local_date,
    next_working_slot,
    shift_working_days,
    working_days_between,
)
from handlers.config import DeskConfig
from storage.models import SWEEP_NOW

# The daily 督办 goes out at the start of the office day: `config.morning_push_at`.
# The weekly bulletin (周通报, Mondays) and the monthly ranking (月排名, on the 1st); one missed
# while the process was down is still sent within CATCH_UP of its time, and is dropped after that.
BULLETIN_AT = time(8, 30)
RANKING_AT = time(8, 30)
CATCH_UP = timedelta(days=1)

OPEN = ("submitted", "in_progress")


class Step(StrEnum):
    ACCEPT = "accept"
    BEFORE = "before"
    DUE = "due"
    OVERDUE = "overdue"
    LEADER = "leader"
    ADMIN = "admin"
    REASK = "reask"
    CLOSE = "close"


@dataclass(frozen=True)
class TicketFacts:
    """The columns of a ticket the ladder depends on."""

    id: int
    status: str
    urgent: bool
    accept_due_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    rating_asks: int
    sweep_at: datetime | None


@dataclass(frozen=True)
class DueStep:
    step: Step
    day: date  # the local date that names the step in its idempotency key
    overdue_days: int = 0


@dataclass(frozen=True)
class Plan:
    steps: tuple[DueStep, ...]
    next_at: datetime | None  # None: nothing left to do for this ticket


def _previous(facts: TicketFacts) -> datetime | None:
    """The visit the ticket was scheduled for, or None when it changed since (plan afresh)."""
    if facts.sweep_at is None or facts.sweep_at <= SWEEP_NOW:
        return None
    return facts.sweep_at


def before_due_at(due: datetime, urgent: bool, config: DeskConfig) -> datetime:
    if urgent:
        return due - timedelta(hours=config.urgent_remind_before_hours)
    return shift_working_days(due, -config.remind_before_working_days, config.timezone)


def plan_ticket(facts: TicketFacts, now: datetime, config: DeskConfig) -> Plan:
    if facts.status in OPEN:
        return _plan_open(facts, now, config)
    if facts.status == "resolved":
        return _plan_resolved(facts, now, config)
    return Plan((), None)


def _plan_open(f: TicketFacts, now: datetime, config: DeskConfig) -> Plan:
    tz = config.timezone
    duban_at = config.morning_push_at
    prev = _previous(f)
    steps: list[DueStep] = []
    future: list[datetime] = []

    if f.status == "submitted":
        if f.accept_due_at <= now:
            if prev is None or f.accept_due_at >= prev:
                steps.append(DueStep(Step.ACCEPT, local_date(f.accept_due_at, tz)))
        else:
            future.append(f.accept_due_at)

    due = f.due_at
    due_day = local_date(due, tz)
    before = before_due_at(due, f.urgent, config)
    first_duban = at_local(add_working_days(due_day, 1), duban_at, tz)
    if now < before:
        future.append(before)
    elif now < due:
        steps.append(DueStep(Step.BEFORE, due_day))
        future.append(due)
    elif now < first_duban:
        steps.append(DueStep(Step.DUE, due_day))
        future.append(first_duban)
    else:
        slot = latest_working_slot(due_day, duban_at, now, tz)
        assert slot is not None  # now >= first_duban
        days = working_days_between(due_day, slot)
        steps.append(DueStep(Step.OVERDUE, slot, days))
        for step, n in ((Step.LEADER, config.escalate_leader_after_days),
                        (Step.ADMIN, config.escalate_admin_after_days)):
            if n <= 0:
                continue
            day_n = add_working_days(due_day, n)
            at = at_local(day_n, duban_at, tz)
            # Not sent by an earlier visit: that visit planned this one (`prev`) for day_n or
            # later. Compared by day, not by time, so a visit stored under another 督办 time
            # (ZHITONG_MORNING_PUSH_AT changed from 09:00 to 08:00) still sends the escalation.
            if at <= now and (prev is None or day_n >= local_date(prev, tz)):
                steps.append(DueStep(step, day_n, days))
        future.append(next_working_slot(due_day, duban_at, now, tz))
    return Plan(tuple(steps), min(future))


def _plan_resolved(f: TicketFacts, now: datetime, config: DeskConfig) -> Plan:
    tz = config.timezone
    if f.resolved_at is None:  # not expected; nothing sensible to plan
        return Plan((), None)
    reask_at = shift_working_days(f.resolved_at, config.rating_reask_after_days, tz)
    if f.rating_asks < 2:
        if now < reask_at:
            return Plan((), reask_at)
        close_at = shift_working_days(now, config.rating_autoclose_after_days, tz)
        return Plan((DueStep(Step.REASK, local_date(now, tz)),), close_at)
    prev = _previous(f)
    close_at = prev or shift_working_days(reask_at, config.rating_autoclose_after_days, tz)
    if now < close_at:
        return Plan((), close_at)
    return Plan((DueStep(Step.CLOSE, local_date(now, tz)),), None)
