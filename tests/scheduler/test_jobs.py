"""The reminder ladder as a pure function (scheduler.jobs.plan_ticket), walked through holidays.

`walk` does what the ticket sweep does with one ticket: visit it when its `sweep_at` comes,
collect the steps due, store the next time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from handlers.config import DeskConfig
from scheduler.jobs import Step, TicketFacts, plan_ticket
from scheduler.sweeps import not_before
from storage.models import SWEEP_NOW
from tests.scheduler.conftest import bj

CONFIG = DeskConfig()


def facts(*, status: str = "in_progress", urgent: bool = False, accept_due: datetime,
          due: datetime, resolved: datetime | None = None, asks: int = 0) -> TicketFacts:
    return TicketFacts(id=1, status=status, urgent=urgent, accept_due_at=accept_due, due_at=due,
                       resolved_at=resolved, rating_asks=asks, sweep_at=SWEEP_NOW)


def walk(f: TicketFacts, start: datetime, until: datetime,
         config: DeskConfig = CONFIG) -> list[tuple[datetime, list[tuple[str, str, int]]]]:
    """(visit time, [(step, key date, days overdue)]) for every visit with something due."""
    out = []
    now = start
    while now <= until:
        plan = plan_ticket(f, now, config)
        if plan.steps:
            out.append((now, [(str(s.step), s.day.isoformat(), s.overdue_days)
                              for s in plan.steps]))
        if plan.next_at is None:
            break
        assert plan.next_at > now
        if plan.steps and plan.steps[0].step == Step.REASK:
            f = replace(f, rating_asks=2)
        f = replace(f, sweep_at=plan.next_at)
        now = plan.next_at
    return out


def test_ladder_across_the_spring_festival_2026() -> None:
    # Due Fri 13 Feb 18:00; Sat 14 Feb is a make-up working day, 15–23 Feb are off.
    f = facts(accept_due=bj(2026, 2, 10, 18), due=bj(2026, 2, 13, 18))
    assert walk(f, bj(2026, 2, 10, 12), bj(2026, 3, 2, 12)) == [
        (bj(2026, 2, 12, 18), [("before", "2026-02-13", 0)]),
        (bj(2026, 2, 13, 18), [("due", "2026-02-13", 0)]),
        (bj(2026, 2, 14, 9), [("overdue", "2026-02-14", 1)]),
        (bj(2026, 2, 24, 9), [("overdue", "2026-02-24", 2), ("leader", "2026-02-24", 2)]),
        (bj(2026, 2, 25, 9), [("overdue", "2026-02-25", 3)]),
        (bj(2026, 2, 26, 9), [("overdue", "2026-02-26", 4)]),
        (bj(2026, 2, 27, 9), [("overdue", "2026-02-27", 5), ("admin", "2026-02-27", 5)]),
        (bj(2026, 2, 28, 9), [("overdue", "2026-02-28", 6)]),  # make-up Saturday
        (bj(2026, 3, 2, 9), [("overdue", "2026-03-02", 7)]),
    ]


def test_ladder_across_national_day_2025() -> None:
    # Accept due Sun 28 Sep 18:00 (a make-up working day), due Tue 30 Sep 18:00.
    f = facts(status="submitted", accept_due=bj(2025, 9, 28, 18), due=bj(2025, 9, 30, 18))
    assert walk(f, bj(2025, 9, 26, 10), bj(2025, 10, 13, 12)) == [
        (bj(2025, 9, 28, 18), [("accept", "2025-09-28", 0)]),
        (bj(2025, 9, 29, 18), [("before", "2025-09-30", 0)]),
        (bj(2025, 9, 30, 18), [("due", "2025-09-30", 0)]),
        (bj(2025, 10, 9, 9), [("overdue", "2025-10-09", 1)]),
        (bj(2025, 10, 10, 9), [("overdue", "2025-10-10", 2), ("leader", "2025-10-10", 2)]),
        (bj(2025, 10, 11, 9), [("overdue", "2025-10-11", 3)]),  # make-up Saturday
        (bj(2025, 10, 13, 9), [("overdue", "2025-10-13", 4)]),
    ]


def test_before_due_of_a_monday_deadline_is_the_working_day_before() -> None:
    # Due Thu 8 Oct 2026 18:00: the working day before is Wed 30 Sep.
    f = facts(accept_due=bj(2026, 9, 29, 18), due=bj(2026, 10, 8, 18))
    steps = walk(f, bj(2026, 9, 29, 19), bj(2026, 10, 8, 18))
    assert steps == [(bj(2026, 9, 30, 18), [("before", "2026-10-08", 0)]),
                     (bj(2026, 10, 8, 18), [("due", "2026-10-08", 0)])]


def test_urgent_reminds_one_hour_before() -> None:
    f = facts(urgent=True, accept_due=bj(2026, 11, 24, 23), due=bj(2026, 11, 25, 18))
    steps = walk(f, bj(2026, 11, 24, 21), bj(2026, 11, 25, 18))
    assert steps[0] == (bj(2026, 11, 25, 17), [("before", "2026-11-25", 0)])


def test_a_visit_after_downtime_sends_only_the_latest_step() -> None:
    f = facts(status="submitted", accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18))
    plan = plan_ticket(f, bj(2026, 12, 4, 12), CONFIG)
    assert [(str(s.step), s.day.isoformat(), s.overdue_days) for s in plan.steps] == [
        ("accept", "2026-11-25", 0),
        ("overdue", "2026-12-04", 5),
        ("leader", "2026-12-01", 5),
        ("admin", "2026-12-04", 5),
    ]
    assert plan.next_at == bj(2026, 12, 7, 9)


def test_a_scheduled_visit_does_not_repeat_past_escalations() -> None:
    f = facts(accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18))
    f = replace(f, sweep_at=bj(2026, 12, 2, 9))
    plan = plan_ticket(f, bj(2026, 12, 2, 9), CONFIG)
    assert [str(s.step) for s in plan.steps] == ["overdue"]


def test_escalation_thresholds_come_from_the_config() -> None:
    config = replace(CONFIG, escalate_leader_after_days=1, escalate_admin_after_days=0)
    f = facts(accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18))
    plan = plan_ticket(f, bj(2026, 11, 30, 9), config)
    assert [str(s.step) for s in plan.steps] == ["overdue", "leader"]


def test_the_duban_goes_out_at_the_configured_morning_time() -> None:
    early = replace(CONFIG, morning_push_at=time(7, 45))
    f = facts(accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18))
    assert walk(f, bj(2026, 11, 27, 18), bj(2026, 12, 4, 12), early) == [
        (bj(2026, 11, 27, 18), [("due", "2026-11-27", 0)]),
        (bj(2026, 11, 30, 7, 45), [("overdue", "2026-11-30", 1)]),
        (bj(2026, 12, 1, 7, 45), [("overdue", "2026-12-01", 2), ("leader", "2026-12-01", 2)]),
        (bj(2026, 12, 2, 7, 45), [("overdue", "2026-12-02", 3)]),
        (bj(2026, 12, 3, 7, 45), [("overdue", "2026-12-03", 4)]),
        (bj(2026, 12, 4, 7, 45), [("overdue", "2026-12-04", 5), ("admin", "2026-12-04", 5)]),
    ]
    # Before the configured time it is still the due reminder's day, not yet 督办.
    plan = plan_ticket(f, bj(2026, 11, 30, 7, 44), early)
    assert [str(s.step) for s in plan.steps] == ["due"]
    assert plan.next_at == bj(2026, 11, 30, 7, 45)


def test_moving_the_morning_time_earlier_loses_no_escalation() -> None:
    # Visit stored under 09:00 for the 分包领导's day (Tue 1 Dec); the deployment now says 08:00.
    f = replace(facts(accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18)),
                sweep_at=bj(2026, 12, 1, 9))
    eight = replace(CONFIG, morning_push_at=time(8, 0))
    plan = plan_ticket(f, bj(2026, 12, 1, 9), eight)
    assert [(str(s.step), s.day.isoformat()) for s in plan.steps] == [
        ("overdue", "2026-12-01"), ("leader", "2026-12-01")]
    assert plan.next_at == bj(2026, 12, 2, 8)
    later = plan_ticket(replace(f, sweep_at=plan.next_at), bj(2026, 12, 2, 8), eight)
    assert [str(s.step) for s in later.steps] == ["overdue"]  # not again


def test_reask_then_close_on_working_days() -> None:
    # Resolved Fri 13 Feb 2026 10:00: re-asked 2 working days later (Sat 14, Tue 24 Feb 10:00),
    # closed 5 working days after that (25, 26, 27, 28 Feb, 2 Mar → Mon 2 Mar 10:00).
    f = facts(status="resolved", accept_due=bj(2026, 2, 10, 18), due=bj(2026, 2, 13, 18),
              resolved=bj(2026, 2, 13, 10), asks=1)
    assert walk(f, bj(2026, 2, 13, 10), bj(2026, 3, 31)) == [
        (bj(2026, 2, 24, 10), [("reask", "2026-02-24", 0)]),
        (bj(2026, 3, 2, 10), [("close", "2026-03-02", 0)]),
    ]


def test_late_reask_restarts_the_close_window() -> None:
    f = facts(status="resolved", accept_due=bj(2026, 11, 2, 18), due=bj(2026, 11, 6, 18),
              resolved=bj(2026, 11, 4, 10), asks=1)
    plan = plan_ticket(f, bj(2026, 11, 24, 9), CONFIG)  # the scheduler was down for weeks
    assert [str(s.step) for s in plan.steps] == ["reask"]
    assert plan.next_at == bj(2026, 12, 1, 9)


def test_closed_tickets_need_nothing() -> None:
    f = facts(status="closed", accept_due=bj(2026, 11, 2, 18), due=bj(2026, 11, 6, 18))
    plan = plan_ticket(f, bj(2026, 11, 24, 9), CONFIG)
    assert plan.steps == () and plan.next_at is None


def test_next_visit_is_always_later_than_now() -> None:
    f = facts(status="submitted", accept_due=bj(2026, 11, 25, 18), due=bj(2026, 11, 27, 18))
    now = bj(2026, 11, 24, 0)
    while now < bj(2026, 12, 31):
        plan = plan_ticket(f, now, CONFIG)
        assert plan.next_at is not None and plan.next_at > now
        now += timedelta(hours=7, minutes=13)


def test_quiet_hours_are_judged_when_the_message_can_go() -> None:
    night, day = bj(2026, 11, 24, 23), bj(2026, 11, 24, 10)
    assert not_before(day, False, CONFIG) == day
    assert not_before(night, False, CONFIG) == bj(2026, 11, 25, 7, 30)
    assert not_before(night, True, CONFIG) == night
    # A preview of a future night, run by day: released at once; run at real night: the morning.
    assert not_before(bj(2026, 12, 9, 23), False, CONFIG, deliver_from=day) == day
    assert not_before(bj(2026, 12, 9, 12), False, CONFIG, deliver_from=night) == bj(
        2026, 11, 25, 7, 30)
    # A sweep as of the past is not held back by the wall clock.
    assert not_before(day, False, CONFIG, deliver_from=bj(2026, 12, 1, 9)) == day


async def test_sweeps_during_an_outage_warn_without_a_traceback_each(
        uow_factory: Any, clock: Any, config: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The database away (SQLite locked past its wait, or a server cut off): every sweep fails,
    # each says so in one line, and the run still ends with the failure for the job to see.
    import logging

    from scheduler.sweeps import run_all_sweeps
    from tests.outage import Switchable

    store = Switchable(uow_factory)
    store.down = True
    with caplog.at_level(logging.WARNING, logger="scheduler.sweeps"), \
            pytest.raises(ConnectionRefusedError):
        await run_all_sweeps(store, clock.now(), config)  # type: ignore[arg-type]
    records = [r for r in caplog.records if r.name == "scheduler.sweeps"]
    assert records and all(r.levelno == logging.WARNING and r.exc_info is None
                           for r in records)
    assert len(records) == store.attempts  # one line per sweep, no more
