"""`zhitong projects [--json]`: each project's colour, plan against actual, reports and tickets.

`--download-photos DIR` also fetches the site photos (kept by Telegram file id) through the
Bot API into ``DIR/photos/<project>/<YYYY-MM>/<report>-<n>.jpg`` for exports; files already
there are skipped, so it can be re-run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.cli_core import DatabaseNotReady, require_schema
from bot.settings import Settings

HEADER = "编号        颜色  年度计划(万元)  今年完成(万元)  完成率   最近报送           未办结  名称"
NONE = "暂无项目。"
FAILED = "查询失败:{error}"
BAD_TIME = "无法识别的时间:{value}(请用 ISO 格式,例如 2026-11-25T09:00+08:00)"
BAD_MONTH = "无法识别的月份:{value}(例如 2026-11)"
NO_TOKEN = "下载照片需要设置 ZHITONG_BOT_TOKEN。"
DOWNLOADED = "现场照片:新下载 {new} 张,已存在 {kept} 张,失败 {failed} 张 → {path}"
COLOUR_WORDS = {"green": "绿", "yellow": "黄", "red": "红", "black": "黑"}

Fetch = Callable[[str, Path], Awaitable[None]]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 数组。")
@click.option("--now", "now_text", default=None, metavar="ISO-TIME",
              help="按这个时间计算(默认当前时间)。")
@click.option("--download-photos", "photo_dir", default=None, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="把现场照片下载到 DIR/photos/<项目>/<年-月>/(供导出使用)。")
@click.option("--project", "project_codes", multiple=True, metavar="CODE",
              help="只列出 / 只下载这些项目(可重复)。")
@click.option("--month", default=None, metavar="YYYY-MM", help="只下载这个月的照片。")
def projects(as_json: bool, now_text: str | None, photo_dir: Path | None,
             project_codes: tuple[str, ...], month: str | None) -> None:
    """项目四色状态:颜色、年度计划、今年完成投资、完成率、最近报送、未办结诉求。"""
    from domain.progress import parse_period

    settings = Settings()
    tz = settings.desk_config().timezone
    try:
        now = _parse_now(now_text, tz)
    except ValueError:
        click.echo(BAD_TIME.format(value=now_text), err=True)
        sys.exit(2)
    period = None
    if month:
        period = parse_period(month)
        if period is None:
            click.echo(BAD_MONTH.format(value=month), err=True)
            sys.exit(2)
    try:
        rows = asyncio.run(project_rows(settings, now, list(project_codes) or None))
    except DatabaseNotReady:
        raise  # says itself what to do
    except Exception as exc:  # the operator needs the reason, not a traceback
        click.echo(FAILED.format(error=exc), err=True)
        sys.exit(1)
    if photo_dir is not None:
        if not settings.bot_token:
            click.echo(NO_TOKEN, err=True)
            sys.exit(1)
        new, kept, failed = asyncio.run(_download_with_bot(
            settings, photo_dir, list(project_codes) or None, period))
        click.echo(DOWNLOADED.format(new=new, kept=kept, failed=failed, path=photo_dir),
                   err=as_json)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo(NONE)
        return
    click.echo(HEADER)
    for r in rows:
        rate = "—" if r["completion_rate"] is None else f"{r['completion_rate'] * 100:.1f}%"
        click.echo(
            f"{r['code']:<11} {COLOUR_WORDS.get(r['colour'], r['colour']):<4} "
            f"{_num(r['annual_plan_wan']):>14}  {_num(r['completed_wan']):>14}  {rate:>7}  "
            f"{(r['last_report_at'] or '从未报送')[:16]:<17}  {r['open_tickets']:>6}  {r['name']}"
        )


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _parse_now(value: str | None, tz: Any) -> datetime:
    if not value:
        return datetime.now(tz)
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


async def project_rows(settings: Settings, now: datetime,
                       codes: list[str] | None = None) -> list[dict[str, Any]]:
    """One dict per project (the JSON contract of DESIGN §11 plus a few extras)."""
    from domain.progress import milestone_name
    from handlers.progress import colour_rules, load_states
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    config = settings.desk_config()
    tz = config.timezone
    engine = make_engine(settings.database_url)
    try:
        await require_schema(engine)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            projects = [p for p in await uow.org.projects() if codes is None or p.code in codes]
            units = {u.id: u.code for u in await uow.org.units()}
            out = []
            for state in await load_states(uow, now, tz, colour_rules(config), projects):
                p = state.project
                progress = state.verdict.progress
                out.append({
                    "code": p.code,
                    "name": p.name,
                    # The colour of record (daily sweep); the live one before the first sweep.
                    "colour": p.colour or state.colour,
                    "colour_live": state.colour,
                    "colour_reasons": list(state.verdict.reasons),
                    "colour_changed_at": _iso(p.colour_changed_at, tz),
                    "annual_plan_wan": p.annual_plan_wan,
                    "total_investment_wan": p.total_investment_wan,
                    "completed_wan": state.completed_wan,
                    "completion_rate": _round(progress.completion_rate),
                    "elapsed_share": _round(progress.elapsed_share),
                    "last_report_at": _iso(state.last_report_at, tz),
                    "open_tickets": state.open_tickets,
                    "stage": p.stage,
                    "stage_name": milestone_name(p.stage) if p.stage else None,
                    "level": p.level,
                    "lead_unit": units.get(p.lead_unit_id) if p.lead_unit_id else None,
                })
            return out
    finally:
        await engine.dispose()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _iso(moment: datetime | None, tz: Any) -> str | None:
    return moment.astimezone(tz).isoformat() if moment is not None else None


async def download_photos(settings: Settings, dest: Path, codes: list[str] | None,
                          period: str | None, fetch: Fetch) -> tuple[int, int, int]:
    """Fetch every site photo not yet on disk; (new, already there, failed)."""
    from handlers.progress import photo_files
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(settings.database_url)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            files = await photo_files(uow, codes, period)
    finally:
        await engine.dispose()
    new = kept = failed = 0
    for f in files:
        target = dest / f.relative_path()
        if target.exists() and target.stat().st_size > 0:
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        try:
            await fetch(f.file_id, partial)
            partial.replace(target)
            new += 1
        except Exception as exc:  # one lost photo must not stop the export
            click.echo(f"{f.file_id}: {exc}", err=True)
            partial.unlink(missing_ok=True)
            failed += 1
    return new, kept, failed


class BotFetcher:
    """getFile + download through the Bot API (public, self-hosted, or the emulator)."""

    def __init__(self, token: str, api_base: str) -> None:
        self.token = token
        self.api_base = api_base
        self._bot: Any = None

    async def __call__(self, file_id: str, target: Path) -> None:
        if self._bot is None:
            from bot.aiogram_adapter import make_bot

            self._bot = make_bot(self.token, self.api_base)
        await self._bot.download(file_id, destination=target)

    async def close(self) -> None:
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None


async def _download_with_bot(settings: Settings, dest: Path, codes: list[str] | None,
                             period: str | None) -> tuple[int, int, int]:
    fetcher = BotFetcher(settings.bot_token, settings.telegram_api)
    try:
        return await download_photos(settings, dest, codes, period, fetcher)
    finally:
        await fetcher.close()
