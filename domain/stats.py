"""Statistics formulas (DESIGN §9) as pure functions on counts.

`storage/stats_queries.py` counts in SQL; this module turns counts into figures, so every rule
is testable without a database:

- a rate is a fraction in [0, 1], and ``None`` when its denominator is 0 (never a fake 0);
- durations are in working days on the official calendar (the working-day share of each calendar
  day touched, the same measure as `domain.calendar.working_days_elapsed`), computed in O(1) per
  ticket with a prefix sum of working days;
- the monthly ranking is a weighted composite of the rates, units below a minimum sample are
  listed but not ranked, and the red (红榜) and black (黑榜) lists are the top and the bottom
  of the ranked units.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar import is_working_day

# --- periods and scopes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local dates, both ends included; None means open-ended. Applied to ``created_at``."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ValueError("period ends before it starts")

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start 00:00 local, day after end 00:00 local) as aware datetimes."""
        lo = datetime.combine(self.start, time(0), tzinfo=tz) if self.start else None
        hi = (datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz)
              if self.end else None)
        return lo, hi

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, nxt - timedelta(days=1))

    @classmethod
    def previous_month(cls, today: date) -> Period:
        last = today.replace(day=1) - timedelta(days=1)
        return cls.month(last.year, last.month)

    @classmethod
    def week_of(cls, day: date) -> Period:
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def previous_week(cls, today: date) -> Period:
        return cls.week_of(today - timedelta(days=7))

    def label(self) -> str:
        if self.start is None and self.end is None:
            return "全部"
        a = self.start.isoformat() if self.start else "…"
        b = self.end.isoformat() if self.end else "…"
        return f"{a} 至 {b}"


class ScopeKind:
    ALL = "all"
    UNIT = "unit"
    CATEGORY = "category"
    PROJECT = "project"
    LEADER = "leader"


@dataclass(frozen=True)
class Scope:
    """Which tickets count: all, one handling unit (id), one category (code), one project (id),
    or the projects of one 分包领导 (account id)."""

    kind: str = ScopeKind.ALL
    value: int | str | None = None

    def __post_init__(self) -> None:
        kinds = {ScopeKind.ALL, ScopeKind.UNIT, ScopeKind.CATEGORY, ScopeKind.PROJECT,
                 ScopeKind.LEADER}
        if self.kind not in kinds:
            raise ValueError(f"unknown scope {self.kind!r}")
        if (self.kind == ScopeKind.ALL) != (self.value is None):
            raise ValueError("scope 'all' takes no value; the others need one")

    @classmethod
    def all(cls) -> Scope:
        return cls()

    @classmethod
    def unit(cls, unit_id: int) -> Scope:
        return cls(ScopeKind.UNIT, unit_id)

    @classmethod
    def category(cls, code: str) -> Scope:
        return cls(ScopeKind.CATEGORY, code)

    @classmethod
    def project(cls, project_id: int) -> Scope:
        return cls(ScopeKind.PROJECT, project_id)

    @classmethod
    def leader(cls, account_id: int) -> Scope:
        return cls(ScopeKind.LEADER, account_id)


# --- formulas -----------------------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator as a fraction; None when there is nothing to divide by."""
    if denominator <= 0:
        return None
    return numerator / denominator


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


@dataclass(frozen=True)
class Counts:
    """The counts the SQL layer produces for one scope (a unit, or everything).

    - ``submitted``: tickets in the cohort (created in the period).
    - ``response_due``: tickets whose acceptance is decided: accept deadline passed, or accepted.
    - ``responded_on_time``: accepted on or before the accept deadline.
    - ``done``: status resolved or closed now.
    - ``resolved``: resolved at least once (``first_resolved_at`` set), reopened ones included.
    - ``resolved_on_time``: first resolution on or before the deadline in force for it.
    - ``rated``: carrying a satisfaction rating (the latest one: 不满意 until re-rated).
    - ``satisfied``: rated 满意 or 基本满意.
    - ``unrated``: resolved or closed without any rating (waiting, or closed unrated).
    - ``reopened``: reopened (重办) at least once.
    - ``overdue_open``: open (submitted / in progress) and past the due time now.
    """

    submitted: int = 0
    response_due: int = 0
    responded_on_time: int = 0
    done: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    unrated: int = 0
    reopened: int = 0
    overdue_open: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                         for f in fields(self)})

    @classmethod
    def total(cls, parts: Iterable[Counts]) -> Counts:
        out = cls()
        for p in parts:
            out = out + p
        return out


@dataclass(frozen=True)
class Figures:
    """The figures of DESIGN §9 for one scope; rates are fractions or None."""

    submitted: int
    response_rate: float | None
    resolution_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    rated: int
    unrated: int
    reopen_rate: float | None
    overdue_open: int
    median_days: float | None
    mean_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def figures(counts: Counts, durations: Sequence[float] = ()) -> Figures:
    """Counts (and resolution durations in working days) → the figures of DESIGN §9."""
    return Figures(
        submitted=counts.submitted,
        response_rate=rate(counts.responded_on_time, counts.response_due),
        resolution_rate=rate(counts.done, counts.submitted),
        on_time_rate=rate(counts.resolved_on_time, counts.resolved),
        satisfaction_rate=rate(counts.satisfied, counts.rated),
        rated=counts.rated,
        unrated=counts.unrated,
        reopen_rate=rate(counts.reopened, counts.resolved),
        overdue_open=counts.overdue_open,
        median_days=median(durations),
        mean_days=mean(durations),
    )


# --- working-day durations ----------------------------------------------------------------------


class WorkingDayIndex:
    """Prefix sums of working days over a range of dates, for O(1) durations.

    ``count_before(d)`` is the number of working days in [first, d). Dates outside the range fall
    back to counting day by day, so the index is never wrong, only slower.
    """

    def __init__(self, first: date, last: date,
                 is_working: Callable[[date], bool] = is_working_day) -> None:
        self.first = first
        self.last = last
        self.is_working = is_working
        n = (last - first).days + 1
        self._working = [is_working(first + timedelta(days=i)) for i in range(max(n, 0))]
        self._prefix = [0]
        for w in self._working:
            self._prefix.append(self._prefix[-1] + int(w))

    def working(self, day: date) -> bool:
        i = (day - self.first).days
        if 0 <= i < len(self._working):
            return self._working[i]
        return self.is_working(day)

    def between(self, start: date, end: date) -> int:
        """Working days in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0
        i, j = (start - self.first).days, (end - self.first).days
        if i >= 0 and j <= len(self._working):
            return self._prefix[j] - self._prefix[i]
        return sum(1 for k in range((end - start).days) if self.is_working(start + timedelta(k)))


def _wall_seconds(t: datetime) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _local_duration(s: datetime, e: datetime, index: WorkingDayIndex) -> float:
    """`s`, `e` local (same zone), s < e: the working-day share of each calendar day touched."""
    s_day, e_day = s.date(), e.date()
    if s_day == e_day:
        return (_wall_seconds(e) - _wall_seconds(s)) / 86400.0 if index.working(s_day) else 0.0
    next_day = s_day + timedelta(days=1)
    total = float(index.between(next_day, e_day))
    if index.working(s_day):
        total += (86400.0 - _wall_seconds(s)) / 86400.0
    if index.working(e_day):
        total += _wall_seconds(e) / 86400.0
    return total


def working_days_duration(start: datetime, end: datetime, tz: ZoneInfo,
                          index: WorkingDayIndex | None = None) -> float:
    """Working days from `start` to `end`: the working-day share of each local calendar day
    (wall-clock time, as `domain.calendar.working_days_elapsed`), in O(1) with an index."""
    if end <= start:
        return 0.0
    s = start.astimezone(tz)
    e = end.astimezone(tz)
    if index is None:
        index = WorkingDayIndex(s.date(), e.date())
    return _local_duration(s, e, index)


def working_durations(pairs: Iterable[tuple[datetime, datetime]], tz: ZoneInfo) -> list[float]:
    """Durations in working days of (start, end) pairs, sharing one working-day index."""
    local = [(s.astimezone(tz), e.astimezone(tz)) for s, e in pairs]
    if not local:
        return []
    first = min(s for s, _ in local).date()
    last = max(e for _, e in local).date()
    index = WorkingDayIndex(first, max(first, last))
    return [_local_duration(s, e, index) if s < e else 0.0 for s, e in local]


# --- monthly ranking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingRules:
    """How the monthly ranking (月排名) is scored. Weights need not add up to 1.

    The composite is Σ weight × rate ÷ Σ weight over the rates a unit has (a rate with no
    denominator is left out together with its weight), times 100. The reopen rate counts as
    (1 − reopen rate): fewer 重办 is better. Units with fewer than ``min_sample`` submitted
    tickets are listed but not ranked. The red list is the top ``red_size`` ranked units, the black
    list the bottom ``black_size``; with few ranked units each list takes at most half of them,
    so no unit is on both.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: {
        "response_rate": 0.15,
        "resolution_rate": 0.25,
        "on_time_rate": 0.25,
        "satisfaction_rate": 0.25,
        "reopen_rate": 0.10,
    })
    min_sample: int = 5
    red_size: int = 3
    black_size: int = 3


INVERTED = frozenset({"reopen_rate"})
SCORED = ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate", "reopen_rate")


@dataclass(frozen=True)
class UnitFigures:
    unit_id: int
    code: str
    name: str
    figures: Figures
    kind: str = "department"

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.code, "name": self.name, **self.figures.to_dict()}


@dataclass(frozen=True)
class RankedUnit:
    unit: UnitFigures
    score: float | None
    rank: int | None  # None: below the minimum sample (listed, not ranked)


@dataclass(frozen=True)
class Ranking:
    ranked: list[RankedUnit]
    unranked: list[RankedUnit]
    red: list[RankedUnit]
    black: list[RankedUnit]
    rules: RankingRules


def composite_score(f: Figures, weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the available rates × 100 (None when the unit has none of them)."""
    unknown = set(weights) - set(SCORED)
    if unknown:
        raise ValueError(f"unknown ranking weights: {sorted(unknown)}")
    total = 0.0
    weight_sum = 0.0
    for name, weight in weights.items():
        value = getattr(f, name)
        if value is None or weight <= 0:
            continue
        if name in INVERTED:
            value = 1.0 - value
        total += weight * value
        weight_sum += weight
    if weight_sum == 0:
        return None
    return 100.0 * total / weight_sum


def rank_units(units: Sequence[UnitFigures], rules: RankingRules | None = None) -> Ranking:
    """Rank units by composite score (ties share a rank: 1, 2, 2, 4); code breaks ties in order."""
    rules = rules or RankingRules()
    scored: list[RankedUnit] = []
    unranked: list[RankedUnit] = []
    for u in units:
        score = composite_score(u.figures, rules.weights)
        entry = RankedUnit(u, score, None)
        if u.figures.submitted < rules.min_sample or score is None:
            unranked.append(entry)
        else:
            scored.append(entry)
    scored.sort(key=lambda r: (-(r.score or 0.0), r.unit.code))
    ranked: list[RankedUnit] = []
    for i, entry in enumerate(scored):
        rank = i + 1
        if ranked and _same(ranked[-1].score, entry.score):
            rank = ranked[-1].rank or rank
        ranked.append(replace(entry, rank=rank))
    unranked.sort(key=lambda r: (-r.unit.figures.submitted, r.unit.code))
    half = len(ranked) // 2
    red = ranked[: min(rules.red_size, half)]
    black_n = min(rules.black_size, half)
    black = list(reversed(ranked[len(ranked) - black_n:])) if black_n else []
    return Ranking(ranked=ranked, unranked=unranked, red=red, black=black, rules=rules)


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 1e-9
