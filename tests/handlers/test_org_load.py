"""Loading the organisation: idempotent upsert by stable keys, edits in place, tickets untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.clock import FrozenClock
from handlers.config import DeskConfig
from handlers.org import do_load_org, mask_phone, org_overview
from storage.models import Account, Category, Project, ProjectContact, Unit
from storage.orgfile import OrgFileError, load_org_file, parse_org
from tests.conftest import ORG_EXAMPLE
from tests.factories import (
    ORG_OTHER,
    dump_tables,
    load_example_org,
    load_org,
    submit,
)


def example_text() -> str:
    return ORG_EXAMPLE.read_text(encoding="utf-8")


def edited(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


async def rows(uow_factory: Any, model: Any) -> dict[str, Any]:
    key = {Unit: Unit.code, Category: Category.code, Account: Account.person_key,
           Project: Project.code}[model]
    async with uow_factory() as uow:
        found = (await uow.session.execute(select(model))).scalars().all()
        uow.session.expunge_all()  # plain objects after the unit of work ends
        return {getattr(r, key.key): r for r in found}


async def contacts(uow_factory: Any, code: str) -> set[str | None]:
    async with uow_factory() as uow:
        q = (select(Account.person_key)
             .join(ProjectContact, ProjectContact.account_id == Account.id)
             .join(Project, Project.id == ProjectContact.project_id)
             .where(Project.code == code))
        return set((await uow.session.execute(q)).scalars())


# --- first load ---------------------------------------------------------------------------------


async def test_example_loads_everything(uow_factory: Any, clock: FrozenClock) -> None:
    summary = await load_example_org(uow_factory, clock.now())
    assert (summary.units.created, summary.categories.created, summary.people.created,
            summary.projects.created) == (12, 11, 16, 3)
    assert summary.changed and summary.contacts_added == 2 and summary.telegram_bound == 16
    assert summary.county == "示范县"

    units = await rows(uow_factory, Unit)
    assert units["zdb"].kind == "dispatcher" and units["gdgs"].kind == "utility"
    assert units["fgw"].kind == "department" and units["cgz"].kind == "township"
    categories = await rows(uow_factory, Category)
    assert [c for c, _ in sorted(categories.items(), key=lambda kv: kv[1].position)] == [
        "land", "demolition", "approval", "finance", "utilities", "policy", "labor", "site",
        "logistics", "environment", "other"]
    assert categories["land"].unit_id == units["zrzyj"].id and categories["land"].days == 15
    people = await rows(uow_factory, Account)
    zhao = people["zhao"]
    assert (zhao.name, zhao.telegram_id, zhao.roles, zhao.unit_id, zhao.active) == (
        "赵主任", 900001, ["admin", "official"], units["zdb"].id, True)
    assert zhao.created_at == clock.now()
    assert people["li"].unit_id is None and people["han"].phone == "13800001111"
    projects = await rows(uow_factory, Project)
    p1 = projects["P2026-001"]
    assert p1.lead_unit_id == units["fgw"].id
    assert p1.leader_id == people["li"].id and p1.service_officer_id == people["feng"].id
    assert (p1.total_investment_wan, p1.annual_plan_wan) == (500000, 120000)
    assert str(p1.planned_start) == "2026-03-01" and str(p1.planned_finish) == "2027-12-31"
    assert projects["P2026-002"].routing == {"site": "cgz"}
    assert await contacts(uow_factory, "P2026-001") == {"han"}
    assert await contacts(uow_factory, "P2026-003") == set()
    async with uow_factory() as uow:
        dispatcher = await uow.org.dispatcher()
        assert dispatcher is not None and dispatcher.code == "zdb"


async def test_reloading_the_same_file_changes_nothing(
    uow_factory: Any, database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    await load_example_org(uow_factory, clock.now())
    await submit(uow_factory, clock.now(), config)
    before = await dump_tables(database_url)
    clock.advance(days=3)
    summary = await load_example_org(uow_factory, clock.now())
    assert not summary.changed
    assert (summary.units.total, summary.people.total) == (12, 16)
    assert await dump_tables(database_url) == before


@pytest.mark.parametrize("path", [ORG_EXAMPLE, ORG_OTHER], ids=["example", "other"])
async def test_each_file_twice_leaves_identical_contents(
    uow_factory: Any, database_url: str, clock: FrozenClock, path: Path
) -> None:
    await load_org(uow_factory, path, clock.now())
    first = await dump_tables(database_url)
    clock.advance(hours=1)
    assert not (await load_org(uow_factory, path, clock.now())).changed
    assert await dump_tables(database_url) == first


async def test_other_organisation_replaces_the_example_and_back(
    uow_factory: Any, database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    """Example twice, other twice, example twice: each second load is a no-op."""
    await load_example_org(uow_factory, clock.now())
    ticket = await submit(uow_factory, clock.now(), config)
    async with uow_factory() as uow:
        before_ticket = await uow.tickets.get(ticket.id)
        uow.session.expunge_all()
    for path in (ORG_OTHER, ORG_EXAMPLE):
        clock.advance(hours=1)
        await load_org(uow_factory, path, clock.now())
        snapshot = await dump_tables(database_url)
        clock.advance(hours=1)
        assert not (await load_org(uow_factory, path, clock.now())).changed
        assert await dump_tables(database_url) == snapshot
        if path == ORG_OTHER:
            people = await rows(uow_factory, Account)
            # zhao left the file: deactivated, and his Telegram id went to the other file's boss.
            assert people["zhao"].active is False and people["zhao"].telegram_id is None
            assert people["boss"].telegram_id == 900001 and people["boss"].active
            async with uow_factory() as uow:
                dispatcher = await uow.org.dispatcher()
                assert dispatcher is not None and dispatcher.code == "xmb"
                units = {u.code: u for u in await uow.org.units()}
                assert units["zdb"].kind == "department"  # demoted: one dispatcher only
                assert [c.code for c in await uow.org.categories()][:2] == ["approval", "land"]
                land = await uow.org.category("land")
                assert land is not None and land.unit_id == units["gtfj"].id
    people = await rows(uow_factory, Account)
    assert people["zhao"].active and people["zhao"].telegram_id == 900001
    assert people["boss"].active is False and people["boss"].telegram_id is None
    async with uow_factory() as uow:
        after = await uow.tickets.get(ticket.id)
        assert after is not None and before_ticket is not None
        assert (after.number, after.unit_id, after.status, after.category_code) == (
            before_ticket.number, before_ticket.unit_id, before_ticket.status,
            before_ticket.category_code)


# --- an edited file -------------------------------------------------------------------------------


async def test_edited_file_updates_in_place_without_touching_tickets(
    uow_factory: Any, database_url: str, clock: FrozenClock, config: DeskConfig
) -> None:
    await load_example_org(uow_factory, clock.now())
    ticket = await submit(uow_factory, clock.now(), config)
    ids_before = {
        "units": {c: u.id for c, u in (await rows(uow_factory, Unit)).items()},
        "people": {k: a.id for k, a in (await rows(uow_factory, Account)).items()},
        "projects": {c: p.id for c, p in (await rows(uow_factory, Project)).items()},
    }
    tickets_before = {k: v for k, v in (await dump_tables(database_url)).items()
                      if k in ("tickets", "ticket_events", "outbox", "ticket_counters")}

    text = edited(
        example_text(),
        ("{code: fgw,   name: 县发展和改革委员会}", "{code: fgw,   name: 县发展和改革局}"),  # renamed
        ("roles: [official], unit: zrzyj}", "roles: [official], unit: zsb}"),  # qian moved
        ("{id: wu,    name: 吴科长,   telegram_id: 900013, roles: [official]",
         "{id: wu,    name: 吴科长,   telegram_id: 900013, roles: [official, leader]"),
        ("  - {id: chu,   name: 褚科长,   telegram_id: 900018, roles: [official], unit: rsj}\n", ""),
        ("{code: land,        name: 用地保障,     unit: zrzyj, days: 15}\n  - "
         "{code: demolition,  name: 征地拆迁,     unit: zsb,   days: 15}",
         "{code: demolition,  name: 征地拆迁,     unit: zsb,   days: 15}\n  - "
         "{code: land,        name: 用地保障,     unit: zrzyj, days: 20}"),
        ("      site: cgz", "      site: gaj\n      land: cgz"),  # changed routing
        ("    contacts: [han]", "    contacts: [yang]"),  # contacts replaced
    ) + (
        "  - code: P2026-004\n    name: 新建光伏储能项目\n    level: 县重点\n"
        "    stage: signed\n    lead_unit: fgw\n    leader: sun\n    contacts: [han]\n"
    )
    clock.advance(days=1)
    summary = await load_org(uow_factory, parse_org(text), clock.now())
    assert summary.units.updated == 1 and summary.units.created == 0
    assert summary.people.updated == 2 and summary.people.removed == 1
    assert summary.projects.created == 1 and summary.projects.updated == 1
    assert summary.categories.updated == 2  # land (days, position), demolition (position)
    assert (summary.contacts_added, summary.contacts_removed) == (2, 1)

    units = await rows(uow_factory, Unit)
    people = await rows(uow_factory, Account)
    projects = await rows(uow_factory, Project)
    categories = await rows(uow_factory, Category)
    assert units["fgw"].name == "县发展和改革局"
    assert people["qian"].unit_id == units["zsb"].id
    assert people["wu"].roles == ["official", "leader"]
    assert people["chu"].active is False  # removed from the file: kept, deactivated
    assert people["chu"].created_at != clock.now()
    assert projects["P2026-002"].routing == {"site": "gaj", "land": "cgz"}
    assert projects["P2026-004"].leader_id == people["sun"].id
    assert categories["demolition"].position == 0 and categories["land"].position == 1
    assert categories["land"].days == 20
    assert await contacts(uow_factory, "P2026-001") == {"yang"}
    assert await contacts(uow_factory, "P2026-004") == {"han"}
    # Same rows, same ids: updated in place.
    assert {c: u.id for c, u in units.items()} == ids_before["units"]
    assert {k: a.id for k, a in people.items()} == ids_before["people"]
    assert {c: p.id for c, p in projects.items() if c in ids_before["projects"]} == ids_before["projects"]
    # Tickets, their audit and their messages are untouched.
    after = await dump_tables(database_url)
    assert {k: after[k] for k in tickets_before} == tickets_before
    async with uow_factory() as uow:
        t = await uow.tickets.get(ticket.id)
        assert t is not None and t.unit_id == units["zrzyj"].id
    # And the edited file is now the steady state.
    snapshot = await dump_tables(database_url)
    assert not (await load_org(uow_factory, parse_org(text), clock.now())).changed
    assert await dump_tables(database_url) == snapshot


async def test_person_back_in_the_file_is_reactivated(
    uow_factory: Any, clock: FrozenClock
) -> None:
    await load_example_org(uow_factory, clock.now())
    without = edited(example_text(), ("  - {id: jiang, name: 蒋科长,   telegram_id: 900020, "
                                      "roles: [official], unit: sthjj}\n", ""))
    await load_org(uow_factory, parse_org(without), clock.now())
    assert (await rows(uow_factory, Account))["jiang"].active is False
    summary = await load_example_org(uow_factory, clock.now())
    assert summary.people.updated == 1
    assert (await rows(uow_factory, Account))["jiang"].active is True


async def test_removed_category_is_deleted_and_swapped_telegram_ids_rebind(
    uow_factory: Any, clock: FrozenClock
) -> None:
    await load_example_org(uow_factory, clock.now())
    text = edited(
        example_text(),
        ("  - {code: logistics,   name: 交通物流,     unit: jtj,   days: 7}\n", ""),
        ("telegram_id: 900011, roles: [official], unit: zrzyj", "telegram_id: 900012, roles: [official], unit: zrzyj"),
        ("telegram_id: 900012, roles: [official], unit: gdgs", "telegram_id: 900011, roles: [official], unit: gdgs"),
    )
    summary = await load_org(uow_factory, parse_org(text), clock.now())
    assert summary.categories.removed == 1 and summary.telegram_bound == 2
    assert "logistics" not in await rows(uow_factory, Category)
    people = await rows(uow_factory, Account)
    assert (people["qian"].telegram_id, people["zhou"].telegram_id) == (900012, 900011)
    positions = sorted(c.position for c in (await rows(uow_factory, Category)).values())
    assert positions == list(range(10))


async def test_invited_contacts_stay_and_invited_account_is_adopted(
    uow_factory: Any, clock: FrozenClock
) -> None:
    # Someone joined by invite before the office put them in the file.
    async with uow_factory() as uow:
        early = Account(name="杨总(邀请)", telegram_id=800002, roles=["enterprise"],
                        created_at=clock.now() - timedelta(days=1))
        stranger = Account(name="新联系人", telegram_id=812345, roles=["enterprise"],
                           created_at=clock.now() - timedelta(days=1))
        uow.session.add_all([early, stranger])
        await uow.commit()
    await load_example_org(uow_factory, clock.now())
    people = await rows(uow_factory, Account)
    assert people["yang"].id == early.id  # adopted: same account, now keyed "yang"
    assert people["yang"].name == "杨总" and people["yang"].created_at < clock.now()
    async with uow_factory() as uow:
        p3 = await uow.org.project_by_code("P2026-003")
        assert p3 is not None
        await uow.org.add_contact(p3.id, stranger.id)  # joined P2026-003 through an invite
        await uow.commit()
    summary = await load_example_org(uow_factory, clock.now())
    assert not summary.changed
    assert await contacts(uow_factory, "P2026-003") == {None}  # the invited contact stays
    async with uow_factory() as uow:
        total = len((await uow.session.execute(select(Account))).scalars().all())
    assert total == 17


async def test_clash_with_an_invited_account_is_refused_and_changes_nothing(
    uow_factory: Any, database_url: str, clock: FrozenClock
) -> None:
    await load_example_org(uow_factory, clock.now())
    async with uow_factory() as uow:
        uow.session.add(Account(name="陌生人", telegram_id=812345, roles=["enterprise"],
                                created_at=clock.now()))
        await uow.commit()
    before = await dump_tables(database_url)
    text = edited(example_text(), ("telegram_id: 800001", "telegram_id: 812345"))
    with pytest.raises(OrgFileError) as info:
        async with uow_factory() as uow:
            await do_load_org(uow, parse_org(text), clock.now())
            await uow.commit()
    (problem,) = info.value.problems
    assert problem.startswith("people[14].telegram_id: 812345 已被数据库中通过邀请加入的账号「陌生人」使用")
    assert await dump_tables(database_url) == before


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("lead_unit: jtj", "lead_unit: jtjx", 'projects[2].lead_unit: 未知的单位编号 "jtjx"'),
    ("roles: [leader]}", "roles: [boss]}", 'people[1].roles[0]: 未知的角色 "boss"'),
    ("planned_start: 2026-05-01", "planned_start: 2026-5-1x", 'projects[1].planned_start: 无效的日期'),
])
async def test_broken_file_is_refused_before_the_database_is_touched(
    uow_factory: Any, database_url: str, clock: FrozenClock, tmp_path: Path,
    old: str, new: str, expected: str,
) -> None:
    await load_example_org(uow_factory, clock.now())
    before = await dump_tables(database_url)
    path = tmp_path / "broken.yaml"
    path.write_text(edited(example_text(), (old, new)), encoding="utf-8")
    with pytest.raises(OrgFileError) as info:
        await load_org(uow_factory, path, clock.now())
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert await dump_tables(database_url) == before


async def test_load_without_commit_leaves_nothing(
    uow_factory: Any, database_url: str, clock: FrozenClock
) -> None:
    before = await dump_tables(database_url)
    async with uow_factory() as uow:
        await do_load_org(uow, load_org_file(ORG_EXAMPLE), clock.now())
    assert await dump_tables(database_url) == before


async def test_overview_reads_it_back_with_masked_phones(
    uow_factory: Any, clock: FrozenClock
) -> None:
    await load_example_org(uow_factory, clock.now())
    async with uow_factory() as uow:
        ov = await org_overview(uow)
    assert ov.units[0].code == "zdb" and ov.units[0].people == 1
    han = next(p for p in ov.people if p.key == "han")
    assert han.phone == "138****1111" and han.telegram_bound
    p1 = next(p for p in ov.projects if p.code == "P2026-001")
    assert (p1.lead_unit, p1.leader, p1.service_officer, p1.contacts) == (
        "fgw", "李副县长", "冯科长", ("韩经理",))
    assert ov.categories[0].code == "land" and ov.categories[0].unit == "zrzyj"


def test_mask_phone() -> None:
    assert mask_phone("13800001111") == "138****1111"
    assert mask_phone(None) is None
    assert mask_phone("1234") == "****"
    assert "1234567" not in (mask_phone("0371-1234567") or "")


def test_summary_counts_are_stable_types() -> None:
    # Cheap guard for the CLI: the summary is plain data.
    from handlers.org import LoadSummary

    s = LoadSummary()
    assert not s.changed
    s.people.removed = 1
    assert s.changed
