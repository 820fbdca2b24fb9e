"""Loading the organisation file into the database (`zhitong org load`).

An idempotent upsert by stable keys — unit code, category code, person id (accounts.person_key),
project code. Only values that differ are written, so loading the same file twice changes
nothing at all (no row ids, no timestamps). An edited file updates rows in place and never
touches tickets:

- units missing from the file are kept (tickets and accounts point at them); if one of them was
  the dispatcher, it is demoted, because the file names exactly one dispatcher;
- categories missing from the file are deleted (tickets keep their category code as text);
- people missing from the file are deactivated (active=False), never deleted;
- projects missing from the file are kept as they are; a project seen for the first time gets a
  ``loaded`` ProjectEvent stamped with the load time: the day it entered the desk, from which
  its first-report grace period counts (domain.progress, ZHITONG_PROGRESS_GRACE_DAYS);
- a project's contacts become the file's list; contacts who joined through an invite (no person
  id) stay;
- a telegram_id in the file binds that account; a person without one keeps any binding they
  already have. An account that joined by invite with that Telegram id is adopted as the person.

The caller owns the transaction (DESIGN §12.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from storage.models import Account, Category, Project, ProjectContact, ProjectEvent, Unit
from storage.orgfile import OrgFileError, OrgSpec
from storage.uow import UnitOfWork

# The ProjectEvent action that records when a project entered the desk.
PROJECT_LOADED = "loaded"


@dataclass
class KindSummary:
    """What happened to one kind of record."""

    total: int = 0  # in the file
    created: int = 0
    updated: int = 0
    removed: int = 0  # people deactivated, categories deleted, dispatchers demoted

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


@dataclass
class LoadSummary:
    county: str | None = None
    units: KindSummary = field(default_factory=KindSummary)
    categories: KindSummary = field(default_factory=KindSummary)
    people: KindSummary = field(default_factory=KindSummary)
    projects: KindSummary = field(default_factory=KindSummary)
    contacts_added: int = 0
    contacts_removed: int = 0
    telegram_bound: int = 0

    @property
    def changed(self) -> bool:
        return (
            any(k.changed for k in (self.units, self.categories, self.people, self.projects))
            or bool(self.contacts_added or self.contacts_removed or self.telegram_bound)
        )


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ; True when something changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def do_load_org(uow: UnitOfWork, spec: OrgSpec, now: datetime) -> LoadSummary:
    """Upsert the organisation of `spec`; raises OrgFileError on a clash with the database."""
    s = uow.session
    summary = LoadSummary(county=spec.county)

    # --- read everything first, so a clash is reported before anything is written ---------
    units = {u.code: u for u in (await s.execute(select(Unit).order_by(Unit.id))).scalars()}
    accounts = list((await s.execute(select(Account).order_by(Account.id))).scalars())
    by_key = {a.person_key: a for a in accounts if a.person_key is not None}
    by_telegram = {a.telegram_id: a for a in accounts if a.telegram_id is not None}

    adopt: dict[str, Account] = {}
    release: list[Account] = []
    clashes: list[str] = []
    for i, person in enumerate(spec.people):
        if person.telegram_id is None:
            continue
        holder = by_telegram.get(person.telegram_id)
        if holder is None or holder.person_key == person.id:
            continue
        if holder.person_key is None and person.id not in by_key:
            adopt[person.id] = holder  # joined by invite before the file named them
        elif holder.person_key is None:
            clashes.append(
                f"people[{i}].telegram_id: {person.telegram_id} 已被数据库中通过邀请加入的账号"
                f"「{holder.name}」使用,而人员 \"{person.id}\" 已有另一个账号;"
                "请先核对是否为同一人"
            )
        else:
            release.append(holder)  # another person of the file had it before
    if clashes:
        raise OrgFileError(clashes)

    # --- units ----------------------------------------------------------------------------
    summary.units.total = len(spec.units)
    for u in spec.units:
        row = units.get(u.code)
        if row is None:
            row = Unit(code=u.code, name=u.name, kind=u.kind)
            s.add(row)
            units[u.code] = row
            summary.units.created += 1
        elif _assign(row, {"name": u.name, "kind": u.kind}):
            summary.units.updated += 1
    file_units = {u.code for u in spec.units}
    for code, row in units.items():
        if code not in file_units and row.kind == "dispatcher":
            row.kind = "department"
            summary.units.removed += 1
    await s.flush()

    # --- categories -----------------------------------------------------------------------
    categories = {
        c.code: c for c in (await s.execute(select(Category).order_by(Category.id))).scalars()
    }
    summary.categories.total = len(spec.categories)
    for position, c in enumerate(spec.categories):
        values = {"name": c.name, "unit_id": units[c.unit].id, "days": c.days,
                  "keywords": list(c.keywords), "position": position}
        cat = categories.get(c.code)
        if cat is None:
            s.add(Category(code=c.code, **values))
            summary.categories.created += 1
        elif _assign(cat, values):
            summary.categories.updated += 1
    file_categories = {c.code for c in spec.categories}
    for code, cat in categories.items():
        if code not in file_categories:
            await s.delete(cat)
            summary.categories.removed += 1
    await s.flush()

    # --- people ---------------------------------------------------------------------------
    for key, account in adopt.items():
        account.person_key = key
        by_key[key] = account
    if release:
        for account in release:
            account.telegram_id = None
        await s.flush()  # free the ids before they are given to their new owners
    summary.people.total = len(spec.people)
    file_people = {p.id for p in spec.people}
    for p in spec.people:
        person_values: dict[str, Any] = {
            "name": p.name,
            "roles": list(p.roles),
            "unit_id": units[p.unit].id if p.unit else None,
            "phone": p.phone,
            "active": True,
        }
        if p.telegram_id is not None:
            person_values["telegram_id"] = p.telegram_id
        existing = by_key.get(p.id)
        if existing is None:
            created = Account(person_key=p.id, created_at=now, **person_values)
            s.add(created)
            by_key[p.id] = created
            summary.people.created += 1
            if p.telegram_id is not None:
                summary.telegram_bound += 1
            continue
        if p.telegram_id is not None and existing.telegram_id != p.telegram_id:
            summary.telegram_bound += 1
        if _assign(existing, person_values) or p.id in adopt:
            summary.people.updated += 1
    for key, keyed in by_key.items():
        if key not in file_people and keyed.active:
            keyed.active = False
            summary.people.removed += 1
    await s.flush()

    # --- projects -------------------------------------------------------------------------
    projects = {
        p.code: p for p in (await s.execute(select(Project).order_by(Project.id))).scalars()
    }
    summary.projects.total = len(spec.projects)
    new_projects: list[Project] = []
    for pr in spec.projects:
        values = {
            "name": pr.name,
            "level": pr.level,
            "stage": pr.stage,
            "lead_unit_id": units[pr.lead_unit].id if pr.lead_unit else None,
            "leader_id": by_key[pr.leader].id if pr.leader else None,
            "service_officer_id": by_key[pr.service_officer].id if pr.service_officer else None,
            "total_investment_wan": pr.total_investment_wan,
            "annual_plan_wan": pr.annual_plan_wan,
            "planned_start": pr.planned_start,
            "planned_finish": pr.planned_finish,
            "routing": dict(pr.routing),
        }
        project = projects.get(pr.code)
        if project is None:
            project = Project(code=pr.code, **values)
            s.add(project)
            projects[pr.code] = project
            new_projects.append(project)
            summary.projects.created += 1
        elif _assign(project, values):
            summary.projects.updated += 1
    await s.flush()
    for project in new_projects:
        s.add(ProjectEvent(project_id=project.id, actor_id=None, action=PROJECT_LOADED,
                           from_value=None, to_value=None, note=None, data={}, created_at=now))

    # --- contacts: the file's list for people of the file; invited contacts stay ----------
    managed = {a.id for a in by_key.values()}
    for pr in spec.projects:
        project = projects[pr.code]
        want = {by_key[pid].id for pid in pr.contacts}
        have = await _contact_ids(uow, project.id)
        for account_id in sorted(want - have):
            s.add(ProjectContact(project_id=project.id, account_id=account_id))
            summary.contacts_added += 1
        for account_id in sorted((have & managed) - want):
            link = await s.get(ProjectContact, (project.id, account_id))
            if link is not None:
                await s.delete(link)
                summary.contacts_removed += 1
    await s.flush()
    uow.org.forget()  # categories and the dispatcher may have changed
    return summary


async def _contact_ids(uow: UnitOfWork, project_id: int) -> set[int]:
    rows = await uow.session.execute(
        select(ProjectContact.account_id).where(ProjectContact.project_id == project_id)
    )
    return set(rows.scalars())


# --- reading it back (`zhitong org show`) ------------------------------------------------------


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    kind: str
    people: int


@dataclass(frozen=True)
class PersonRow:
    key: str | None
    name: str
    roles: tuple[str, ...]
    unit: str | None
    telegram_bound: bool
    phone: str | None  # masked
    active: bool


@dataclass(frozen=True)
class ProjectRow:
    code: str
    name: str
    level: str | None
    stage: str | None
    lead_unit: str | None
    leader: str | None
    service_officer: str | None
    annual_plan_wan: float | None
    planned_start: date | None
    planned_finish: date | None
    contacts: tuple[str, ...]
    routing: dict[str, str]


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    unit: str
    days: int


@dataclass(frozen=True)
class OrgOverview:
    units: Sequence[UnitRow]
    categories: Sequence[CategoryRow]
    people: Sequence[PersonRow]
    projects: Sequence[ProjectRow]


def mask_phone(phone: str | None) -> str | None:
    """138****1111: phone numbers are masked in lists (DESIGN §10)."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 3) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


async def org_overview(uow: UnitOfWork) -> OrgOverview:
    s = uow.session
    units = list(await uow.org.units())
    unit_code = {u.id: u.code for u in units}
    accounts = list((await s.execute(select(Account).order_by(Account.id))).scalars())
    account_name = {a.id: a.name for a in accounts}
    per_unit: dict[int, int] = {}
    for a in accounts:
        if a.unit_id is not None and a.active:
            per_unit[a.unit_id] = per_unit.get(a.unit_id, 0) + 1
    contacts: dict[int, list[str]] = {}
    for pc in (await s.execute(
        select(ProjectContact).order_by(ProjectContact.project_id, ProjectContact.account_id)
    )).scalars():
        contacts.setdefault(pc.project_id, []).append(account_name.get(pc.account_id, "?"))

    def name_of(account_id: int | None) -> str | None:
        return account_name.get(account_id) if account_id is not None else None

    return OrgOverview(
        units=[UnitRow(u.code, u.name, u.kind, per_unit.get(u.id, 0)) for u in units],
        categories=[
            CategoryRow(c.code, c.name, unit_code.get(c.unit_id, "?"), c.days)
            for c in await uow.org.categories()
        ],
        people=[
            PersonRow(
                key=a.person_key, name=a.name, roles=tuple(a.roles or []),
                unit=unit_code.get(a.unit_id) if a.unit_id is not None else None,
                telegram_bound=a.telegram_id is not None, phone=mask_phone(a.phone),
                active=a.active,
            )
            for a in accounts
        ],
        projects=[
            ProjectRow(
                code=p.code, name=p.name, level=p.level, stage=p.stage,
                lead_unit=unit_code.get(p.lead_unit_id) if p.lead_unit_id is not None else None,
                leader=name_of(p.leader_id), service_officer=name_of(p.service_officer_id),
                annual_plan_wan=p.annual_plan_wan, planned_start=p.planned_start,
                planned_finish=p.planned_finish, contacts=tuple(contacts.get(p.id, [])),
                routing={str(k): str(v) for k, v in (p.routing or {}).items()},
            )
            for p in await uow.org.projects()
        ],
    )
