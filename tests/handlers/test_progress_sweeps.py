"""The daily colour sweep (stored, audited, 提醒函 once per change) and the monthly reminders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from domain.clock import FrozenClock
from domain.progress import ColourRules
from domain.texts import reason_first_report_grace
from handlers.config import DeskConfig
from handlers.progress_sweeps import sweep_project_colours, sweep_report_reminders
from storage.models import OutboxMessage, ProgressReport, Project, ProjectEvent
from tests.factories import account, load_example_org, project, submit

# 2026-11-24 09:00 Beijing (the shared clock fixture).
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
# The organisation was loaded two months earlier: the first-report grace period is over.
LOADED = NOW - timedelta(days=60)


async def add_report(uow_factory: Any, code: str, amount: float | None, at: datetime,
                     period: str | None = None, by: str = "han") -> None:
    async with uow_factory() as uow:
        p = await project(uow, code)
        who = await account(uow, by)
        uow.progress.add(ProgressReport(
            project_id=p.id, reporter_id=who.id, text="本月完成投资", amount_wan=amount,
            milestone=None, period=period or at.astimezone(DeskConfig().timezone).strftime("%Y-%m"),
            photos=[], created_at=at))
        await uow.commit()


async def outbox(uow_factory: Any, prefix: str) -> list[OutboxMessage]:
    async with uow_factory() as uow:
        rows = [r for r in await uow.outbox.all() if r.idem_key.startswith(prefix)]
        uow.session.expunge_all()
        return rows


async def colour_events(uow_factory: Any) -> list[tuple[str, str | None, str | None]]:
    async with uow_factory() as uow:
        q = (select(Project.code, ProjectEvent.from_value, ProjectEvent.to_value)
             .join(Project, Project.id == ProjectEvent.project_id)
             .where(ProjectEvent.action == "colour").order_by(ProjectEvent.id))
        return [tuple(r) for r in (await uow.session.execute(q)).all()]


async def stored_colour(uow_factory: Any, code: str) -> tuple[str | None, datetime | None]:
    async with uow_factory() as uow:
        p = await project(uow, code)
        return p.colour, p.colour_changed_at


async def ids(uow_factory: Any, *keys: str) -> list[int]:
    async with uow_factory() as uow:
        return [(await account(uow, k)).id for k in keys]


async def test_letters_go_once_to_lead_unit_and_leader(uow_factory: Any, clock: FrozenClock,
                                                       config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    keys = await sweep_project_colours(uow_factory, NOW, config)
    feng, li, wei = await ids(uow_factory, "feng", "li", "wei")
    # Nobody ever reported: every project has been silent since its planned start → black.
    assert sorted(keys) == sorted([
        f"colour:P2026-001:black:2026-11-24:{feng}", f"colour:P2026-001:black:2026-11-24:{li}",
        f"colour:P2026-002:black:2026-11-24:{feng}",  # 孙副县长 has a Telegram id too
        f"colour:P2026-002:black:2026-11-24:{(await ids(uow_factory, 'sun'))[0]}",
        f"colour:P2026-003:black:2026-11-24:{wei}", f"colour:P2026-003:black:2026-11-24:{li}",
    ])
    letters = await outbox(uow_factory, "colour:")
    assert len(letters) == 6
    first = next(r for r in letters if r.idem_key == f"colour:P2026-001:black:2026-11-24:{li}")
    assert first.chat_id == 900002
    assert "提醒函" in first.payload["text"] and "豫东智能家居产业园" in first.payload["text"]
    assert "黑色" in first.payload["text"] and "分包" in first.payload["text"]
    assert await colour_events(uow_factory) == [
        ("P2026-001", None, "black"), ("P2026-002", None, "black"), ("P2026-003", None, "black")]

    # The second sweep (same day, or the next) changes nothing and sends nothing.
    assert await sweep_project_colours(uow_factory, NOW, config) == []
    assert await sweep_project_colours(uow_factory, NOW + timedelta(days=1), config) == []
    assert len(await outbox(uow_factory, "colour:")) == 6
    assert len(await colour_events(uow_factory)) == 3


async def test_no_letter_in_the_first_report_grace_period_then_one(
        uow_factory: Any, clock: FrozenClock, config: DeskConfig) -> None:
    # A fresh deployment: the organisation is loaded now and nobody has reported yet.
    await load_example_org(uow_factory, NOW)
    assert config.progress_grace_days == 28
    assert await sweep_project_colours(uow_factory, NOW, config) == []
    assert await outbox(uow_factory, "colour:") == []
    assert await colour_events(uow_factory) == [
        ("P2026-001", None, "yellow"), ("P2026-002", None, "yellow"),
        ("P2026-003", None, "yellow")]
    async with uow_factory() as uow:
        p = await project(uow, "P2026-001")
        ev = (await uow.session.execute(select(ProjectEvent).where(
            ProjectEvent.project_id == p.id, ProjectEvent.action == "colour"))).scalars().one()
        # Loaded on 24 Nov: 28 days of grace, the last one 21 Dec.
        assert ev.note == reason_first_report_grace(date(2026, 12, 21))

    # The grace period's last day: still nothing.
    assert await sweep_project_colours(uow_factory, NOW + timedelta(days=27), config) == []
    assert await outbox(uow_factory, "colour:") == []

    # 28 days after loading: silent since the planned start → black, one 提醒函 each.
    after = NOW + timedelta(days=28)
    keys = await sweep_project_colours(uow_factory, after, config)
    feng, li, wei, sun = await ids(uow_factory, "feng", "li", "wei", "sun")
    assert sorted(keys) == sorted([
        f"colour:P2026-001:black:2026-12-22:{feng}", f"colour:P2026-001:black:2026-12-22:{li}",
        f"colour:P2026-002:black:2026-12-22:{feng}", f"colour:P2026-002:black:2026-12-22:{sun}",
        f"colour:P2026-003:black:2026-12-22:{wei}", f"colour:P2026-003:black:2026-12-22:{li}",
    ])
    assert await sweep_project_colours(uow_factory, after + timedelta(hours=1), config) == []
    assert await sweep_project_colours(uow_factory, after + timedelta(days=1), config) == []
    assert len(await outbox(uow_factory, "colour:")) == 6


async def test_a_project_that_reported_in_its_grace_period_is_judged_at_once(
        uow_factory: Any, clock: FrozenClock, config: DeskConfig) -> None:
    await load_example_org(uow_factory, NOW)
    # P2026-001 reports a small amount: far behind the plan, so black despite being new.
    await add_report(uow_factory, "P2026-001", 100, NOW)
    feng, li = await ids(uow_factory, "feng", "li")
    assert sorted(await sweep_project_colours(uow_factory, NOW, config)) == sorted([
        f"colour:P2026-001:black:2026-11-24:{feng}", f"colour:P2026-001:black:2026-11-24:{li}"])


async def test_grace_days_come_from_the_config(uow_factory: Any, clock: FrozenClock,
                                               config: DeskConfig) -> None:
    await load_example_org(uow_factory, NOW)
    week = replace(config, progress_grace_days=7)
    assert await sweep_project_colours(uow_factory, NOW + timedelta(days=6), week) == []
    assert len(await sweep_project_colours(uow_factory, NOW + timedelta(days=7), week)) == 6


async def test_loading_the_file_again_does_not_restart_the_grace(
        uow_factory: Any, clock: FrozenClock, config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    await load_example_org(uow_factory, NOW)  # the same file, two months later
    assert len(await sweep_project_colours(uow_factory, NOW, config)) == 6


async def test_colour_changes_are_stored_and_audited(uow_factory: Any, clock: FrozenClock,
                                                     config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    await sweep_project_colours(uow_factory, NOW, config)
    # P2026-001 reports 110000 万元 this year: 91.7% of the plan, ahead of 87.9% elapsed.
    await add_report(uow_factory, "P2026-001", 110000, NOW)
    later = NOW + timedelta(hours=1)
    assert await sweep_project_colours(uow_factory, later, config) == []  # green: no letter
    assert await stored_colour(uow_factory, "P2026-001") == ("green", later)
    assert (await colour_events(uow_factory))[-1] == ("P2026-001", "black", "green")

    # Five weeks without a report: red (4 weeks), a letter for the change.
    dec = NOW + timedelta(weeks=5)
    keys = await sweep_project_colours(uow_factory, dec, config)
    feng, li = await ids(uow_factory, "feng", "li")
    assert sorted(keys) == sorted([f"colour:P2026-001:red:2026-12-29:{feng}",
                                   f"colour:P2026-001:red:2026-12-29:{li}"])
    assert (await colour_events(uow_factory))[-1] == ("P2026-001", "green", "red")
    async with uow_factory() as uow:
        p = await project(uow, "P2026-001")
        [ev] = [e for e in (await uow.session.execute(
            select(ProjectEvent).where(ProjectEvent.project_id == p.id,
                                       ProjectEvent.to_value == "red"))).scalars()]
        assert ev.action == "colour" and ev.actor_id is None
        assert "未报送进度" in (ev.note or "") and ev.data["completed_wan"] == 110000


async def test_thresholds_come_from_the_rules(uow_factory: Any, clock: FrozenClock,
                                              config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    await add_report(uow_factory, "P2026-001", 110000, NOW - timedelta(days=30))
    await sweep_project_colours(uow_factory, NOW, config)
    assert (await stored_colour(uow_factory, "P2026-001"))[0] == "red"  # 30 days silent
    relaxed = ColourRules(red_silent_weeks=6, black_silent_weeks=10, green_recent_weeks=6)
    await sweep_project_colours(uow_factory, NOW + timedelta(hours=1), config, rules=relaxed)
    assert (await stored_colour(uow_factory, "P2026-001"))[0] == "green"


async def test_urgent_ticket_open_too_long_turns_black(uow_factory: Any, clock: FrozenClock,
                                                       config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    await add_report(uow_factory, "P2026-001", 110000, NOW)
    await submit(uow_factory, NOW - timedelta(days=8), config, urgent=True,
                 text="工地被阻工,已经停工两天,急")
    await sweep_project_colours(uow_factory, NOW, config)
    assert (await stored_colour(uow_factory, "P2026-001"))[0] == "black"
    async with uow_factory() as uow:
        p = await project(uow, "P2026-001")
        ev = (await uow.session.execute(select(ProjectEvent).where(
            ProjectEvent.project_id == p.id, ProjectEvent.action == "colour"))).scalars().one()
        assert "紧急诉求" in (ev.note or "")


async def test_letters_wait_for_the_end_of_quiet_hours(uow_factory: Any, clock: FrozenClock,
                                                       config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    night = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 02:00 in Beijing
    await sweep_project_colours(uow_factory, night, config)
    letters = await outbox(uow_factory, "colour:")
    assert letters and all(r.not_before == datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
                           for r in letters)  # 07:30 Beijing


async def test_monthly_reminders_once_per_project_and_month(uow_factory: Any, clock: FrozenClock,
                                                            config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    han, yang = await ids(uow_factory, "han", "yang")
    assert await sweep_report_reminders(uow_factory, NOW, config) == []  # the 24th: too early

    day25 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    await add_report(uow_factory, "P2026-002", 500, NOW, by="yang")
    keys = await sweep_report_reminders(uow_factory, day25, config)
    assert keys == [f"progress-remind:P2026-001:2026-11:{han}"]  # P2026-002 reported already
    [row] = await outbox(uow_factory, "progress-remind:")
    assert row.chat_id == 800001 and "/progress" in row.payload["text"]
    assert "2026年11月" in row.payload["text"]

    assert await sweep_report_reminders(uow_factory, day25 + timedelta(days=1), config) == []
    assert len(await outbox(uow_factory, "progress-remind:")) == 1

    dec = datetime(2026, 12, 26, 1, 0, tzinfo=UTC)
    assert sorted(await sweep_report_reminders(uow_factory, dec, config)) == sorted([
        f"progress-remind:P2026-001:2026-12:{han}", f"progress-remind:P2026-002:2026-12:{yang}"])


async def test_reminder_day_is_configurable(uow_factory: Any, clock: FrozenClock,
                                            config: DeskConfig) -> None:
    await load_example_org(uow_factory, LOADED)
    assert await sweep_report_reminders(uow_factory, NOW, config, day_of_month=20)
