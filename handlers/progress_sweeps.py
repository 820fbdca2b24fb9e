"""Daily progress sweeps: the four colours, reminder letters (提醒函), monthly report reminders.

Both are plain async functions the scheduler calls (and `zhitong sweep --now …`); they are
idempotent because the database says what is due and every outbox row has a key naming the
event that caused it:

- ``colour:<project code>:<colour>:<local date of change>:<account id>`` — a reminder letter to
  each official of the lead unit and to the 分包领导 when a project turns red or black; a
  second sweep (or a flip back and forth on the same day) sends nothing new;
- ``progress-remind:<project code>:<YYYY-MM>:<account id>`` — the monthly "please report"
  reminder to each enterprise contact of a project with no report this month, from the
  configured day of the month on (default the 25th; a day missed while the process was down
  is caught up, once).

Thresholds come from ``config.colour_rules`` (a `domain.progress.ColourRules`) and
``config.progress_remind_day`` when the deployment sets them, else the documented defaults.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from domain import progress as dp
from domain.calendar import quiet_hours_end
from handlers import outmsg
from handlers import progress_texts as pt
from handlers.progress import ProjectState, colour_rules, load_states
from handlers.texts import fmt_time
from storage.models import Account, ProgressReport, Project, ProjectEvent
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_REMIND_DAY = 25


def remind_day(config: object) -> int:
    day = getattr(config, "progress_remind_day", None)
    return int(day) if isinstance(day, int) and 1 <= day <= 28 else DEFAULT_REMIND_DAY


def not_before(now: datetime, config: Any, deliver_from: datetime | None = None) -> datetime:
    """Non-urgent pushes wait for the end of quiet hours (22:00–07:30 local by default).

    `deliver_from` (the wall clock when `zhitong sweep --now` simulates a later time) lets the
    running bot deliver a previewed sweep at once rather than at the simulated time.
    """
    immediate = min(now, deliver_from) if deliver_from is not None else now
    end = quiet_hours_end(now, config.quiet_start, config.quiet_end, config.timezone)
    return end if end is not None else immediate


async def _enqueue(uow: UnitOfWork, key: str, account: Account | None, payload: dict[str, Any],
                   now: datetime, config: Any, deliver_from: datetime | None) -> bool:
    if account is None or account.telegram_id is None or not account.active:
        return False
    return await uow.outbox.enqueue(idem_key=key, chat_id=account.telegram_id, payload=payload,
                                    now=now, not_before=not_before(now, config, deliver_from))


async def sweep_project_colours(uow_factory: Any, now: datetime, config: Any, *,
                                rules: dp.ColourRules | None = None,
                                deliver_from: datetime | None = None) -> list[str]:
    """Compute every project's colour; store and audit the changes (ProjectEvent ``colour``);
    a reminder letter for each project that turned red or black.

    Returns the idempotency keys it added to the outbox (like every scheduler sweep).
    """
    rules = rules or colour_rules(config)
    tz = config.timezone
    added: list[str] = []
    async with uow_factory() as uow:
        for state in await load_states(uow, now, tz, rules):
            project = state.project
            new = state.colour
            old = project.colour
            if old == new:
                continue
            cond = Project.colour.is_(None) if old is None else Project.colour == old
            res = await uow.session.execute(
                update(Project).where(Project.id == project.id, cond)
                .values(colour=new, colour_changed_at=now)
                .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                continue  # another sweep got there first
            uow.session.add(ProjectEvent(
                project_id=project.id, actor_id=None, action="colour", from_value=old,
                to_value=new, note=";".join(state.verdict.reasons),
                data=_colour_data(state), created_at=now))
            log.info("project %s colour %s -> %s", project.code, old or "-", new)
            if dp.Colour(new) in dp.ALARM_COLOURS:
                added += await notify_colour_letter(uow, state, old, now, config, deliver_from)
        await uow.commit()
    return added


def _colour_data(state: ProjectState) -> dict[str, Any]:
    p = state.verdict.progress
    return {
        "reasons": list(state.verdict.reasons),
        "completed_wan": state.completed_wan,
        "completion_rate": p.completion_rate,
        "elapsed_share": p.elapsed_share,
        "silent_days": state.verdict.silent_days,
    }


async def letter_recipients(uow: UnitOfWork, project: Project) -> list[tuple[Account, str]]:
    """The lead unit's officials and the 分包领导, each once, with the role they are told in."""
    out: list[tuple[Account, str]] = []
    if project.lead_unit_id is not None:
        for a in await uow.accounts.officials_of(project.lead_unit_id):
            if "official" in (a.roles or []):
                out.append((a, pt.ROLE_LEAD_UNIT))
    if project.leader_id is not None:
        leader = await uow.accounts.get(project.leader_id)
        if leader is not None and leader.active and all(a.id != leader.id for a, _ in out):
            out.append((leader, pt.ROLE_LEADER))
    return out


async def notify_colour_letter(uow: UnitOfWork, state: ProjectState, previous: str | None,
                               now: datetime, config: Any,
                               deliver_from: datetime | None = None) -> list[str]:
    """The 提醒函 for a project that turned red or black; returns the keys enqueued."""
    project = state.project
    tz = config.timezone
    day = now.astimezone(tz).date().isoformat()
    dispatcher = await uow.org.dispatcher()
    lead = await uow.org.unit(project.lead_unit_id) if project.lead_unit_id else None
    p = state.verdict.progress
    added: list[str] = []
    for person, role in await letter_recipients(uow, project):
        addressee = f"{lead.name} {person.name}" if lead and role == pt.ROLE_LEAD_UNIT \
            else person.name
        body = pt.colour_letter(
            addressee=addressee, role=role, project=project.name, code=project.code,
            colour=state.colour, previous=previous, day=day, reasons=state.verdict.reasons,
            annual_plan_wan=project.annual_plan_wan, completed_wan=state.completed_wan,
            rate=p.completion_rate, elapsed=p.elapsed_share,
            last_report=fmt_time(state.last_report_at, tz) if state.last_report_at else None,
            sender=dispatcher.name if dispatcher else pt.DEFAULT_SENDER,
        )
        key = f"colour:{project.code}:{state.colour}:{day}:{person.id}"
        if await _enqueue(uow, key, person, outmsg.send(body), now, config, deliver_from):
            added.append(key)
    return added


async def sweep_report_reminders(uow_factory: Any, now: datetime, config: Any, *,
                                 day_of_month: int | None = None,
                                 deliver_from: datetime | None = None) -> list[str]:
    """From the reminder day of the month on, remind the contacts of projects that have not
    reported this month (once per project, month and person). Returns the keys added."""
    tz = config.timezone
    today = now.astimezone(tz).date()
    if today.day < (day_of_month or remind_day(config)):
        return []
    period = dp.period_of(today)
    added: list[str] = []
    async with uow_factory() as uow:
        reported = set((await uow.session.execute(
            select(ProgressReport.project_id).where(ProgressReport.period == period)
        )).scalars())
        for project in await uow.org.projects():
            if project.id in reported:
                continue
            for person in await uow.org.contacts_of(project.id):
                key = f"progress-remind:{project.code}:{period}:{person.id}"
                payload = outmsg.send(pt.report_reminder(person.name, project.name, period))
                if await _enqueue(uow, key, person, payload, now, config, deliver_from):
                    added.append(key)
        await uow.commit()
    return added
