"""The statistics formulas on plain counts (DESIGN §9)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import working_days_elapsed
from domain.stats import (
    Counts,
    Figures,
    Period,
    RankingRules,
    Scope,
    UnitFigures,
    composite_score,
    figures,
    mean,
    median,
    rank_units,
    rate,
    working_days_duration,
    working_durations,
)

SH = ZoneInfo("Asia/Shanghai")


def test_rate_is_none_without_denominator() -> None:
    assert rate(0, 0) is None
    assert rate(3, 0) is None
    assert rate(0, 4) == 0.0
    assert rate(1, 4) == 0.25


def test_median_and_mean() -> None:
    assert median([]) is None and mean([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 1.0, 2.0, 6.0]) == 1.5
    assert mean([1.0, 2.0, 6.0]) == 3.0


def test_figures_from_counts() -> None:
    c = Counts(submitted=7, response_due=6, responded_on_time=4, done=4, resolved=5,
               resolved_on_time=4, rated=3, satisfied=2, unrated=2, reopened=1, overdue_open=2)
    f = figures(c, [2.0, 6.0, 2.0, 2.0, 8.0])
    assert f.submitted == 7
    assert f.response_rate == pytest.approx(4 / 6)
    assert f.resolution_rate == pytest.approx(4 / 7)
    assert f.on_time_rate == pytest.approx(0.8)
    assert f.satisfaction_rate == pytest.approx(2 / 3)
    assert (f.rated, f.unrated, f.overdue_open) == (3, 2, 2)
    assert f.reopen_rate == pytest.approx(0.2)
    assert (f.median_days, f.mean_days) == (2.0, 4.0)


def test_empty_counts_give_nulls_not_zeros() -> None:
    f = figures(Counts())
    d = f.to_dict()
    assert d["submitted"] == 0 and d["rated"] == 0 and d["unrated"] == 0
    for key in ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate",
                "reopen_rate", "median_days", "mean_days"):
        assert d[key] is None


def test_counts_add_up() -> None:
    a = Counts(submitted=2, done=1, rated=1, satisfied=1)
    b = Counts(submitted=3, done=3, overdue_open=1)
    assert Counts.total([a, b]) == Counts(submitted=5, done=4, rated=1, satisfied=1,
                                          overdue_open=1)


def L(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


def test_working_days_duration_examples() -> None:
    # Mon 10:00 → Wed 10:00: two working days.
    assert working_days_duration(L(2026, 11, 2, 10), L(2026, 11, 4, 10), SH) == pytest.approx(2.0)
    # Fri 10:00 → Mon 10:00: the weekend does not count.
    assert working_days_duration(L(2026, 11, 6, 10), L(2026, 11, 9, 10), SH) == pytest.approx(1.0)
    # Within one working day.
    assert working_days_duration(L(2026, 11, 2, 9), L(2026, 11, 2, 15), SH) == pytest.approx(0.25)
    # Across National Day 2026 (1–7 Oct are holidays): Wed 30 Sep 12:00 → Thu 8 Oct 12:00.
    assert working_days_duration(L(2026, 9, 30, 12), L(2026, 10, 8, 12), SH) == pytest.approx(1.0)
    assert working_days_duration(L(2026, 11, 4), L(2026, 11, 2), SH) == 0.0


def test_working_durations_match_the_calendar() -> None:
    rnd = random.Random(7)
    base = datetime(2025, 12, 20, tzinfo=UTC)
    pairs = []
    for _ in range(300):
        start = base + timedelta(minutes=rnd.randrange(0, 60 * 24 * 400))
        pairs.append((start, start + timedelta(minutes=rnd.randrange(0, 60 * 24 * 40))))
    fast = working_durations(pairs, SH)
    slow = [working_days_elapsed(s, e, SH) for s, e in pairs]
    assert fast == pytest.approx(slow)
    assert working_durations([], SH) == []


def test_period_bounds_are_local_days() -> None:
    lo, hi = Period(date(2026, 11, 1), date(2026, 11, 30)).utc_bounds(SH)
    assert lo == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert hi == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert Period().utc_bounds(SH) == (None, None)
    assert Period.month(2026, 12) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert Period.previous_month(date(2026, 1, 1)) == Period(date(2025, 12, 1), date(2025, 12, 31))
    assert Period.week_of(date(2026, 11, 26)) == Period(date(2026, 11, 23), date(2026, 11, 29))
    assert Period.previous_week(date(2026, 11, 23)).start == date(2026, 11, 16)
    with pytest.raises(ValueError):
        Period(date(2026, 2, 1), date(2026, 1, 1))


def test_scope_validation() -> None:
    assert Scope.all().kind == "all"
    assert Scope.unit(3).value == 3
    with pytest.raises(ValueError):
        Scope("unit", None)
    with pytest.raises(ValueError):
        Scope("galaxy", 1)


def fig(submitted: int, **rates: float | None) -> Figures:
    base: dict[str, float | None] = {
        "response_rate": None, "resolution_rate": None, "on_time_rate": None,
        "satisfaction_rate": None, "reopen_rate": None,
    }
    base.update(rates)
    return Figures(submitted=submitted, rated=0, unrated=0, overdue_open=0, median_days=None,
                   mean_days=None, **base)  # type: ignore[arg-type]


def unit(i: int, code: str, f: Figures) -> UnitFigures:
    return UnitFigures(i, code, f"单位{code}", f)


def test_composite_score_weights_and_missing_rates() -> None:
    f = fig(10, response_rate=4 / 6, resolution_rate=4 / 7, on_time_rate=0.8,
            satisfaction_rate=2 / 3, reopen_rate=0.2)
    expected = 100 * (0.15 * 4 / 6 + 0.25 * 4 / 7 + 0.25 * 0.8 + 0.25 * 2 / 3 + 0.10 * 0.8)
    assert composite_score(f, RankingRules().weights) == pytest.approx(expected)
    # A rate without denominator drops out with its weight.
    g = fig(10, resolution_rate=0.5, satisfaction_rate=None, on_time_rate=1.0)
    assert composite_score(g, {"resolution_rate": 1, "on_time_rate": 1,
                               "satisfaction_rate": 5}) == pytest.approx(75.0)
    assert composite_score(fig(10), RankingRules().weights) is None
    with pytest.raises(ValueError):
        composite_score(f, {"speed": 1.0})


def test_ranking_minimum_sample_ties_and_lists() -> None:
    only = {"resolution_rate": 1.0}
    units = [
        unit(1, "a", fig(10, resolution_rate=0.9)),
        unit(2, "b", fig(6, resolution_rate=0.5)),
        unit(3, "c", fig(5, resolution_rate=0.9)),
        unit(4, "d", fig(4, resolution_rate=1.0)),  # below the minimum: listed, not ranked
        unit(5, "e", fig(8, resolution_rate=0.7)),
        unit(6, "f", fig(12, resolution_rate=0.2)),
        unit(7, "g", fig(0)),
    ]
    r = rank_units(units, RankingRules(weights=only, min_sample=5, red_size=2, black_size=2))
    assert [(x.unit.code, x.rank) for x in r.ranked] == [
        ("a", 1), ("c", 1), ("e", 3), ("b", 4), ("f", 5)]
    assert [x.unit.code for x in r.unranked] == ["d", "g"]
    assert all(x.rank is None for x in r.unranked)
    assert [x.unit.code for x in r.red] == ["a", "c"]
    assert [x.unit.code for x in r.black] == ["f", "b"]
    assert r.ranked[0].score == pytest.approx(90.0)


def test_ranking_lists_never_overlap() -> None:
    units = [unit(1, "a", fig(9, resolution_rate=0.9)), unit(2, "b", fig(9, resolution_rate=0.1)),
             unit(3, "c", fig(9, resolution_rate=0.5))]
    r = rank_units(units, RankingRules(red_size=3, black_size=3))
    assert [x.unit.code for x in r.red] == ["a"]
    assert [x.unit.code for x in r.black] == ["b"]
    single = rank_units(units[:1])
    assert single.red == [] and single.black == [] and len(single.ranked) == 1
