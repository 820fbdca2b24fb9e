"""Statistics in SQL (DESIGN §9): one aggregate query per report, on SQLite and PostgreSQL.

Every figure is computed over a **cohort**: the tickets of the scope whose ``created_at`` falls in
the period (local dates of the configured time zone, both ends included; no period = all time).
Counts are sums of CASE expressions grouped by handling unit; the totals are the sums of the
units' counts (every count is additive). Only the resolution durations need rows: for them we
fetch the (unit, created_at, first_resolved_at) triples of the resolved tickets in the cohort —
two timestamps per ticket, never whole tickets — and count working days in Python with a prefix
sum over the official calendar (`domain.stats.working_durations`). A calendar table in SQL would
need the local date of each timestamp, which SQLite cannot compute for an arbitrary time zone;
the fetch is bounded by the period and costs little next to the aggregate.

Definitions (DESIGN §9 is the contract; refinements are marked *):

- ``submitted`` 受理量: tickets in the cohort.
- ``response_rate`` 响应率: accepted on or before the accept deadline ÷ tickets whose accept
  deadline has passed as of ``now``. *A ticket accepted before its deadline has passed counts in
  the denominator too (its outcome is known), so the rate never exceeds 1. The accept deadline is
  the one in force (a transfer or a return gives the next unit a fresh one).
- ``resolution_rate`` 办结率: tickets now resolved or closed ÷ submitted. A reopened ticket
  (重办, back in progress) is not 办结 until it is resolved again.
- ``on_time_rate`` 按期办结率: first resolution on or before its deadline ÷ tickets resolved at
  least once. *The deadline is the one in force at the first resolution: ``due_at`` while the
  ticket was never reopened (it includes an approved extension, 延期), else ``first_due_at``.
  *"Resolved" means resolved at least once (``first_resolved_at`` set), so a reopened ticket
  stays in the denominator and the rate stays within [0, 1].
- ``satisfaction_rate`` 满意率: (满意 + 基本满意) ÷ rated. ``rated``: tickets carrying a rating;
  the latest rating counts (a reopened ticket counts as 不满意 until it is rated again).
  ``unrated``: tickets resolved or closed that carry no rating (waiting for one, or closed
  unrated after the re-ask).
- ``reopen_rate`` 重办率: tickets reopened at least once ÷ tickets resolved at least once.
- ``overdue_open`` 超期件数: tickets of the cohort open now (submitted / in progress) whose due
  time has passed.
- ``median_days`` / ``mean_days`` 中位 / 平均办结时长: working days from ``created_at`` to
  ``first_resolved_at`` over the tickets resolved at least once (the working-day share of each
  local calendar day touched, as `domain.calendar.working_days_elapsed`).
- ``by_unit``: the same figures per current handling unit (``unit_id``; co-handling units are
  not credited), for the units with at least one ticket in the cohort, ordered by unit code.

Rates are fractions; a rate whose denominator is 0 is None. Scope ``unit`` is the current handling
unit, ``category`` the ticket's category code, ``project`` its project, ``leader`` the projects
whose 分包领导 is the given account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.stats import (
    Counts,
    Figures,
    Period,
    Scope,
    ScopeKind,
    UnitFigures,
    figures,
    rate,
    working_durations,
)
from storage.models import Project, Ticket, Unit

DONE = ("resolved", "closed")
OPEN = ("submitted", "in_progress")
GOOD_RATINGS = ("satisfied", "basically")


@dataclass(frozen=True)
class StatsReport:
    scope: Scope
    period: Period
    now: datetime
    totals: Figures
    by_unit: list[UnitFigures]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.totals.to_dict(),
            "by_unit": [u.to_dict() for u in self.by_unit],
            "period": {
                "from": self.period.start.isoformat() if self.period.start else None,
                "to": self.period.end.isoformat() if self.period.end else None,
            },
            "scope": {"kind": self.scope.kind, "value": self.scope.value},
            "as_of": self.now.isoformat(),
        }


def scope_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    t = Ticket
    if scope.kind == ScopeKind.ALL:
        return []
    if scope.kind == ScopeKind.UNIT:
        return [t.unit_id == int(scope.value or 0)]
    if scope.kind == ScopeKind.CATEGORY:
        return [t.category_code == str(scope.value)]
    if scope.kind == ScopeKind.PROJECT:
        return [t.project_id == int(scope.value or 0)]
    led = select(Project.id).where(Project.leader_id == int(scope.value or 0))
    return [t.project_id.in_(led)]


def cohort_conditions(scope: Scope, period: Period, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conds = scope_conditions(scope)
    lo, hi = period.utc_bounds(tz)
    if lo is not None:
        conds.append(Ticket.created_at >= lo)
    if hi is not None:
        conds.append(Ticket.created_at < hi)
    return conds


def _count(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def first_deadline() -> ColumnElement[datetime]:
    """The deadline in force at the first resolution (see the module docstring)."""
    t = Ticket
    return case((t.reopen_count == 0, t.due_at), else_=func.coalesce(t.first_due_at, t.due_at))


def count_columns(now: datetime) -> list[ColumnElement[int]]:
    """The aggregate columns, in the field order of `domain.stats.Counts`."""
    t = Ticket
    accepted = t.accepted_at.is_not(None)
    return [
        func.count(t.id).label("submitted"),
        _count(or_(t.accept_due_at <= now, accepted)).label("response_due"),
        _count(and_(accepted, t.accepted_at <= t.accept_due_at)).label("responded_on_time"),
        _count(t.status.in_(DONE)).label("done"),
        _count(t.first_resolved_at.is_not(None)).label("resolved"),
        _count(and_(t.first_resolved_at.is_not(None),
                    t.first_resolved_at <= first_deadline())).label("resolved_on_time"),
        _count(t.rating.is_not(None)).label("rated"),
        _count(t.rating.in_(GOOD_RATINGS)).label("satisfied"),
        _count(and_(t.rating.is_(None), t.status.in_(DONE))).label("unrated"),
        _count(t.reopen_count >= 1).label("reopened"),
        _count(and_(t.status.in_(OPEN), t.due_at < now)).label("overdue_open"),
    ]


def counts_by_unit_query(scope: Scope, period: Period, now: datetime, tz: ZoneInfo) -> Select[Any]:
    return (
        select(Unit.id, Unit.code, Unit.name, Unit.kind, *count_columns(now))
        .select_from(Ticket)
        .join(Unit, Unit.id == Ticket.unit_id)
        .where(*cohort_conditions(scope, period, tz))
        .group_by(Unit.id, Unit.code, Unit.name, Unit.kind)
        .order_by(Unit.code)
    )


def _counts(row: Any) -> Counts:
    m = row._mapping
    return Counts(
        submitted=int(m["submitted"]),
        response_due=int(m["response_due"]),
        responded_on_time=int(m["responded_on_time"]),
        done=int(m["done"]),
        resolved=int(m["resolved"]),
        resolved_on_time=int(m["resolved_on_time"]),
        rated=int(m["rated"]),
        satisfied=int(m["satisfied"]),
        unrated=int(m["unrated"]),
        reopened=int(m["reopened"]),
        overdue_open=int(m["overdue_open"]),
    )


async def resolution_durations(
    session: AsyncSession, scope: Scope, period: Period, tz: ZoneInfo
) -> dict[int, list[float]]:
    """Working days to first resolution, per handling unit, for the resolved tickets in scope."""
    q = select(Ticket.unit_id, Ticket.created_at, Ticket.first_resolved_at).where(
        *cohort_conditions(scope, period, tz), Ticket.first_resolved_at.is_not(None)
    )
    # Core execution on the session's connection: plain rows, no ORM loading per row.
    conn = await session.connection()
    rows = (await conn.execute(q)).all()
    durations = working_durations(((r[1], r[2]) for r in rows), tz)
    out: dict[int, list[float]] = defaultdict(list)
    for r, d in zip(rows, durations, strict=True):
        out[int(r[0])].append(d)
    return out


async def unit_counts(
    session: AsyncSession, scope: Scope, period: Period, now: datetime, tz: ZoneInfo
) -> list[tuple[int, str, str, str, Counts]]:
    conn = await session.connection()
    rows = (await conn.execute(counts_by_unit_query(scope, period, now, tz))).all()
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), _counts(r)) for r in rows]


async def query_stats(
    session: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    scope: Scope | None = None,
    period: Period | None = None,
) -> StatsReport:
    """The statistics of DESIGN §9 for one scope and period, as of `now`."""
    scope = scope or Scope.all()
    period = period or Period()
    per_unit = await unit_counts(session, scope, period, now, tz)
    durations = await resolution_durations(session, scope, period, tz)
    by_unit = [
        UnitFigures(uid, code, name, figures(c, durations.get(uid, [])), kind)
        for uid, code, name, kind, c in per_unit
    ]
    all_durations = [d for ds in durations.values() for d in ds]
    totals = figures(Counts.total(c for *_, c in per_unit), all_durations)
    return StatsReport(scope=scope, period=period, now=now, totals=totals, by_unit=by_unit)


# --- weekly trend -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekPoint:
    week_start: date  # local Monday
    submitted: int  # created that week
    resolved: int  # first resolved that week
    done: int  # of those created that week, resolved or closed now

    @property
    def resolution_rate(self) -> float | None:
        return rate(self.done, self.submitted)

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week_start.isoformat(), "submitted": self.submitted,
                "resolved": self.resolved, "resolution_rate": self.resolution_rate}


def week_starts(now: datetime, tz: ZoneInfo, weeks: int) -> list[date]:
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def _bucket(col: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Index of the week `col` falls in, given ascending boundaries (portable CASE)."""
    whens = [(col < bounds[i + 1], literal(i)) for i in range(len(bounds) - 1)]
    return case(*whens, else_=literal(-1))


async def weekly_trend(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo, scope: Scope | None = None,
    weeks: int = 8,
) -> list[WeekPoint]:
    """The last `weeks` local weeks (Monday first), the current one included."""
    scope = scope or Scope.all()
    starts = week_starts(now, tz, weeks)
    bounds = [datetime.combine(d, time(0), tzinfo=tz)
              for d in [*starts, starts[-1] + timedelta(days=7)]]
    conds = scope_conditions(scope)
    # Bucket in a subquery, then group by its column: PostgreSQL does not see two CASEs with
    # their own bound parameters as the same expression.
    s1 = (
        select(_bucket(Ticket.created_at, bounds).label("b"),
               case((Ticket.status.in_(DONE), 1), else_=0).label("done"))
        .where(*conds, Ticket.created_at >= bounds[0], Ticket.created_at < bounds[-1])
        .subquery()
    )
    q1 = select(s1.c.b, func.count(), func.sum(s1.c.done)).group_by(s1.c.b)
    s2 = (
        select(_bucket(Ticket.first_resolved_at, bounds).label("b"))
        .where(*conds, Ticket.first_resolved_at >= bounds[0],
               Ticket.first_resolved_at < bounds[-1])
        .subquery()
    )
    q2 = select(s2.c.b, func.count()).group_by(s2.c.b)
    created = {int(r[0]): (int(r[1]), int(r[2])) for r in (await session.execute(q1)).all()}
    resolved = {int(r[0]): int(r[1]) for r in (await session.execute(q2)).all()}
    return [
        WeekPoint(d, created.get(i, (0, 0))[0], resolved.get(i, 0), created.get(i, (0, 0))[1])
        for i, d in enumerate(starts)
    ]


# --- projects board -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRow:
    code: str
    name: str
    colour: str | None
    open_tickets: int
    overdue_open: int


async def project_board(session: AsyncSession, now: datetime) -> list[ProjectRow]:
    """Every project with its four-colour status and its open / overdue-open ticket counts."""
    t = Ticket
    sub = (
        select(
            t.project_id.label("pid"),
            _count(t.status.in_(OPEN)).label("open_n"),
            _count(and_(t.status.in_(OPEN), t.due_at < now)).label("overdue_n"),
        )
        .group_by(t.project_id)
        .subquery()
    )
    q = (
        select(Project.code, Project.name, Project.colour,
               func.coalesce(sub.c.open_n, 0), func.coalesce(sub.c.overdue_n, 0))
        .outerjoin(sub, sub.c.pid == Project.id)
        .order_by(Project.code)
    )
    return [ProjectRow(str(r[0]), str(r[1]), r[2], int(r[3]), int(r[4]))
            for r in (await session.execute(q)).all()]
