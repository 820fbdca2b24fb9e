"""Plan against actual, milestones, and each four-colour rule at its boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.permissions import Actor
from domain.progress import (
    AmountReport,
    Colour,
    ColourRules,
    Milestone,
    ProjectFacts,
    advances,
    assess_colour,
    completed_in_year,
    completion_rate,
    elapsed_share,
    may_confirm_milestone,
    may_report_progress,
    may_view_project,
    milestone_code,
    milestone_index,
    milestone_name,
    parse_period,
    period_of,
    plan_progress,
    plan_window,
    previous_period,
    reported_period,
    year_elapsed_share,
)
from domain.texts import reason_first_report_grace

TODAY = date(2026, 7, 2)  # day 183 of 365
SHARE = 183 / 365


def at(day: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)


# --- plan against actual ------------------------------------------------------------------------


def test_completed_in_year_takes_the_latest_amount_of_each_month() -> None:
    reports = [
        AmountReport("2026-10", 1500, at(290), 1),
        AmountReport("2026-10", 1800, at(300), 2),  # corrects October
        AmountReport("2026-11", 2300, at(320), 3),
        AmountReport("2026-11", None, at(325), 4),  # photos only: no amount, not a correction
        AmountReport("2025-12", 9999, at(-20), 5),  # another year
    ]
    assert completed_in_year(reports, 2026) == 1800 + 2300
    assert completed_in_year(reports, 2025) == 9999
    assert completed_in_year([], 2026) == 0


def test_same_instant_reports_are_ordered_by_id() -> None:
    reports = [AmountReport("2026-03", 10, at(70), 8), AmountReport("2026-03", 20, at(70), 7)]
    assert completed_in_year(reports, 2026) == 10


def test_completion_rate_needs_a_plan() -> None:
    assert completion_rate(2300, 120000) == pytest.approx(0.0191666, rel=1e-4)
    assert completion_rate(2300, None) is None
    assert completion_rate(2300, 0) is None


def test_year_elapsed_share_counts_today() -> None:
    assert year_elapsed_share(date(2026, 1, 1)) == pytest.approx(1 / 365)
    assert year_elapsed_share(date(2026, 12, 31)) == 1.0
    assert year_elapsed_share(TODAY) == pytest.approx(SHARE)
    assert year_elapsed_share(date(2028, 12, 31)) == 1.0  # leap year: 366 days
    assert year_elapsed_share(date(2028, 2, 29)) == pytest.approx(60 / 366)


def test_plan_window_is_cut_to_planned_dates() -> None:
    assert plan_window(2026, None, None) == (date(2026, 1, 1), date(2026, 12, 31))
    assert plan_window(2026, date(2025, 3, 1), date(2027, 6, 30)) == (date(2026, 1, 1),
                                                                      date(2026, 12, 31))
    assert plan_window(2026, date(2026, 9, 1), None) == (date(2026, 9, 1), date(2026, 12, 31))
    assert plan_window(2026, None, date(2026, 3, 31)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert plan_window(2026, date(2027, 1, 1), None) is None
    assert plan_window(2026, None, date(2025, 12, 31)) is None


def test_elapsed_share_of_a_project_starting_mid_year() -> None:
    start = date(2026, 9, 1)  # window 1 Sep – 31 Dec: 122 days
    assert elapsed_share(date(2026, 3, 1), start) == 0.0
    assert elapsed_share(date(2026, 9, 1), start) == pytest.approx(1 / 122)
    assert elapsed_share(date(2026, 12, 31), start) == 1.0
    assert elapsed_share(date(2026, 5, 1), None, date(2026, 3, 31)) == 1.0  # finished: all due
    assert elapsed_share(TODAY, date(2027, 1, 1)) is None


def test_plan_progress_says_how_far_behind() -> None:
    p = plan_progress(1000, 300, TODAY)
    assert p.completion_rate == pytest.approx(0.3)
    assert p.elapsed_share == pytest.approx(SHARE)
    assert p.expected_wan == pytest.approx(1000 * SHARE, abs=1e-3)
    assert p.shortfall_wan == pytest.approx(1000 * SHARE - 300, abs=1e-3)
    assert p.behind is True
    assert plan_progress(1000, 600, TODAY).behind is False
    assert plan_progress(None, 600, TODAY).behind is None


# --- milestones and periods ---------------------------------------------------------------------


def test_milestone_order_and_names() -> None:
    order = ["signed", "started", "topped_out", "completed", "in_production"]
    assert [milestone_index(m) for m in order] == [0, 1, 2, 3, 4]
    assert [milestone_name(m) for m in order] == ["签约", "开工", "封顶", "竣工", "投产"]
    assert milestone_code("封顶") is Milestone.TOPPED_OUT
    assert milestone_code("topped_out") is Milestone.TOPPED_OUT
    assert milestone_code("达效") is None and milestone_index(None) == -1


def test_milestones_only_move_forward() -> None:
    assert advances("started", "topped_out")
    assert advances(None, "signed")
    assert not advances("topped_out", "topped_out")
    assert not advances("completed", "started")
    assert not advances("started", None)
    assert not advances("started", "whatever")


def test_periods() -> None:
    assert period_of(date(2026, 11, 24)) == "2026-11"
    assert previous_period("2026-01") == "2025-12"
    assert parse_period("2026-11") == "2026-11"
    assert parse_period("2026-1") == "2026-01"
    assert parse_period("2026年3月") == "2026-03"
    assert parse_period("2026-13") is None and parse_period("11") is None


def test_reported_period_reads_the_message() -> None:
    nov = date(2026, 11, 24)
    assert reported_period("本月完成投资2300万元", nov) == "2026-11"
    assert reported_period("上月完成投资800万", nov) == "2026-10"
    assert reported_period("10月完成投资1200万元", nov) == "2026-10"
    assert reported_period("预计12月完成主体封顶", nov) == "2026-11"  # a plan, not a report
    assert reported_period("上个月完成投资", date(2026, 1, 5)) == "2025-12"


# --- the four colours at their boundaries -------------------------------------------------------


def facts(rate: float | None = SHARE, silent: int | None = 3, **kw: object) -> ProjectFacts:
    """A project with plan 1.0 (so the rate is exactly the amount) as of TODAY."""
    base: dict[str, object] = {
        "today": TODAY,
        "annual_plan_wan": 1.0 if rate is not None else None,
        "completed_wan": rate if rate is not None else 5.0,
        "last_report_on": TODAY - timedelta(days=silent) if silent is not None else None,
    }
    base.update(kw)
    return ProjectFacts(**base)  # type: ignore[arg-type]


def colour(f: ProjectFacts, rules: ColourRules | None = None) -> Colour:
    return assess_colour(f, rules).colour


def test_green_when_on_plan_and_recently_reported() -> None:
    verdict = assess_colour(facts(rate=SHARE, silent=0))
    assert verdict.colour is Colour.GREEN
    assert "达到或超过时间进度" in verdict.reasons[0]
    assert colour(facts(rate=SHARE, silent=27)) is Colour.GREEN


def test_just_behind_plan_is_yellow() -> None:
    assert colour(facts(rate=SHARE - 1e-9)) is Colour.YELLOW
    assert colour(facts(rate=0.6 * SHARE)) is Colour.YELLOW  # the red line itself is yellow


def test_red_below_six_tenths_of_the_time_elapsed() -> None:
    verdict = assess_colour(facts(rate=0.6 * SHARE - 1e-9))
    assert verdict.colour is Colour.RED
    assert "落后于时间进度" in verdict.reasons[0]
    assert colour(facts(rate=0.3 * SHARE)) is Colour.RED  # the black line itself is red


def test_black_below_three_tenths_of_the_time_elapsed() -> None:
    verdict = assess_colour(facts(rate=0.3 * SHARE - 1e-9))
    assert verdict.colour is Colour.BLACK
    assert "远低于时间进度" in verdict.reasons[0]


def test_silence_red_at_four_weeks_black_at_eight() -> None:
    assert colour(facts(silent=27)) is Colour.GREEN
    red = assess_colour(facts(silent=28))
    assert red.colour is Colour.RED and red.reasons == ("已 4 周(28 天)未报送进度",)
    assert colour(facts(silent=55)) is Colour.RED
    black = assess_colour(facts(silent=56))
    assert black.colour is Colour.BLACK and black.reasons == ("已 8 周(56 天)未报送进度",)


def test_urgent_ticket_open_too_long_is_black() -> None:
    assert colour(facts(urgent_open_days=7.0)) is Colour.GREEN
    verdict = assess_colour(facts(urgent_open_days=7.01))
    assert verdict.colour is Colour.BLACK and "紧急诉求" in verdict.reasons[0]


def test_black_lists_every_black_reason() -> None:
    verdict = assess_colour(facts(rate=0.0, silent=60, urgent_open_days=9))
    assert verdict.colour is Colour.BLACK and len(verdict.reasons) == 3


def test_never_reported_is_never_green() -> None:
    ahead_but_silent = facts(rate=1.0, silent=None, planned_start=TODAY)
    verdict = assess_colour(ahead_but_silent)
    assert verdict.colour is Colour.YELLOW and verdict.never_reported
    assert colour(facts(rate=1.0, silent=None, planned_start=date(2027, 3, 1))) is Colour.YELLOW


def test_never_reported_without_a_start_date_is_red() -> None:
    verdict = assess_colour(facts(rate=1.0, silent=None))
    assert verdict.colour is Colour.RED and verdict.reasons == ("从未报送进度",)


def test_never_reported_counts_silence_from_the_planned_start() -> None:
    verdict = assess_colour(facts(rate=1.0, silent=None, planned_start=TODAY - timedelta(days=56)))
    assert verdict.colour is Colour.BLACK
    assert "从未报送" in verdict.reasons[0]
    assert colour(facts(rate=1.0, silent=None,
                        planned_start=TODAY - timedelta(days=28))) is Colour.RED


def test_without_a_plan_at_best_yellow() -> None:
    verdict = assess_colour(facts(rate=None, silent=0))
    assert verdict.colour is Colour.YELLOW and verdict.progress.completion_rate is None


def test_completion_rules_wait_for_the_grace_share() -> None:
    jan = date(2026, 1, 20)  # 20/365 < 1/12
    early = ProjectFacts(today=jan, annual_plan_wan=1000, completed_wan=0, last_report_on=jan)
    assert colour(early) is Colour.YELLOW
    feb = date(2026, 2, 1)  # 32/365 > 1/12
    later = ProjectFacts(today=feb, annual_plan_wan=1000, completed_wan=0, last_report_on=feb)
    assert colour(later) is Colour.BLACK


def test_thresholds_are_configurable() -> None:
    lenient = ColourRules(black_silent_weeks=12, red_silent_weeks=6, black_behind_ratio=0.1,
                          red_behind_ratio=0.2, black_urgent_open_days=30)
    assert colour(facts(silent=56), lenient) is Colour.RED  # black by default
    assert colour(facts(silent=35), lenient) is Colour.YELLOW  # red by default
    assert colour(facts(rate=0.25 * SHARE), lenient) is Colour.YELLOW
    assert colour(facts(urgent_open_days=10), lenient) is Colour.GREEN
    with pytest.raises(ValueError):
        ColourRules(black_behind_ratio=0.7, red_behind_ratio=0.6)
    with pytest.raises(ValueError):
        ColourRules(red_silent_weeks=9, black_silent_weeks=8)


# --- the first-report grace period of a newly loaded project ------------------------------------


def never_reported(entered_days_ago: int | None, **kw: object) -> ProjectFacts:
    """Never reported, no amount (so the completion rules would call it far behind), silent
    since a planned start ten weeks ago; entered the desk `entered_days_ago` days ago."""
    base: dict[str, object] = {
        "rate": 0.0, "silent": None, "planned_start": TODAY - timedelta(weeks=10),
        "entered_on": None if entered_days_ago is None
        else TODAY - timedelta(days=entered_days_ago),
    }
    base.update(kw)
    return facts(**base)  # type: ignore[arg-type]


def test_without_an_entry_date_never_reported_is_black_as_before() -> None:
    verdict = assess_colour(never_reported(None))
    assert verdict.colour is Colour.BLACK
    assert any("从未报送" in r for r in verdict.reasons)
    assert any("远低于时间进度" in r for r in verdict.reasons)


def test_inside_the_grace_period_never_reported_is_yellow() -> None:
    for days in (0, 1, 27):
        verdict = assess_colour(never_reported(days))
        assert verdict.colour is Colour.YELLOW, days
        last_day = TODAY - timedelta(days=days) + timedelta(days=27)
        assert verdict.reasons == (reason_first_report_grace(last_day),)
        assert verdict.never_reported
    # Without a planned start it would be red for "从未报送进度"; inside the grace: yellow.
    assert colour(never_reported(3, planned_start=None)) is Colour.YELLOW


def test_after_the_grace_period_the_rules_apply_again() -> None:
    verdict = assess_colour(never_reported(28))
    assert verdict.colour is Colour.BLACK
    assert any("从未报送" in r for r in verdict.reasons)
    red = assess_colour(never_reported(28, planned_start=None, rate=1.0))
    assert red.colour is Colour.RED and red.reasons == ("从未报送进度",)
    assert colour(never_reported(400)) is Colour.BLACK


def test_grace_length_comes_from_the_rules() -> None:
    week = ColourRules(first_report_grace_days=7)
    assert colour(never_reported(6), week) is Colour.YELLOW
    assert colour(never_reported(7), week) is Colour.BLACK
    off = ColourRules(first_report_grace_days=0)
    assert colour(never_reported(0), off) is Colour.BLACK
    with pytest.raises(ValueError):
        ColourRules(first_report_grace_days=-1)


def test_grace_is_only_for_missing_reports() -> None:
    # An urgent ticket open too long is black even for a project in its grace period.
    verdict = assess_colour(never_reported(2, urgent_open_days=9))
    assert verdict.colour is Colour.BLACK and verdict.reasons == ("有紧急诉求已 9 天未办结",)
    # Once it has reported, the entry date does not matter: judged on its reports at once.
    reported = facts(rate=0.0, silent=0, entered_on=TODAY - timedelta(days=2))
    assert colour(reported) is Colour.BLACK


# --- permissions --------------------------------------------------------------------------------


def test_who_may_see_report_and_confirm() -> None:
    enterprise = Actor(1, frozenset({"enterprise"}), contact_project_ids=frozenset({10}))
    lead_official = Actor(2, frozenset({"official"}), unit_id=5)
    other_official = Actor(3, frozenset({"official"}), unit_id=6)
    officer = Actor(4, frozenset({"official"}), unit_id=6, officer_project_ids=frozenset({10}))
    leader = Actor(5, frozenset({"leader"}), leader_project_ids=frozenset({10}))
    admin = Actor(6, frozenset({"admin"}))
    assert may_view_project(enterprise, 10, 5) and not may_view_project(enterprise, 11, 5)
    assert may_view_project(lead_official, 10, 5) and not may_view_project(other_official, 10, 5)
    assert may_view_project(officer, 10, 5) and may_view_project(leader, 10, 5)
    assert may_view_project(admin, 99, None)
    assert may_report_progress(enterprise, 10) and may_report_progress(officer, 10)
    assert not may_report_progress(enterprise, 11) and not may_report_progress(leader, 10)
    assert may_confirm_milestone(lead_official, 10, 5) and may_confirm_milestone(officer, 10, 5)
    assert not may_confirm_milestone(enterprise, 10, 5)
    assert not may_confirm_milestone(leader, 10, 5)
    assert not may_confirm_milestone(other_official, 10, 5)
