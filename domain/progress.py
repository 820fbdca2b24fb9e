"""Project progress: plan against actual, milestones, and the four-colour status (四色管理).

Pure functions on plain data; `handlers/progress.py` loads the facts and stores the results.

Definitions (the contract; change them here and in the README together):

- **completed this year** (今年完成投资): for each reporting month (period ``YYYY-MM``) of the
  year, the amount of the *latest* report of that month that states one; the months are added.
  A second report in the same month corrects the first (the figure is "本月完成"), it is not
  added to it.
- **completion rate** (完成率) = completed this year ÷ annual plan; ``None`` without a plan.
- **time elapsed** (时间进度): the share of the plan window that has passed, today included.
  The window is the calendar year, cut to the planned start and finish when they fall inside
  it (a project planned to start on 1 September is not behind in March). ``None`` when the
  window is empty (the project is not planned to run this year at all).
- **ahead / behind**: completion rate ≥ time elapsed is on or ahead of plan; below is behind.

The four colours, checked in this order (thresholds in `ColourRules`, defaults shown):

- **black** 黑 (stalled) when any of: no progress report for ``black_silent_weeks`` (8) weeks
  or more; completion rate < ``black_behind_ratio`` (0.3) × time elapsed; an urgent ticket open
  for more than ``black_urgent_open_days`` (7) days.
- **red** 红 (slow) when any of: no progress report for ``red_silent_weeks`` (4) weeks or
  more; completion rate < ``red_behind_ratio`` (0.6) × time elapsed; never reported and no
  planned start to count the silence from.
- **green** 绿 (ahead) when completion rate ≥ time elapsed *and* the last report is less than
  ``green_recent_weeks`` (4) weeks old. A project that never reported, or has no annual plan,
  is never green.
- **yellow** 黄 (normal) otherwise.

"No report for N weeks" counts whole days since the last report (local date); a project that
never reported counts from its planned start (and is not yet silent before that date). The
completion-rate rules only apply once ``rate_grace_share`` (1/12, about a month) of the plan
window has passed, so nobody turns black on 2 January.

**First-report grace** (首报宽限期): a project that never reported and entered the desk
(``entered_on``, the day it was first loaded) less than ``first_report_grace_days`` (28) days
ago is not judged on its reports yet: neither the silence rules nor the completion-rate rules
apply (its "completed 0" is a figure nobody has reported, not a shortfall), so it is yellow —
unless an urgent ticket has been open too long, which still makes it black. From the grace
period's last day on, the rules above apply as before. Without ``entered_on`` (a project loaded
before the desk recorded it) there is no grace; ``first_report_grace_days = 0`` turns it off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.permissions import Actor
from domain.texts import reason_first_report_grace

# --- who may do what with progress --------------------------------------------------------------


def may_report_progress(actor: Actor, project_id: int) -> bool:
    """The enterprise's contacts; the service officer and admins on its behalf."""
    return (
        project_id in actor.contact_project_ids
        or project_id in actor.officer_project_ids
        or actor.is_admin
    )


def progress_project_ids(actor: Actor) -> list[int]:
    """Projects a message of this person can be a progress report for (admins use /progress)."""
    return sorted(actor.contact_project_ids | actor.officer_project_ids)


def may_view_project(actor: Actor, project_id: int, lead_unit_id: int | None) -> bool:
    """Enterprise: its own projects; officials of the lead unit (and the dispatcher, who
    supervises every project); the 分包领导; the service officer; admins."""
    if actor.is_admin or actor.is_dispatcher:
        return True
    if project_id in (actor.contact_project_ids | actor.leader_project_ids
                      | actor.officer_project_ids):
        return True
    return actor.is_official and lead_unit_id is not None and actor.unit_id == lead_unit_id


def may_confirm_milestone(actor: Actor, project_id: int, lead_unit_id: int | None) -> bool:
    """A milestone moves the stage once the lead unit's official or the service officer (or an
    admin) confirms it."""
    if actor.is_admin or project_id in actor.officer_project_ids:
        return True
    return actor.is_official and lead_unit_id is not None and actor.unit_id == lead_unit_id

# --- milestones ---------------------------------------------------------------------------------


class Milestone(StrEnum):
    SIGNED = "signed"
    STARTED = "started"
    TOPPED_OUT = "topped_out"
    COMPLETED = "completed"
    IN_PRODUCTION = "in_production"


MILESTONE_ORDER: tuple[Milestone, ...] = (
    Milestone.SIGNED,
    Milestone.STARTED,
    Milestone.TOPPED_OUT,
    Milestone.COMPLETED,
    Milestone.IN_PRODUCTION,
)

MILESTONE_NAMES: dict[str, str] = {
    Milestone.SIGNED: "签约",
    Milestone.STARTED: "开工",
    Milestone.TOPPED_OUT: "封顶",
    Milestone.COMPLETED: "竣工",
    Milestone.IN_PRODUCTION: "投产",
}

_MILESTONE_BY_NAME = {name: code for code, name in MILESTONE_NAMES.items()}


def milestone_code(value: str | None) -> Milestone | None:
    """A milestone from its code (``topped_out``) or Chinese name (封顶); None if unknown."""
    if not value:
        return None
    value = value.strip()
    try:
        return Milestone(value)
    except ValueError:
        found = _MILESTONE_BY_NAME.get(value)
        return Milestone(found) if found else None


def milestone_name(value: str | None) -> str:
    code = milestone_code(value)
    return MILESTONE_NAMES[code] if code else (value or "—")


def milestone_index(value: str | None) -> int:
    """Position in signed → … → in_production; -1 for none or unknown."""
    code = milestone_code(value)
    return MILESTONE_ORDER.index(code) if code else -1


def advances(stage: str | None, milestone: str | None) -> bool:
    """True when reaching `milestone` moves a project at `stage` forward (never backward)."""
    return milestone_code(milestone) is not None and milestone_index(milestone) > milestone_index(
        stage
    )


# --- periods ------------------------------------------------------------------------------------


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


def next_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"


_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(text: str) -> str | None:
    """``2026-11`` (also ``2026-1``, ``202611``, ``2026年11月``) → ``2026-11``; None otherwise."""
    t = text.strip().replace("年", "-").replace("月", "").replace("/", "-").replace(".", "-")
    m = re.fullmatch(r"(\d{4})-?(\d{1,2})", t)
    if not m:
        return None
    candidate = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    return candidate if _PERIOD_RE.match(candidate) else None


def period_label(period: str) -> str:
    year, month = period.split("-")
    return f"{year}年{int(month)}月"


_LAST_MONTH = re.compile(r"上个?月")
_NAMED_MONTH = re.compile(r"(?<![\d.])(1[0-2]|[1-9])\s*月份?\s*(?:份)?(?:完成|累计完成|共完成|实际完成)")


def reported_period(text: str, today: date) -> str:
    """The month a progress message reports on: this month unless it says 上月 or 10月完成.

    A named month later than this one (预计12月完成) is a plan, not a report: this month.
    """
    this = period_of(today)
    if _LAST_MONTH.search(text):
        return previous_period(this)
    m = _NAMED_MONTH.search(text)
    if m:
        month = int(m.group(1))
        if month <= today.month:
            return f"{today.year:04d}-{month:02d}"
    return this


# --- plan against actual ------------------------------------------------------------------------


@dataclass(frozen=True)
class AmountReport:
    """What the arithmetic needs of one progress report."""

    period: str
    amount_wan: float | None
    created_at: datetime
    report_id: int = 0


def completed_in_year(reports: Iterable[AmountReport], year: int) -> float:
    """Investment completed in `year`: per month the latest stated amount, summed."""
    latest: dict[str, AmountReport] = {}
    prefix = f"{year:04d}-"
    for r in reports:
        if r.amount_wan is None or not r.period.startswith(prefix):
            continue
        best = latest.get(r.period)
        if best is None or (r.created_at, r.report_id) >= (best.created_at, best.report_id):
            latest[r.period] = r
    return round(sum(float(r.amount_wan or 0.0) for r in latest.values()), 4)


def completion_rate(completed_wan: float, annual_plan_wan: float | None) -> float | None:
    if annual_plan_wan is None or annual_plan_wan <= 0:
        return None
    return completed_wan / annual_plan_wan


def plan_window(year: int, planned_start: date | None,
                planned_finish: date | None) -> tuple[date, date] | None:
    """The part of `year` the annual plan covers; None when the project does not run in it."""
    start = date(year, 1, 1)
    end = date(year, 12, 31)
    if planned_start is not None and planned_start > start:
        start = planned_start
    if planned_finish is not None and planned_finish < end:
        end = planned_finish
    return None if end < start else (start, end)


def year_elapsed_share(today: date) -> float:
    """Share of the calendar year passed, today included (1 Jan → 1/365, 31 Dec → 1.0)."""
    days = (date(today.year, 12, 31) - date(today.year, 1, 1)).days + 1
    return today.timetuple().tm_yday / days


def elapsed_share(today: date, planned_start: date | None = None,
                  planned_finish: date | None = None) -> float | None:
    """Share of this year's plan window passed, today included; None without a window."""
    window = plan_window(today.year, planned_start, planned_finish)
    if window is None:
        return None
    start, end = window
    if today < start:
        return 0.0
    total = (end - start).days + 1
    return min(1.0, ((today - start).days + 1) / total)


@dataclass(frozen=True)
class PlanProgress:
    annual_plan_wan: float | None
    completed_wan: float
    completion_rate: float | None
    elapsed_share: float | None
    # What the plan expects by today (annual plan × elapsed share) and the shortfall (>0 behind).
    expected_wan: float | None
    shortfall_wan: float | None

    @property
    def behind(self) -> bool | None:
        """True behind the time elapsed, False on or ahead; None when it cannot be said."""
        if self.completion_rate is None or self.elapsed_share is None:
            return None
        return self.completion_rate < self.elapsed_share


def plan_progress(annual_plan_wan: float | None, completed_wan: float, today: date,
                  planned_start: date | None = None,
                  planned_finish: date | None = None) -> PlanProgress:
    rate = completion_rate(completed_wan, annual_plan_wan)
    share = elapsed_share(today, planned_start, planned_finish)
    expected = None
    shortfall = None
    if rate is not None and share is not None and annual_plan_wan is not None:
        expected = round(annual_plan_wan * share, 4)
        shortfall = round(expected - completed_wan, 4)
    return PlanProgress(annual_plan_wan, completed_wan, rate, share, expected, shortfall)


# --- four colours -------------------------------------------------------------------------------


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    BLACK = "black"


COLOUR_NAMES: dict[str, str] = {
    Colour.GREEN: "绿色",
    Colour.YELLOW: "黄色",
    Colour.RED: "红色",
    Colour.BLACK: "黑色",
}
COLOUR_MEANINGS: dict[str, str] = {
    Colour.GREEN: "超前",
    Colour.YELLOW: "正常",
    Colour.RED: "滞后",
    Colour.BLACK: "停滞",
}
COLOUR_EMOJI: dict[str, str] = {
    Colour.GREEN: "🟢",
    Colour.YELLOW: "🟡",
    Colour.RED: "🔴",
    Colour.BLACK: "⚫",
}
# Colours that earn a reminder letter (提醒函) to the lead unit and the 分包领导.
ALARM_COLOURS = frozenset({Colour.RED, Colour.BLACK})


@dataclass(frozen=True)
class ColourRules:
    """Thresholds of the four colours (see the module docstring for the rules)."""

    black_silent_weeks: int = 8
    black_behind_ratio: float = 0.3
    black_urgent_open_days: float = 7
    red_silent_weeks: int = 4
    red_behind_ratio: float = 0.6
    green_recent_weeks: int = 4
    rate_grace_share: float = 1 / 12
    # A never-reporting project is not judged on its reports in its first days on the desk.
    first_report_grace_days: int = 28

    def __post_init__(self) -> None:
        if not 0 <= self.black_behind_ratio <= self.red_behind_ratio:
            raise ValueError("need 0 ≤ black_behind_ratio ≤ red_behind_ratio")
        if not 0 < self.red_silent_weeks <= self.black_silent_weeks:
            raise ValueError("need 0 < red_silent_weeks ≤ black_silent_weeks")
        if self.green_recent_weeks <= 0 or self.black_urgent_open_days < 0:
            raise ValueError("weeks and days must be positive")
        if self.first_report_grace_days < 0:
            raise ValueError("first_report_grace_days must not be negative")


@dataclass(frozen=True)
class ProjectFacts:
    """Everything the colour of one project depends on, as of `today` (local date)."""

    today: date
    annual_plan_wan: float | None
    completed_wan: float
    last_report_on: date | None
    planned_start: date | None = None
    planned_finish: date | None = None
    # Age in days of the oldest urgent ticket still open (submitted / in progress), if any.
    urgent_open_days: float | None = None
    # The local date the project entered the desk (first loaded); None when not known.
    entered_on: date | None = None


@dataclass(frozen=True)
class ColourVerdict:
    colour: Colour
    reasons: tuple[str, ...]
    progress: PlanProgress
    # Days without a report (counted from the planned start if it never reported), or None.
    silent_days: int | None
    never_reported: bool


def silent_days(facts: ProjectFacts) -> int | None:
    if facts.last_report_on is not None:
        return max(0, (facts.today - facts.last_report_on).days)
    if facts.planned_start is not None:
        return max(0, (facts.today - facts.planned_start).days)
    return None


def first_report_grace_end(facts: ProjectFacts, rules: ColourRules) -> date | None:
    """The first day a never-reporting project is judged on its reports again, while it is
    still in its first-report grace period; None when there is no grace (any more)."""
    if facts.last_report_on is not None or facts.entered_on is None \
            or rules.first_report_grace_days <= 0:
        return None
    end = facts.entered_on + timedelta(days=rules.first_report_grace_days)
    return end if facts.today < end else None


def assess_colour(facts: ProjectFacts, rules: ColourRules | None = None) -> ColourVerdict:
    """The colour of a project and the reasons for it, in Chinese."""
    rules = rules or ColourRules()
    progress = plan_progress(facts.annual_plan_wan, facts.completed_wan, facts.today,
                             facts.planned_start, facts.planned_finish)
    never = facts.last_report_on is None
    silent = silent_days(facts)
    rate, share = progress.completion_rate, progress.elapsed_share
    grace_end = first_report_grace_end(facts, rules)
    judged = grace_end is None  # on its reports: silence and completion rate
    rates_apply = judged and rate is not None and share is not None \
        and share >= rules.rate_grace_share

    black: list[str] = []
    if judged and silent is not None and silent >= rules.black_silent_weeks * 7:
        black.append(reason_silent(silent, never))
    if rates_apply and rate is not None and share is not None \
            and rate < rules.black_behind_ratio * share:
        black.append(reason_far_behind(rate, share))
    if facts.urgent_open_days is not None and facts.urgent_open_days > rules.black_urgent_open_days:
        black.append(reason_urgent_open(facts.urgent_open_days))
    if black:
        return ColourVerdict(Colour.BLACK, tuple(black), progress, silent, never)

    red: list[str] = []
    if judged and silent is not None and silent >= rules.red_silent_weeks * 7:
        red.append(reason_silent(silent, never))
    elif judged and never and silent is None:
        red.append(REASON_NEVER_REPORTED)
    if rates_apply and rate is not None and share is not None \
            and rate < rules.red_behind_ratio * share:
        red.append(reason_behind(rate, share))
    if red:
        return ColourVerdict(Colour.RED, tuple(red), progress, silent, never)

    recent = silent is not None and not never and silent < rules.green_recent_weeks * 7
    if rate is not None and share is not None and rate >= share and recent:
        return ColourVerdict(Colour.GREEN, (reason_ahead(rate, share),), progress, silent, never)

    yellow: list[str] = []
    if grace_end is not None:
        yellow.append(reason_first_report_grace(grace_end - timedelta(days=1)))
    elif never:
        yellow.append(REASON_NO_REPORT_YET)
    elif rate is None:
        yellow.append(REASON_NO_PLAN)
    elif share is None:
        yellow.append(REASON_NO_WINDOW)
    elif rate >= share:
        yellow.append(reason_ahead_but_stale(rules.green_recent_weeks))
    else:
        yellow.append(reason_normal(rate, share))
    return ColourVerdict(Colour.YELLOW, tuple(yellow), progress, silent, never)


# --- reasons (user-facing Chinese) --------------------------------------------------------------

REASON_NEVER_REPORTED = "从未报送进度"
REASON_NO_REPORT_YET = "尚未报送过进度,不评绿色"
REASON_NO_PLAN = "未设年度计划投资,无法比较完成率"
REASON_NO_WINDOW = "今年不在计划建设期内"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def reason_silent(days: int, never: bool) -> str:
    weeks = days // 7
    if never:
        return f"自计划开工以来已 {weeks} 周({days} 天)从未报送进度"
    return f"已 {weeks} 周({days} 天)未报送进度"


def reason_far_behind(rate: float, share: float) -> str:
    return f"投资完成率 {pct(rate)} 远低于时间进度 {pct(share)}"


def reason_behind(rate: float, share: float) -> str:
    return f"投资完成率 {pct(rate)} 明显落后于时间进度 {pct(share)}"


def reason_urgent_open(days: float) -> str:
    return f"有紧急诉求已 {int(days)} 天未办结"


def reason_ahead(rate: float, share: float) -> str:
    return f"投资完成率 {pct(rate)} 达到或超过时间进度 {pct(share)},且按时报送"


def reason_ahead_but_stale(weeks: int) -> str:
    return f"完成率达到时间进度,但近 {weeks} 周未报送,暂评黄色"


def reason_normal(rate: float, share: float) -> str:
    return f"投资完成率 {pct(rate)},时间进度 {pct(share)},进度基本正常"
