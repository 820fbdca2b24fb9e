"""Statistics in SQL on a hand-computed desk, on SQLite and PostgreSQL.

The desk (all times Beijing, November 2026; `now` is Tuesday 24 Nov 09:00):

unit zrzy 县自然资源局 (project P1, leader L1, category land), 7 tickets:
  T1 Mon 2 10:00, accepted on time, first resolved Wed 4 10:00 (due Mon 9), closed 满意  → 2.0 wd
  T2 Fri 6 10:00, accepted late, resolved Mon 16 10:00 (due Fri 13: late), awaiting rating → 6.0 wd
  T3 Tue 10 09:00, accepted on time, resolved Thu 12 09:00 on time, 不满意 → reopened, in progress,
     new due Thu 19 18:00: overdue now                                                     → 2.0 wd
  T4 Mon 23 15:00, submitted; accept deadline (Tue 24 18:00) not passed yet
  T5 Mon 16 09:00, never accepted (deadline Tue 17 passed), due Mon 23 18:00: overdue now
  T6 Tue 3 09:00, accepted on time, resolved Thu 5 09:00 on time, closed unrated          → 2.0 wd
  T7 Mon 2 09:00, accepted on time, due Fri 6 extended to Fri 13, resolved Thu 12 09:00,
     closed 基本满意 (on time thanks to the approved extension)                             → 8.0 wd
unit gdj 县供电公司 (project P2, leader L2, category utilities), 5 tickets: created Mon 16 09:0x,
  accepted 10:00, resolved Tue 17 09:0x (1.0 wd each), closed 满意.
unit fgw 县发改委 (project P2, category approval), 1 ticket: Fri 20, accepted, in progress.
plus one October ticket of zrzy (outside the November period), closed 满意.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.stats import Period, Scope
from storage.models import Account, Category, Project, Ticket, Unit
from storage.stats_queries import project_board, query_stats, weekly_trend

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tue 24 Nov 09:00 Beijing
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))

FORMULA_TEXTS = {
    "T1": '=HYPERLINK("http://evil.example","点我")',
    "T2": "+86 电话打不通",
    "T3": "-用地指标不足",
    "T4": "@所有人 请协调",
    "T5": "\t高压线迁改",
    "T6": "\r拆迁补偿",
}


def L(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@dataclass
class Seeded:
    units: dict[str, int]
    projects: dict[str, int]
    leaders: dict[str, int]
    tickets: dict[str, int]


async def seed_desk(uow_factory: object) -> Seeded:
    """Insert the desk described in the module docstring; returns the ids."""
    created = L(1, 8, month=10)
    async with uow_factory() as uow:  # type: ignore[operator]
        s = uow.session
        units = {
            "zdb": Unit(code="zdb", name="县重点项目办", kind="dispatcher"),
            "zrzy": Unit(code="zrzy", name="县自然资源局", kind="department"),
            "gdj": Unit(code="gdj", name="县供电公司", kind="utility"),
            "fgw": Unit(code="fgw", name="县发改委", kind="department"),
        }
        s.add_all(units.values())
        await s.flush()
        leaders = {
            "L1": Account(name="王县长", roles=["leader"], created_at=created),
            "L2": Account(name="李副县长", roles=["leader"], created_at=created),
        }
        reporter = Account(name="=张经理", phone="13812341111", roles=["enterprise"],
                           created_at=created)
        s.add_all([*leaders.values(), reporter])
        await s.flush()
        projects = {
            "P1": Project(code="P1", name="新能源电池产业园", leader_id=leaders["L1"].id,
                          colour="green", routing={}),
            "P2": Project(code="P2", name="县城污水处理厂", leader_id=leaders["L2"].id,
                          colour="red", routing={}),
            "P3": Project(code="P3", name="物流园", colour=None, routing={}),
        }
        s.add_all(projects.values())
        s.add_all([
            Category(code="land", name="用地保障", unit_id=units["zrzy"].id, days=5,
                     keywords=[], position=1),
            Category(code="utilities", name="水电气网配套", unit_id=units["gdj"].id, days=5,
                     keywords=[], position=2),
            Category(code="approval", name="审批手续", unit_id=units["fgw"].id, days=5,
                     keywords=[], position=3),
        ])
        await s.flush()

        tickets: dict[str, Ticket] = {}
        seq = [0]

        def add(key: str, unit: str, project: str, category: str, created_at: datetime,
                accept_due: datetime, due: datetime, *, status: str,
                accepted: datetime | None = None, first_resolved: datetime | None = None,
                resolved: datetime | None = None, rating: str | None = None,
                rated: datetime | None = None, closed: datetime | None = None,
                reopen: int = 0, first_due: datetime | None = None,
                result: str | None = None) -> None:
            seq[0] += 1
            tickets[key] = Ticket(
                number=f"{created_at.astimezone(SH):%Y%m%d}-{seq[0]:03d}",
                project_id=projects[project].id, reporter_id=reporter.id,
                filed_by_id=reporter.id, text=FORMULA_TEXTS.get(key, f"问题 {key}"),
                attachments=[], category_code=category, urgent=False, tags=[],
                unit_id=units[unit].id, co_unit_ids=[], status=status,
                created_at=created_at, accept_due_at=accept_due, due_at=due,
                first_due_at=first_due or due, accepted_at=accepted,
                resolved_at=resolved, first_resolved_at=first_resolved,
                closed_at=closed, rating=rating, rated_at=rated, reopen_count=reopen,
                result=result, result_attachments=[], rating_asks=0,
            )

        add("T1", "zrzy", "P1", "land", L(2, 10), L(3, 18), L(9, 18), status="closed",
            accepted=L(2, 11), first_resolved=L(4, 10), resolved=L(4, 10),
            rating="satisfied", rated=L(4, 12), closed=L(4, 12), result="=1+1")
        add("T2", "zrzy", "P1", "land", L(6, 10), L(9, 18), L(13, 18), status="resolved",
            accepted=L(9, 20), first_resolved=L(16, 10), resolved=L(16, 10), result="已协调")
        add("T3", "zrzy", "P1", "land", L(10, 9), L(11, 18), L(19, 18), status="in_progress",
            accepted=L(10, 10), first_resolved=L(12, 9), rating="unsatisfied",
            rated=L(12, 15), reopen=1, first_due=L(17, 18), result="已答复")
        add("T4", "zrzy", "P1", "land", L(23, 15), L(24, 18), L(30, 18), status="submitted")
        add("T5", "zrzy", "P1", "land", L(16, 9), L(17, 18), L(23, 18), status="submitted")
        add("T6", "zrzy", "P1", "land", L(3, 9), L(4, 18), L(10, 18), status="closed",
            accepted=L(3, 10), first_resolved=L(5, 9), resolved=L(5, 9), closed=L(12, 9))
        add("T7", "zrzy", "P1", "land", L(2, 9), L(3, 18), L(13, 18), status="closed",
            accepted=L(2, 10), first_resolved=L(12, 9), resolved=L(12, 9),
            rating="basically", rated=L(12, 10), closed=L(12, 10), first_due=L(6, 18))
        for i in range(5):
            add(f"G{i}", "gdj", "P2", "utilities", L(16, 9, i), L(17, 18), L(23, 18),
                status="closed", accepted=L(16, 10), first_resolved=L(17, 9, i),
                resolved=L(17, 9, i), rating="satisfied", rated=L(17, 10), closed=L(17, 10))
        add("F1", "fgw", "P2", "approval", L(20, 9), L(23, 18), L(27, 18), status="in_progress",
            accepted=L(20, 10))
        add("OCT", "zrzy", "P1", "land", L(20, 9, month=10), L(21, 18, month=10),
            L(27, 18, month=10), status="closed", accepted=L(20, 10, month=10),
            first_resolved=L(21, 9, month=10), resolved=L(21, 9, month=10),
            rating="satisfied", rated=L(21, 10, month=10), closed=L(21, 10, month=10))
        s.add_all(tickets.values())
        await s.flush()
        out = Seeded(
            units={k: v.id for k, v in units.items()},
            projects={k: v.id for k, v in projects.items()},
            leaders={k: v.id for k, v in leaders.items()},
            tickets={k: v.id for k, v in tickets.items()},
        )
        await uow.commit()
    return out


def approx(x: float | None) -> object:
    return pytest.approx(x) if x is not None else None


ZRZY = {
    "submitted": 7, "response_rate": 4 / 6, "resolution_rate": 4 / 7, "on_time_rate": 4 / 5,
    "satisfaction_rate": 2 / 3, "rated": 3, "unrated": 2, "reopen_rate": 1 / 5,
    "overdue_open": 2, "median_days": 2.0, "mean_days": 4.0,
}
GDJ = {
    "submitted": 5, "response_rate": 1.0, "resolution_rate": 1.0, "on_time_rate": 1.0,
    "satisfaction_rate": 1.0, "rated": 5, "unrated": 0, "reopen_rate": 0.0,
    "overdue_open": 0, "median_days": 1.0, "mean_days": 1.0,
}
FGW = {
    "submitted": 1, "response_rate": 1.0, "resolution_rate": 0.0, "on_time_rate": None,
    "satisfaction_rate": None, "rated": 0, "unrated": 0, "reopen_rate": None,
    "overdue_open": 0, "median_days": None, "mean_days": None,
}
TOTAL = {
    "submitted": 13, "response_rate": 10 / 12, "resolution_rate": 9 / 13, "on_time_rate": 9 / 10,
    "satisfaction_rate": 7 / 8, "rated": 8, "unrated": 2, "reopen_rate": 1 / 10,
    "overdue_open": 2, "median_days": 1.5, "mean_days": 2.5,
}


def check(actual: dict[str, object], expected: dict[str, object]) -> None:
    for key, value in expected.items():
        want = approx(value) if isinstance(value, float) else value
        assert actual[key] == want, (key, actual[key], value)


async def _report(uow_factory: object, **kw: object) -> dict[str, object]:
    async with uow_factory() as uow:  # type: ignore[operator]
        rep = await query_stats(uow.session, now=NOW, tz=SH, **kw)  # type: ignore[arg-type]
        return rep.to_dict()


async def test_november_all_units(uow_factory: object) -> None:
    await seed_desk(uow_factory)
    d = await _report(uow_factory, period=NOVEMBER)
    check(d, TOTAL)
    units = {u["unit"]: u for u in d["by_unit"]}  # type: ignore[attr-defined]
    assert list(units) == ["fgw", "gdj", "zrzy"]
    check(units["zrzy"], ZRZY)
    check(units["gdj"], GDJ)
    check(units["fgw"], FGW)
    assert units["zrzy"]["name"] == "县自然资源局"


async def test_scopes(uow_factory: object) -> None:
    ids = await seed_desk(uow_factory)
    check(await _report(uow_factory, period=NOVEMBER, scope=Scope.unit(ids.units["zrzy"])), ZRZY)
    check(await _report(uow_factory, period=NOVEMBER, scope=Scope.leader(ids.leaders["L1"])),
          ZRZY)
    check(await _report(uow_factory, period=NOVEMBER, scope=Scope.category("utilities")), GDJ)
    p2 = await _report(uow_factory, period=NOVEMBER, scope=Scope.project(ids.projects["P2"]))
    assert p2["submitted"] == 6
    assert [u["unit"] for u in p2["by_unit"]] == ["fgw", "gdj"]  # type: ignore[attr-defined]
    assert p2["resolution_rate"] == pytest.approx(5 / 6)


async def test_empty_period_gives_nulls(uow_factory: object) -> None:
    await seed_desk(uow_factory)
    d = await _report(uow_factory, period=Period(date(2025, 1, 1), date(2025, 1, 31)))
    assert d["submitted"] == 0 and d["rated"] == 0 and d["unrated"] == 0
    assert d["overdue_open"] == 0 and d["by_unit"] == []
    for key in ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate",
                "reopen_rate", "median_days", "mean_days"):
        assert d[key] is None, key


async def test_empty_database(uow_factory: object) -> None:
    d = await _report(uow_factory)
    assert d["submitted"] == 0 and d["resolution_rate"] is None


async def test_all_time_includes_october(uow_factory: object) -> None:
    ids = await seed_desk(uow_factory)
    d = await _report(uow_factory)
    assert d["submitted"] == 14
    assert d["rated"] == 9 and d["satisfaction_rate"] == pytest.approx(8 / 9)
    # The period is on local dates: 1 Nov 00:30 Beijing is still 31 Oct in UTC.
    async with uow_factory() as uow:  # type: ignore[operator]
        t = await uow.tickets.get(ids.tickets["OCT"])
        assert t is not None
        t.created_at = datetime(2026, 11, 1, 0, 30, tzinfo=SH)
        await uow.commit()
    d = await _report(uow_factory, period=NOVEMBER)
    assert d["submitted"] == 14
    d = await _report(uow_factory, period=Period(None, date(2026, 10, 31)))
    assert d["submitted"] == 0


async def test_response_deadline_passes_with_now(uow_factory: object) -> None:
    """T4's accept deadline (Tue 24 18:00) passes unaccepted: the denominator grows."""
    await seed_desk(uow_factory)
    async with uow_factory() as uow:  # type: ignore[operator]
        later = await query_stats(uow.session, now=NOW + timedelta(hours=10), tz=SH,
                                  period=NOVEMBER)
    assert later.totals.response_rate == pytest.approx(10 / 13)


async def test_weekly_trend(uow_factory: object) -> None:
    await seed_desk(uow_factory)
    async with uow_factory() as uow:  # type: ignore[operator]
        trend = await weekly_trend(uow.session, now=NOW, tz=SH, weeks=4)
    assert [p.week_start for p in trend] == [date(2026, 11, d) for d in (2, 9, 16, 23)]
    assert [p.submitted for p in trend] == [4, 1, 7, 1]
    assert [p.resolved for p in trend] == [2, 2, 6, 0]
    assert [p.done for p in trend] == [4, 0, 5, 0]
    assert trend[1].resolution_rate == 0.0


async def test_project_board(uow_factory: object) -> None:
    await seed_desk(uow_factory)
    async with uow_factory() as uow:  # type: ignore[operator]
        rows = await project_board(uow.session, NOW)
    assert [(r.code, r.colour, r.open_tickets, r.overdue_open) for r in rows] == [
        ("P1", "green", 3, 2), ("P2", "red", 1, 0), ("P3", None, 0, 0)]
