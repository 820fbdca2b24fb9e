"""The working-day calendar (DESIGN §8): holidays and make-up working days of 2025 and 2026.

Reference (State Council notices, as shipped by `chinese_calendar`):
- National Day 2025: 1–8 Oct off; Sun 28 Sep and Sat 11 Oct are working days.
- Spring Festival 2026: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb are working days.
- Mid-autumn + National Day 2026: 25–27 Sep and 1–7 Oct off; Sun 20 Sep and Sat 10 Oct work.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from domain.calendar import (
    add_working_days,
    due_after_working_days,
    in_quiet_hours,
    is_working_day,
    latest_working_slot,
    next_working_slot,
    quiet_hours_end,
    shift_working_days,
    subtract_working_days,
    working_days_between,
    working_days_overdue,
)
from handlers.config import DeskConfig
from handlers.deadlines import accept_due, resolve_due

TZ = ZoneInfo("Asia/Shanghai")
NINE = time(9, 0)


def bj(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def test_every_day_of_2025_and_2026_matches_the_official_calendar() -> None:
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        assert is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(("day", "working"), [
    (date(2025, 9, 28), True),   # Sunday, make-up working day
    (date(2025, 10, 1), False),
    (date(2025, 10, 6), False),  # Mid-autumn inside the National Day break
    (date(2025, 10, 8), False),
    (date(2025, 10, 11), True),  # Saturday, make-up working day
    (date(2025, 10, 12), False),
    (date(2026, 2, 14), True),   # Saturday, make-up working day
    (date(2026, 2, 16), False),  # 除夕
    (date(2026, 2, 23), False),
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),   # Saturday, make-up working day
    (date(2026, 3, 1), False),
    (date(2026, 9, 20), True),   # Sunday, make-up working day
    (date(2026, 10, 10), True),  # Saturday, make-up working day
])
def test_holidays_and_make_up_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_counting_across_national_day_2025() -> None:
    assert add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Fri → make-up Sunday
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)  # make-up Saturday
    assert add_working_days(date(2025, 9, 30), 4) == date(2025, 10, 13)
    assert subtract_working_days(date(2025, 10, 9), 1) == date(2025, 9, 30)
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 13)) == 4
    assert working_days_between(date(2025, 10, 13), date(2025, 9, 30)) == -4


def test_counting_across_spring_festival_2026() -> None:
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert add_working_days(date(2026, 2, 27), 1) == date(2026, 2, 28)
    assert add_working_days(date(2026, 2, 27), 2) == date(2026, 3, 2)
    assert add_working_days(date(2026, 2, 15), 0) == date(2026, 2, 24)  # rolled forward
    assert working_days_between(date(2026, 2, 13), date(2026, 3, 2)) == 7


def test_resolve_deadline_across_national_day_2026() -> None:
    config = DeskConfig()
    # Submitted Wed 30 Sep 10:00, 7 working days: 8, 9, 10 (Sat), 12, 13, 14, 15 Oct.
    due = resolve_due(bj(2026, 9, 30, 10), False, 7, config)
    assert due == bj(2026, 10, 15, 18)
    assert due.tzinfo is not None
    # Accept within 1 working day: Thursday 1 Oct is a holiday, so Thursday 8 Oct.
    assert accept_due(bj(2026, 9, 30, 10), False, config) == bj(2026, 10, 8, 18)


def test_resolve_deadline_across_spring_festival_2026() -> None:
    config = DeskConfig()
    # Submitted Thu 12 Feb 15:00, 3 working days: 13, 14 (Sat), 24 Feb.
    assert resolve_due(bj(2026, 2, 12, 15), False, 3, config) == bj(2026, 2, 24, 18)
    # Submitted on New Year's Eve (a holiday): counting starts after it.
    assert resolve_due(bj(2026, 2, 16, 11), False, 1, config) == bj(2026, 2, 24, 18)


def test_urgent_deadlines_count_hours_then_one_working_day() -> None:
    config = DeskConfig()
    at = bj(2026, 2, 13, 21, 30)  # Friday night before the Spring Festival
    assert accept_due(at, True, config) == at + timedelta(hours=2)
    assert resolve_due(at, True, 15, config) == bj(2026, 2, 14, 18)  # make-up Saturday


def test_shift_keeps_the_clock_time_and_honours_make_up_days() -> None:
    assert shift_working_days(bj(2026, 2, 24, 18), -1, TZ) == bj(2026, 2, 14, 18)
    assert shift_working_days(bj(2026, 10, 8, 18), -1, TZ) == bj(2026, 9, 30, 18)
    assert shift_working_days(bj(2025, 9, 26, 10, 15), 1, TZ) == bj(2025, 9, 28, 10, 15)
    assert shift_working_days(bj(2026, 11, 28, 10), 1, TZ) == bj(2026, 11, 30, 10)  # Sat → Mon
    assert shift_working_days(bj(2026, 11, 24, 10), 0, TZ) == bj(2026, 11, 24, 10)
    assert shift_working_days(bj(2026, 11, 24, 10), 2, TZ).tzinfo == UTC


def test_days_overdue_count_working_days_after_the_due_date() -> None:
    due = bj(2026, 9, 30, 18)
    assert working_days_overdue(due, bj(2026, 9, 30, 20), TZ) == 0
    assert working_days_overdue(due, bj(2026, 10, 5, 9), TZ) == 0  # holidays do not count
    assert working_days_overdue(due, bj(2026, 10, 8, 9), TZ) == 1
    assert working_days_overdue(due, bj(2026, 10, 12, 9), TZ) == 4  # 8, 9, 10 (Sat), 12
    assert working_days_overdue(due, bj(2026, 9, 29, 9), TZ) == 0


def test_daily_slots_skip_holidays() -> None:
    due_day = date(2026, 2, 13)
    assert latest_working_slot(due_day, NINE, bj(2026, 2, 14, 8, 59), TZ) is None
    assert latest_working_slot(due_day, NINE, bj(2026, 2, 14, 9), TZ) == date(2026, 2, 14)
    assert latest_working_slot(due_day, NINE, bj(2026, 2, 20, 12), TZ) == date(2026, 2, 14)
    assert latest_working_slot(due_day, NINE, bj(2026, 2, 24, 9), TZ) == date(2026, 2, 24)
    assert next_working_slot(due_day, NINE, bj(2026, 2, 13, 18), TZ) == bj(2026, 2, 14, 9)
    assert next_working_slot(due_day, NINE, bj(2026, 2, 14, 9), TZ) == bj(2026, 2, 24, 9)
    assert next_working_slot(due_day, NINE, bj(2026, 2, 1, 9), TZ) == bj(2026, 2, 14, 9)


def test_quiet_hours_wrap_midnight() -> None:
    start, end = time(22, 0), time(7, 30)
    assert not in_quiet_hours(bj(2026, 11, 24, 21, 59), start, end, TZ)
    assert in_quiet_hours(bj(2026, 11, 24, 22, 0), start, end, TZ)
    assert quiet_hours_end(bj(2026, 11, 24, 23, 0), start, end, TZ) == bj(2026, 11, 25, 7, 30)
    assert quiet_hours_end(bj(2026, 11, 25, 3, 0), start, end, TZ) == bj(2026, 11, 25, 7, 30)
    assert quiet_hours_end(bj(2026, 11, 25, 7, 30), start, end, TZ) is None
    # A daytime window (start < end) and an empty one.
    assert quiet_hours_end(bj(2026, 11, 25, 12, 30), time(12), time(14), TZ) == bj(2026, 11, 25, 14)
    assert not in_quiet_hours(bj(2026, 11, 25, 12, 30), time(12), time(12), TZ)


def test_years_without_data_fall_back_to_monday_to_friday() -> None:
    assert is_working_day(date(2099, 1, 2))  # a Friday
    assert not is_working_day(date(2099, 1, 3))  # a Saturday
    assert due_after_working_days(bj(2099, 1, 2, 10), 1, TZ) == bj(2099, 1, 5, 18)
