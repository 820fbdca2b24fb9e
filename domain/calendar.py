"""Working days on the Chinese official calendar (DESIGN §8).

Public holidays and make-up working days come from the `chinese_calendar` package. For years it
does not know yet we fall back to Monday–Friday, and say so once in the log, rather than stop the
desk: a deadline a day off is better than no deadline.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

# Office hours close at 18:00: "N working days" means by the end of the Nth working day.
END_OF_DAY = time(18, 0)

_warned_years: set[int] = set()


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese_calendar has no data for %s; counting Mon-Fri only", day.year)
        return day.weekday() < 5


@lru_cache(maxsize=65536)
def add_working_days(day: date, n: int) -> date:
    """The nth working day after `day` (n >= 1), or `day` itself rolled forward for n == 0."""
    current = day
    if n <= 0:
        while not is_working_day(current):
            current += timedelta(days=1)
        return current
    counted = 0
    while counted < n:
        current += timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


@lru_cache(maxsize=65536)
def subtract_working_days(day: date, n: int) -> date:
    current = day
    counted = 0
    while counted < n:
        current -= timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


@lru_cache(maxsize=65536)
def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end == start:
        return 0
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return sign * count


def due_after_working_days(moment: datetime, n: int, tz: ZoneInfo) -> datetime:
    """End of office hours on the nth working day after the local date of `moment` (aware UTC out)."""
    local = moment.astimezone(tz)
    day = add_working_days(local.date(), n)
    return datetime.combine(day, END_OF_DAY, tzinfo=tz).astimezone(moment.tzinfo)


def working_days_elapsed(start: datetime, end: datetime, tz: ZoneInfo) -> float:
    """Duration in working days, counting the working-day share of each calendar day touched."""
    if end <= start:
        return 0.0
    total = 0.0
    cur = start.astimezone(tz)
    stop = end.astimezone(tz)
    while cur < stop:
        next_midnight = datetime.combine(cur.date() + timedelta(days=1), time(0), tzinfo=tz)
        seg_end = min(next_midnight, stop)
        if is_working_day(cur.date()):
            total += (seg_end - cur).total_seconds() / 86400.0
        cur = seg_end
    return total


# --- moments on the working-day calendar (the reminder ladder of DESIGN §8) -------------------


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def at_local(day: date, clock_time: time, tz: ZoneInfo) -> datetime:
    """`clock_time` on local `day`, as an aware UTC datetime."""
    return datetime.combine(day, clock_time, tzinfo=tz).astimezone(UTC)


def shift_working_days(moment: datetime, n: int, tz: ZoneInfo) -> datetime:
    """The same local clock time n working days later (n < 0: earlier), aware UTC.

    Friday 18:00 shifted by 1 is Monday 18:00 (or the make-up Sunday); shifted by -1 from
    Monday 18:00 it is the working day before. A moment on a day off counts from that day:
    Saturday 10:00 + 1 is Monday 10:00.
    """
    if n == 0:
        return moment.astimezone(UTC)
    local = moment.astimezone(tz)
    day = add_working_days(local.date(), n) if n > 0 else subtract_working_days(local.date(), -n)
    return at_local(day, local.time().replace(tzinfo=None), tz)


def working_days_overdue(due: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Working days in (local due date, local today]: 0 on the due day, 1 the next working day."""
    return max(0, working_days_between(local_date(due, tz), local_date(now, tz)))


def latest_working_slot(after: date, clock_time: time, now: datetime, tz: ZoneInfo) -> date | None:
    """The latest working day D > `after` whose `clock_time` is not later than `now`, or None."""
    local = now.astimezone(tz)
    day = local.date()
    if local.time().replace(tzinfo=None) < clock_time:
        day -= timedelta(days=1)
    while day > after and not is_working_day(day):
        day -= timedelta(days=1)
    return day if day > after else None


def next_working_slot(after: date, clock_time: time, now: datetime, tz: ZoneInfo) -> datetime:
    """`clock_time` on the earliest working day D > `after` that is later than `now` (aware UTC)."""
    local = now.astimezone(tz)
    day = max(after + timedelta(days=1), local.date())
    if day == local.date() and local.time().replace(tzinfo=None) >= clock_time:
        day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return at_local(day, clock_time, tz)


def in_quiet_hours(moment: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    """Whether local `moment` falls in [start, end) (the window may wrap past midnight)."""
    t = moment.astimezone(tz).time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_hours_end(moment: datetime, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """When the quiet period containing `moment` ends (aware UTC), or None outside it."""
    if not in_quiet_hours(moment, start, end, tz):
        return None
    local = moment.astimezone(tz)
    day = local.date()
    if local.time().replace(tzinfo=None) >= end:
        day += timedelta(days=1)
    return at_local(day, end, tz)
