"""Working days on the Chinese official calendar (DESIGN §8).

Public holidays and make-up working days come from the `chinese_calendar` package. For years it
does not know yet we fall back to Monday–Friday, and say so once in the log, rather than stop the
desk: a deadline a day off is better than no deadline.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

# Office hours close at 18:00: "N working days" means by the end of the Nth working day.
END_OF_DAY = time(18, 0)

_warned_years: set[int] = set()


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese_calendar has no data for %s; counting Mon-Fri only", day.year)
        return day.weekday() < 5


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


def subtract_working_days(day: date, n: int) -> date:
    current = day
    counted = 0
    while counted < n:
        current -= timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


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
