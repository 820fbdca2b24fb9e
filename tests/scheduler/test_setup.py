"""The APScheduler wiring: one job with a fixed id that runs every sweep and wakes the sender."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def test_the_job_wakes_the_sender_only_when_it_enqueued(uow_factory: Any,
                                                              config: DeskConfig) -> None:
    await load_example_org(uow_factory, bj(2026, 11, 24, 9))
    await submit(uow_factory, bj(2026, 11, 24, 9), config, category="site")
    woken: list[int] = []
    # The first run sends the 提醒函 of projects that never reported (once per colour change).
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
