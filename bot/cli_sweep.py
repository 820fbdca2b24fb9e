"""`zhitong sweep --now ISO-TIME`: run every sweep of the scheduler once, as of that time.

For operators (preview what the scheduler will send) and tests (drive a simulated clock). What it
enqueues is delivered by a running `zhitong run`. When `--now` is later than the wall clock, the
messages are released for delivery now rather than at the simulated time, and quiet hours are
judged by the wall clock (people are asleep at real night, not at simulated night).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from bot.cli_core import DatabaseNotReady, require_schema
from bot.settings import Settings

HEADER = "调度扫描(as of {now}):共新增 {total} 条待发消息"
LINE = "{kind}: {count}"
BAD_TIME = "无法识别的时间:{value}(请用 ISO 格式,例如 2026-11-25T09:00 或 2026-11-25T09:00+08:00)"
FAILED = "扫描失败:{error}"


def parse_now(value: str | None, tz: ZoneInfo) -> datetime:
    """ISO time; a naive one is read in the configured zone. None: the current time."""
    if not value:
        return datetime.now(tz)
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


@click.command()
@click.option("--now", "now_text", default=None, metavar="ISO-TIME",
              help="按这个时间扫描(默认当前时间;不带时区按配置的时区理解)。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON:{类别: [幂等键…]}。")
def sweep(now_text: str | None, as_json: bool) -> None:
    """运行一次全部定时扫描(提醒、督办、提级、回访、周通报、月排名),打印新增的消息。"""
    settings = Settings()
    config = settings.desk_config()
    try:
        now = parse_now(now_text, config.timezone)
    except ValueError:
        click.echo(BAD_TIME.format(value=now_text), err=True)
        sys.exit(2)
    try:
        result = asyncio.run(_run(settings, now))
    except DatabaseNotReady:
        raise  # says itself what to do
    except Exception as exc:  # the operator needs the reason, not a traceback
        click.echo(FAILED.format(error=exc), err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), "enqueued": result}, ensure_ascii=False,
                              indent=1))
        return
    total = sum(len(v) for v in result.values())
    click.echo(HEADER.format(now=now.astimezone(config.timezone).isoformat(), total=total))
    for kind, keys in result.items():
        click.echo(LINE.format(kind=kind, count=len(keys)))
        for key in keys:
            click.echo(f"  {key}")


async def _run(settings: Settings, now: datetime) -> dict[str, list[str]]:
    from domain.clock import SystemClock
    from scheduler.sweeps import run_all_sweeps
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWorkFactory

    engine = make_engine(settings.database_url)
    try:
        await require_schema(engine)
        return await run_all_sweeps(UnitOfWorkFactory(make_sessionmaker(engine)), now,
                                    settings.desk_config(), deliver_from=SystemClock().now())
    finally:
        await engine.dispose()
