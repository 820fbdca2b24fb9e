"""The scheduler's sweeps (DESIGN §8): read what is due from the database, enqueue outbox rows.

Every sweep is a plain async function ``sweep_x(uow_factory, now, config) -> list[str]`` that
returns the idempotency keys it added to the outbox. The truth is in the database:

- each ticket carries ``sweep_at``, the time of its next step on the reminder ladder
  (`scheduler.jobs`). The ticket sweep claims ``sweep_at <= now`` through its index, plans each
  claimed ticket, enqueues what is due and stores the next time, in one transaction per batch.
  Any other change to a ticket resets ``sweep_at`` to "as soon as possible" (a column
  ``onupdate``), so a new deadline, status or unit is planned afresh by the next sweep;
- every message carries an idempotency key naming its step and local date
  (``remind:<ticket>:<kind>:<date>:<account>``, ``escalate:…``, ``reask:<ticket>:<reopen>:…``,
  ``bulletin:<iso week>:<account>``, ``ranking:<YYYY-MM>:<account>``), and the outbox insert
  ignores keys it already has: two sweeps at the same instant, a crash between the insert and
  the commit, or a restart after downtime never send anything twice.

A sweep's cost is the work that is due, not the number of open tickets: a steady-state sweep is a
handful of indexed queries; the morning 督办 burst (``config.morning_push_at``, 09:00 by default)
touches the overdue tickets once a day.

Quiet hours (``config.quiet_start``–``quiet_end`` local): non-urgent pushes get ``not_before`` the
end of the quiet period; urgent ones go at once.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, bindparam, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendar import at_local, local_date, quiet_hours_end, working_days_overdue
from domain.errors import DomainError
from domain.stats import Period
from handlers import outmsg
from handlers.config import DeskConfig
from handlers.context import Ctx
from handlers.stats import monthly_ranking
from handlers.texts import fmt_time, status_name
from handlers.views import rating_buttons
from scheduler import texts
from scheduler.jobs import (
    BULLETIN_AT,
    CATCH_UP,
    OPEN,
    RANKING_AT,
    DueStep,
    Step,
    TicketFacts,
    plan_ticket,
)
from storage.availability import may_be_outage
from storage.models import (
    Account,
    Category,
    OutboxMessage,
    Project,
    ProjectContact,
    Ticket,
    Unit,
    UtcDateTime,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 2000
MAX_BATCHES = 500  # a safety stop for one call; the next sweep goes on where this one stopped
OUTBOX_CHUNK = 500
PG_CHUNK = 5000
RETRY_LATER = timedelta(minutes=5)
WORST_OVERDUE = 5

# The groups `run_all_sweeps` reports, in order.
KINDS = ("accept", "before", "due", "overdue", "leader", "admin", "reask", "autoclose",
         "bulletin", "ranking", "colour", "progress-remind")


# --- delivery time --------------------------------------------------------------------------------


def not_before(now: datetime, urgent: bool, config: DeskConfig,
               deliver_from: datetime | None = None) -> datetime:
    """When a push may go: at once, or (non-urgent, in quiet hours) when the quiet hours end.

    Quiet hours are judged at the moment the message can actually go out. That is `now`, except
    for a sweep previewed at a simulated time later than the wall clock (`zhitong sweep --now`):
    `deliver_from` is the wall clock, so a running bot delivers what the preview enqueued at once,
    while the people it goes to are awake.
    """
    send_at = min(now, deliver_from) if deliver_from is not None else now
    if urgent:
        return send_at
    end = quiet_hours_end(send_at, config.quiet_start, config.quiet_end, config.timezone)
    return end if end is not None else send_at


# --- reading what a sweep needs --------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    chat_id: int | None
    name: str


@dataclass
class Directory:
    """The people, units and projects a sweep names: a few small queries, once per sweep."""

    units: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (name, kind)
    categories: dict[str, str] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    officials: dict[int, list[Person]] = field(default_factory=dict)  # by unit id
    admins: list[Person] = field(default_factory=list)
    leaders: list[Person] = field(default_factory=list)
    projects: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # (name, leader)
    dispatcher_id: int | None = None

    def dispatcher_officials(self) -> list[Person]:
        return self.officials.get(self.dispatcher_id, []) if self.dispatcher_id else []

    def handlers_of(self, unit_id: int) -> list[Person]:
        """Who is reminded for a unit: its officials, or the dispatcher's when it has none
        reachable (a unit nobody in it joined yet must not silently swallow its reminders)."""
        people = [p for p in self.officials.get(unit_id, []) if p.chat_id is not None]
        return people or self.dispatcher_officials()

    def unit_name(self, unit_id: int) -> str:
        return self.units.get(unit_id, ("?", ""))[0]


class SweepRepo:
    """The sweeps' queries (kept beside them; they read and write in bulk)."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.dialect = session.bind.dialect.name

    async def directory(self) -> Directory:
        d = Directory()
        for uid, name, kind in (await self.s.execute(
                select(Unit.id, Unit.name, Unit.kind).order_by(Unit.id))).all():
            d.units[uid] = (name, kind)
            if kind == "dispatcher" and d.dispatcher_id is None:
                d.dispatcher_id = uid
        d.categories = {c: n for c, n in (await self.s.execute(
            select(Category.code, Category.name))).all()}
        rows = (await self.s.execute(
            select(Account.id, Account.telegram_id, Account.name, Account.roles, Account.unit_id)
            .where(Account.active.is_(True)).order_by(Account.id))).all()
        officials: dict[int, list[Person]] = defaultdict(list)
        for aid, chat, name, roles, unit_id in rows:
            p = Person(aid, chat, name)
            d.people[aid] = p
            roles = roles or []
            if unit_id is not None and ("official" in roles or "admin" in roles):
                officials[unit_id].append(p)
            if "admin" in roles:
                d.admins.append(p)
            if "leader" in roles:
                d.leaders.append(p)
        d.officials = dict(officials)
        d.projects = {pid: (name, leader) for pid, name, leader in (await self.s.execute(
            select(Project.id, Project.name, Project.leader_id))).all()}
        return d

    async def claim(self, now: datetime, limit: int,
                    after: tuple[datetime, int] | None = None) -> Sequence[Any]:
        """Tickets whose next step has come, in (sweep_at, id) order from the index; `after`
        continues behind the previous batch (skipping the index entries it just moved away).
        Locked on PostgreSQL; rows another transaction holds are left for the next sweep."""
        t = Ticket
        q = (
            select(t.id, t.number, t.status, t.urgent, t.unit_id, t.project_id, t.reporter_id,
                   t.category_code, func.substr(t.text, 1, 200).label("text"),
                   func.substr(t.result, 1, 400).label("result"), t.accept_due_at, t.due_at,
                   t.resolved_at, t.rating_asks, t.reopen_count, t.sweep_at)
            .where(t.sweep_at <= now)
            .order_by(t.sweep_at, t.id)
            .limit(limit)
        )
        if after is not None:
            q = q.where(tuple_(t.sweep_at, t.id) > tuple_(literal(after[0], UtcDateTime()),
                                                          literal(after[1])))
        if self.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True, of=t)
        return (await self.s.execute(q)).all()

    async def contacts(self, project_ids: Iterable[int]) -> dict[int, list[int]]:
        ids = sorted(set(project_ids))
        if not ids:
            return {}
        out: dict[int, list[int]] = defaultdict(list)
        q = (select(ProjectContact.project_id, ProjectContact.account_id)
             .where(ProjectContact.project_id.in_(ids))
             .order_by(ProjectContact.project_id, ProjectContact.account_id))
        for pid, aid in (await self.s.execute(q)).all():
            out[pid].append(aid)
        return out

    async def enqueue(self, rows: list[dict[str, Any]]) -> list[str]:
        """Insert outbox rows, skipping keys already there; the keys actually added."""
        if not rows:
            return []
        if self.dialect == "postgresql":
            return await self._enqueue_pg(rows)
        table = OutboxMessage.metadata.tables["outbox"]
        # One cached statement with many parameter sets: SQLAlchemy batches them into multi-row
        # INSERT … ON CONFLICT DO NOTHING … RETURNING.
        stmt = (sqlite_insert(table).on_conflict_do_nothing(index_elements=["idem_key"])
                .returning(table.c.idem_key))
        conn = await self.s.connection()
        added: list[str] = []
        for i in range(0, len(rows), OUTBOX_CHUNK):
            added.extend((await conn.execute(stmt, rows[i:i + OUTBOX_CHUNK])).scalars().all())
        return added

    async def _enqueue_pg(self, rows: list[dict[str, Any]]) -> list[str]:
        """PostgreSQL: one INSERT … SELECT FROM unnest(arrays) per chunk (a burst of 督办 is tens
        of thousands of rows; row-by-row parameters would cost more than the insert itself)."""
        payloads: dict[int, str] = {}  # a payload shared by several rows is serialised once
        added: list[str] = []
        for i in range(0, len(rows), PG_CHUNK):
            chunk = rows[i:i + PG_CHUNK]
            params = {
                "keys": [r["idem_key"] for r in chunk],
                "chats": [r["chat_id"] for r in chunk],
                "payloads": [payloads.get(id(r["payload"])) or payloads.setdefault(
                    id(r["payload"]), json.dumps(r["payload"], ensure_ascii=False))
                    for r in chunk],
                "urgents": [bool(r["urgent"]) for r in chunk],
                "nbs": [r["not_before"] for r in chunk],
                "now": chunk[0]["created_at"],
            }
            added.extend((await self.s.execute(_PG_ENQUEUE, params)).scalars().all())
        return added

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        q = select(OutboxMessage.idem_key).where(OutboxMessage.idem_key.in_(list(keys)))
        return set((await self.s.execute(q)).scalars().all())

    async def reschedule(self, values: list[dict[str, Any]]) -> None:
        """Bulk UPDATE by primary key: {"id", "sweep_at"[, "rating_asks"]} per ticket."""
        if not values:
            return
        if self.dialect == "postgresql":
            for i in range(0, len(values), PG_CHUNK):
                chunk = values[i:i + PG_CHUNK]
                await self.s.execute(_PG_RESCHEDULE, {
                    "ids": [v["id"] for v in chunk],
                    "sweeps": [v["sweep_at"] for v in chunk],
                    "asks": [v.get("rating_asks") for v in chunk],
                })
            return
        table = Ticket.metadata.tables["tickets"]
        plain = [{"b_id": v["id"], "b_sweep_at": v["sweep_at"]}
                 for v in values if "rating_asks" not in v]
        asked = [{"b_id": v["id"], "b_sweep_at": v["sweep_at"], "b_asks": v["rating_asks"]}
                 for v in values if "rating_asks" in v]
        conn = await self.s.connection()
        where = table.c.id == bindparam("b_id")
        if plain:
            await conn.execute(update(table).where(where)
                               .values(sweep_at=bindparam("b_sweep_at")), plain)
        if asked:
            await conn.execute(update(table).where(where)
                               .values(sweep_at=bindparam("b_sweep_at"),
                                       rating_asks=bindparam("b_asks")), asked)


_PG_ENQUEUE = text(
    "INSERT INTO outbox (idem_key, chat_id, payload, urgent, status, attempts, not_before, "
    "created_at) "
    "SELECT k, c, p::json, u, 'pending', 0, nb, :now FROM unnest("
    "CAST(:keys AS text[]), CAST(:chats AS bigint[]), CAST(:payloads AS text[]), "
    "CAST(:urgents AS boolean[]), CAST(:nbs AS timestamptz[])) AS v(k, c, p, u, nb) "
    "ON CONFLICT (idem_key) DO NOTHING RETURNING idem_key"
).columns(idem_key=String)

_PG_RESCHEDULE = text(
    "UPDATE tickets AS t SET sweep_at = v.s, rating_asks = COALESCE(v.a, t.rating_asks) "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:sweeps AS timestamptz[]), "
    "CAST(:asks AS integer[])) AS v(id, s, a) WHERE t.id = v.id"
)


# --- the ticket ladder ---------------------------------------------------------------------------


@dataclass
class _Out:
    """Outbox rows being collected for one batch."""

    now: datetime
    config: DeskConfig
    deliver_from: datetime | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    _when: dict[bool, datetime] = field(default_factory=dict)

    def push(self, key: str, person: Person | None, payload: dict[str, Any],
             urgent: bool) -> None:
        if person is None or person.chat_id is None or key in self.seen:
            return
        self.seen.add(key)
        when = self._when.get(urgent)
        if when is None:
            when = self._when[urgent] = not_before(self.now, urgent, self.config,
                                                   self.deliver_from)
        self.rows.append({
            "idem_key": key, "chat_id": person.chat_id, "payload": payload, "ref": None,
            "urgent": urgent, "status": "pending", "attempts": 0, "not_before": when,
            "created_at": self.now,
        })


def _facts(r: Any) -> TicketFacts:
    return TicketFacts(id=r.id, status=r.status, urgent=bool(r.urgent),
                       accept_due_at=r.accept_due_at, due_at=r.due_at, resolved_at=r.resolved_at,
                       rating_asks=int(r.rating_asks or 0), sweep_at=r.sweep_at)


def _line(r: Any, d: Directory, config: DeskConfig) -> texts.TicketLine:
    tz = config.timezone
    return texts.TicketLine(
        number=r.number,
        project=d.projects.get(r.project_id, ("?", None))[0],
        unit=d.unit_name(r.unit_id),
        category=d.categories.get(r.category_code, r.category_code),
        urgent=bool(r.urgent),
        text=r.text or "",
        due=fmt_time(r.due_at, tz),
        accept_due=fmt_time(r.accept_due_at, tz),
    )


def _enterprise(r: Any, d: Directory, contacts: dict[int, list[int]]) -> list[Person]:
    """The reporter if a contact of the project; else (代为反映) the project's contacts."""
    ids = contacts.get(r.project_id, [])
    people = [d.people[i] for i in ids if i in d.people]
    if r.reporter_id in ids and r.reporter_id in d.people:
        return [d.people[r.reporter_id]]
    if people:
        return people
    reporter = d.people.get(r.reporter_id)
    return [reporter] if reporter else []


def _messages(r: Any, due: DueStep, d: Directory, contacts: dict[int, list[int]],
              out: _Out) -> None:
    """Enqueue what one step of one ticket sends."""
    config = out.config
    tid, day = r.id, due.day.isoformat()
    urgent = bool(r.urgent)
    line = _line(r, d, config)
    officials = d.handlers_of(r.unit_id)
    step = due.step
    if step == Step.ACCEPT:
        payload = outmsg.send(texts.accept_overdue_unit(line))
        for p in officials:
            out.push(f"remind:{tid}:accept:{day}:{p.id}", p, payload, urgent)
        told = {p.id for p in officials}
        payload = outmsg.send(texts.accept_overdue_dispatcher(line))
        for p in d.dispatcher_officials():
            if p.id not in told:
                out.push(f"remind:{tid}:accept:{day}:{p.id}", p, payload, urgent)
    elif step in (Step.BEFORE, Step.DUE, Step.OVERDUE):
        if step == Step.BEFORE:
            text = texts.before_due(line)
        elif step == Step.DUE:
            text = texts.at_due(line)
        else:
            text = texts.overdue(line, due.overdue_days)
        payload = outmsg.send(text)
        for p in officials:
            out.push(f"remind:{tid}:{step}:{day}:{p.id}", p, payload, urgent)
    elif step == Step.LEADER:
        leader_id = d.projects.get(r.project_id, ("", None))[1]
        leader = d.people.get(leader_id) if leader_id is not None else None
        if leader is not None:
            out.push(f"escalate:{tid}:leader:{day}:{leader.id}", leader,
                     outmsg.send(texts.escalate_leader(line, due.overdue_days,
                                                       status_name(r.status))), urgent)
    elif step == Step.ADMIN:
        leader_id = d.projects.get(r.project_id, ("", None))[1]
        leader = d.people.get(leader_id) if leader_id is not None else None
        text = texts.escalate_admin(line, due.overdue_days, status_name(r.status),
                                    leader.name if leader else None)
        for p in d.admins:
            out.push(f"escalate:{tid}:admin:{day}:{p.id}", p, outmsg.send(text), urgent)
    elif step == Step.REASK:
        buttons = rating_buttons(Ticket(id=tid, reopen_count=r.reopen_count))
        payload = outmsg.send(texts.reask_rating(r.number, line.unit, r.result or ""), buttons)
        for p in _enterprise(r, d, contacts):
            out.push(f"reask:{tid}:{r.reopen_count}:{p.id}", p, payload, False)
    elif step == Step.CLOSE:
        payload = outmsg.send(texts.autoclosed(r.number))
        for p in _enterprise(r, d, contacts):
            out.push(f"autoclose:{tid}:{r.reopen_count}:{p.id}", p, payload, False)


async def _close_unrated(uow: UnitOfWork, now: datetime, config: DeskConfig,
                         ticket_id: int) -> bool:
    from handlers.tickets import do_close_unrated

    ticket = await uow.tickets.get(ticket_id)
    if ticket is None or ticket.status != "resolved":
        return False
    try:
        await do_close_unrated(Ctx(uow=uow, now=now, config=config), ticket)
    except DomainError:
        log.warning("auto-close of ticket %s refused; will look again", ticket_id)
        return False
    ticket.sweep_at = None
    await uow.session.flush()
    return True


async def sweep_tickets(uow_factory: UnitOfWorkFactory, now: datetime, config: DeskConfig, *,
                        deliver_from: datetime | None = None, batch: int = BATCH) -> list[str]:
    """Every per-ticket step that has come: accept, before/at due, 督办, escalations, re-ask,
    auto-close. One transaction per batch of claimed tickets."""
    added: list[str] = []
    directory: Directory | None = None
    after: tuple[datetime, int] | None = None
    for _ in range(MAX_BATCHES):
        async with uow_factory() as uow:
            repo = SweepRepo(uow.session)
            rows = await repo.claim(now, batch, after)
            if not rows:
                break
            after = (rows[-1].sweep_at, rows[-1].id)
            if directory is None:
                directory = await repo.directory()
            plans = [(r, plan_ticket(_facts(r), now, config)) for r in rows]
            needs_people = {r.project_id for r, p in plans
                            if any(s.step in (Step.REASK, Step.CLOSE) for s in p.steps)}
            contacts = await repo.contacts(needs_people)
            out = _Out(now, config, deliver_from)
            updates: list[dict[str, Any]] = []
            for r, plan in plans:
                next_at = plan.next_at
                values: dict[str, Any] = {"id": r.id}
                for due in plan.steps:
                    if due.step == Step.CLOSE:
                        if not await _close_unrated(uow, now, config, r.id):
                            next_at = now + RETRY_LATER
                            continue
                        values = {}
                    if due.step == Step.REASK:
                        values["rating_asks"] = max(2, int(r.rating_asks or 0) + 1)
                    _messages(r, due, directory, contacts, out)
                if values:
                    if next_at is not None and next_at <= now:  # never claim it twice in a row
                        next_at = now + RETRY_LATER
                    values["sweep_at"] = next_at
                    updates.append(values)
            added.extend(await repo.enqueue(out.rows))
            await repo.reschedule(updates)
            await uow.commit()
        if len(rows) < batch:
            break
    return added


# --- weekly bulletin (周通报) ---------------------------------------------------------------------


def _iso_week(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _recipients(d: Directory) -> list[Person]:
    seen: dict[int, Person] = {}
    for p in [*d.admins, *d.leaders]:
        if p.chat_id is not None:
            seen.setdefault(p.id, p)
    return sorted(seen.values(), key=lambda p: p.id)


async def _missing(repo: SweepRepo, prefix: str, people: list[Person]) -> list[Person]:
    keys = {p.id: f"{prefix}:{p.id}" for p in people}
    have = await repo.existing_keys(list(keys.values()))
    return [p for p in people if keys[p.id] not in have]


async def sweep_bulletin(uow_factory: UnitOfWorkFactory, now: datetime, config: DeskConfig, *,
                         deliver_from: datetime | None = None) -> list[str]:
    """Monday 08:30 local (caught up within a day): last week's new / resolved / overdue by
    unit and the most overdue tickets, to admins and leaders. Key ``bulletin:<week>:<account>``,
    the ISO week reported on."""
    tz = config.timezone
    today = local_date(now, tz)
    monday = today - timedelta(days=today.weekday())
    due = at_local(monday, BULLETIN_AT, tz)
    if not due <= now < due + CATCH_UP:
        return []
    start = monday - timedelta(days=7)
    week = _iso_week(start)
    async with uow_factory() as uow:
        repo = SweepRepo(uow.session)
        d = await repo.directory()
        people = await _missing(repo, f"bulletin:{week}", _recipients(d))
        if not people:
            return []
        lo, hi = at_local(start, time(0), tz), at_local(monday, time(0), tz)
        s = uow.session
        t = Ticket
        new = dict((await s.execute(
            select(t.unit_id, func.count()).where(t.created_at >= lo, t.created_at < hi)
            .group_by(t.unit_id))).tuples().all())
        resolved = dict((await s.execute(
            select(t.unit_id, func.count()).where(t.resolved_at >= lo, t.resolved_at < hi,
                                                  t.status.in_(("resolved", "closed")))
            .group_by(t.unit_id))).tuples().all())
        overdue = dict((await s.execute(
            select(t.unit_id, func.count()).where(t.status.in_(OPEN), t.due_at < now)
            .group_by(t.unit_id))).tuples().all())
        worst = (await s.execute(
            select(t.number, t.project_id, t.unit_id, t.due_at)
            .where(t.status.in_(OPEN), t.due_at < now)
            .order_by(t.due_at, t.id).limit(WORST_OVERDUE))).all()
        rows = [
            texts.UnitWeek(name, int(new.get(uid, 0)), int(resolved.get(uid, 0)),
                           int(overdue.get(uid, 0)))
            for uid, (name, _kind) in d.units.items()
        ]
        rows.sort(key=lambda r: (-r.overdue, -r.new, -r.resolved, r.unit))
        worst_lines = [
            texts.OverdueLine(n, d.projects.get(pid, ("?", None))[0], d.unit_name(uid),
                              working_days_overdue(due, now, tz))
            for n, pid, uid, due in worst
        ]
        label = f"{start.isoformat()} 至 {(monday - timedelta(days=1)).isoformat()}"
        payload = outmsg.send(texts.bulletin(label, rows, worst_lines))
        out = _Out(now, config, deliver_from)
        for p in people:
            out.push(f"bulletin:{week}:{p.id}", p, payload, False)
        added = await repo.enqueue(out.rows)
        await uow.commit()
        return added


# --- monthly ranking (月排名) ---------------------------------------------------------------------


async def sweep_ranking(uow_factory: UnitOfWorkFactory, now: datetime, config: DeskConfig, *,
                        deliver_from: datetime | None = None) -> list[str]:
    """On the 1st at 08:30 local (caught up within a day): last month's ranking of units, to
    admins and leaders. Key ``ranking:<YYYY-MM>:<account>``, the month ranked.

    The ranking itself is `handlers.stats.monthly_ranking`, the one definition (DESIGN §9): the
    dispatcher unit is not ranked, units below the minimum sample are listed but not ranked, and
    the red and black lists follow the ranked units. The pushed text is the text it returns."""
    tz = config.timezone
    today = local_date(now, tz)
    due = at_local(today.replace(day=1), RANKING_AT, tz)
    if not due <= now < due + CATCH_UP:
        return []
    period = Period.previous_month(today)
    assert period.start is not None
    month = period.start.strftime("%Y-%m")
    async with uow_factory() as uow:
        repo = SweepRepo(uow.session)
        d = await repo.directory()
        people = await _missing(repo, f"ranking:{month}", _recipients(d))
        if not people:
            return []
        text, _ranking = await monthly_ranking(uow, now, tz, period=period)
        payload = outmsg.send(text)
        out = _Out(now, config, deliver_from)
        for p in people:
            out.push(f"ranking:{month}:{p.id}", p, payload, False)
        added = await repo.enqueue(out.rows)
        await uow.commit()
        return added


# --- all of them ---------------------------------------------------------------------------------


def kind_of(key: str) -> str:
    """The report group of an idempotency key (`remind:7:overdue:…` → `overdue`)."""
    parts = key.split(":")
    if parts[0] in ("remind", "escalate") and len(parts) > 2:
        return parts[2]
    return parts[0]


async def run_all_sweeps(uow_factory: UnitOfWorkFactory, now: datetime, config: DeskConfig, *,
                         deliver_from: datetime | None = None,
                         projects: bool = True) -> dict[str, list[str]]:
    """Every sweep once as of `now`; the keys each kind of message added, by kind (KINDS).

    A failing sweep does not stop the others; the first failure is raised after all have run.
    """
    if now.tzinfo is None:
        raise ValueError("run_all_sweeps needs an aware datetime")
    result: dict[str, list[str]] = {k: [] for k in KINDS}
    failure: BaseException | None = None
    from handlers.progress_sweeps import sweep_project_colours, sweep_report_reminders

    sweeps: list[tuple[str, Any]] = [("tickets", sweep_tickets), ("bulletin", sweep_bulletin),
                                     ("ranking", sweep_ranking)]
    if projects:  # four-colour status and monthly reporting reminders (issue 6)
        sweeps += [("colours", sweep_project_colours),
                   ("progress reminders", sweep_report_reminders)]
    for name, sweep in sweeps:
        try:
            keys = await sweep(uow_factory, now, config, deliver_from=deliver_from)
        except Exception as exc:
            if may_be_outage(exc):  # the next run after the outage does the work
                log.warning("sweep %s at %s: the database cannot be reached (%s)", name,
                            now.isoformat(), exc.__class__.__name__)
            else:
                log.exception("sweep %s failed at %s", name, now.isoformat())
            failure = failure or exc
            continue
        for key in keys:
            result.setdefault(kind_of(key), []).append(key)
    if failure is not None:
        raise failure
    return result
