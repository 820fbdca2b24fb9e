"""The one APScheduler `AsyncIOScheduler` of a deployment (DESIGN §8, §12.10).

It runs a single job, `run_all_sweeps`, every `interval_seconds`: fixed id, ``coalesce=True``,
``max_instances=1`` and a generous ``misfire_grace_time``. The job keeps no state of its own:
what is due is read from the database on every run, so a restart, a missed run or a second
process picking up after a failover only ever sends what is still due, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.clock import Clock
from handlers.config import DeskConfig
from scheduler.sweeps import run_all_sweeps
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

JOB_ID = "zhitong-sweeps"
MISFIRE_GRACE_SECONDS = 3600


async def sweep_job(uow_factory: UnitOfWorkFactory, config: DeskConfig, clock: Clock,
                    on_enqueued: Callable[[], None] | None = None) -> dict[str, list[str]]:
    """One run of every sweep as of the clock's now; wakes the sender when something was added."""
    now = clock.now()
    try:
        result = await run_all_sweeps(uow_factory, now, config)
    except Exception:  # logged by run_all_sweeps; the next run tries again
        log.warning("sweeps at %s did not all complete", now.isoformat())
        return {}
    total = sum(len(v) for v in result.values())
    if total:
        log.info("sweeps at %s enqueued %s", now.isoformat(),
                 ", ".join(f"{k}={len(v)}" for k, v in result.items() if v))
        if on_enqueued is not None:
            on_enqueued()
    return result


def build_scheduler(uow_factory: UnitOfWorkFactory, config: DeskConfig, clock: Clock,
                    interval_seconds: int = 60,
                    on_enqueued: Callable[[], None] | None = None) -> AsyncIOScheduler:
    """The scheduler, not started: the caller starts it inside its event loop and shuts it down.

    The first run is at once (a reminder that fell due while the process was down goes out now),
    then every `interval_seconds`.
    """
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    scheduler.add_job(
        sweep_job,
        "interval",
        seconds=max(1, int(interval_seconds)),
        args=(uow_factory, config, clock, on_enqueued),
        id=JOB_ID,
        name="zhitong sweeps",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        next_run_time=datetime.now(config.timezone),
    )
    return scheduler
