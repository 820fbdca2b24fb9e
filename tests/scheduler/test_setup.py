"""The APScheduler wiring: one job with a fixed id that runs every sweep and wakes the sender."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

import pytest

from bot.settings import Settings
from domain.clock import FrozenClock
from handlers.config import DeskConfig
from scheduler.setup import JOB_ID, MISFIRE_GRACE_SECONDS, build_scheduler, sweep_job
from tests.factories import load_example_org, submit
from tests.scheduler.conftest import bj


async def test_job_settings(uow_factory: Any, config: DeskConfig) -> None:
    scheduler = build_scheduler(uow_factory, config, FrozenClock(bj(2026, 11, 24, 9)), 60)
    jobs = scheduler.get_jobs()
    assert [j.id for j in jobs] == [JOB_ID]
    job = jobs[0]
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS
    assert job.trigger.interval.total_seconds() == 60


async def test_the_job_pushes_the_duban_at_the_configured_morning_time(
        uow_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHITONG_MORNING_PUSH_AT", "07:45")
    config = Settings().desk_config()
    clock = FrozenClock(bj(2026, 11, 24, 9, 30))
    scheduler = build_scheduler(uow_factory, config, clock, 60)
    job = scheduler.get_job(JOB_ID)
    assert job is not None and job.func is sweep_job
    assert job.trigger.interval.total_seconds() == 60  # one sweep job; the time is in its config
    job_config = job.args[1]
    assert isinstance(job_config, DeskConfig) and job_config.morning_push_at == time(7, 45)

    # A `site` ticket reported Tue 24 Nov is due Fri 27 Nov: its first 督办 is Mon 30 Nov.
    await load_example_org(uow_factory, bj(2026, 11, 24, 9))
    await submit(uow_factory, bj(2026, 11, 24, 9), config, category="site")
    await job.func(*job.args)
    clock.set(bj(2026, 11, 30, 7, 44))
    before = await job.func(*job.args)
    assert before["overdue"] == [] and before["due"]
    clock.set(bj(2026, 11, 30, 7, 45))
    at = await job.func(*job.args)
    assert at["overdue"] and all(":overdue:2026-11-30:" in k for k in at["overdue"])


async def test_the_job_wakes_the_sender_only_when_it_enqueued(uow_factory: Any,
                                                              config: DeskConfig) -> None:
    await load_example_org(uow_factory, bj(2026, 11, 24, 9))
    await submit(uow_factory, bj(2026, 11, 24, 9), config, category="site")
    woken: list[int] = []
    # The first run records the projects' colours (just loaded: yellow, in their first-report
    # grace period, so no 提醒函 yet).
    await sweep_job(uow_factory, config, FrozenClock(bj(2026, 11, 24, 9, 30)), lambda: None)
    clock = FrozenClock(bj(2026, 11, 24, 10))
    quiet = await sweep_job(uow_factory, config, clock, lambda: woken.append(1))
    assert quiet and not any(quiet.values())
    assert woken == []
    clock.set(bj(2026, 11, 25, 18))
    result = await sweep_job(uow_factory, config, clock, lambda: woken.append(1))
    assert len(result["accept"]) == 2 and woken == [1]


async def test_started_scheduler_runs_the_sweeps_at_once(uow_factory: Any,
                                                         config: DeskConfig) -> None:
    await load_example_org(uow_factory, bj(2026, 11, 24, 9))
    await submit(uow_factory, bj(2026, 11, 24, 9), config, category="site")
    woken = asyncio.Event()
    scheduler = build_scheduler(uow_factory, config, FrozenClock(bj(2026, 11, 25, 18)), 3600,
                                woken.set)
    scheduler.start()
    try:
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        scheduler.shutdown(wait=False)
