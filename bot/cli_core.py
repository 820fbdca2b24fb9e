"""`zhitong db upgrade` and `zhitong tickets --json`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from bot import texts
from bot.settings import Settings


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


class DatabaseNotReady(click.ClickException):
    """The schema is missing: `zhitong db upgrade` has not been run (or the URL points at the
    wrong database). A ClickException, so any command reports it in a sentence, exit 1."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__(texts.DB_NOT_READY)

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True, file=file)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def sqlite_file_missing(url: str) -> bool:
    """Connecting would create an empty SQLite file: check first, so a refusal leaves no trace.
    (A missing folder is a wrong path, not a database to upgrade: connecting says so.)"""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    return (parsed.get_backend_name() == "sqlite" and name not in ("", ":memory:")
            and not name.startswith("file:") and not Path(name).exists()
            and Path(name).parent.is_dir())


async def has_schema(engine: Any) -> bool:
    from sqlalchemy import inspect

    if sqlite_file_missing(engine.url.render_as_string(hide_password=False)):
        return False
    async with engine.connect() as conn:
        return bool(await conn.run_sync(lambda c: inspect(c).has_table("units")))


async def require_schema(engine: Any) -> None:
    """Refuse, before reading, a database `zhitong db upgrade` never created."""
    if not await has_schema(engine):
        raise DatabaseNotReady


@click.group()
def db() -> None:
    """数据库管理。"""


@db.command("upgrade")
def db_upgrade() -> None:
    """创建或迁移数据库到最新版本。"""
    from storage.migrate import upgrade

    settings = Settings()
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # the operator needs the reason, not a traceback
        click.echo(texts.DB_ERROR.format(error=exc), err=True)
        sys.exit(1)
    click.echo(texts.DB_UPGRADED.format(url=_safe_url(settings.database_url)))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="输出 JSON(每行一件或整体数组)。")
@click.option("--status", default=None, help="只列出某个状态:submitted/in_progress/resolved/closed。")
def tickets(as_json: bool, status: str | None) -> None:
    """列出诉求:编号、项目、类别、单位、状态、时限、评价。"""
    try:
        rows = run_async(_ticket_rows(Settings(), status))
    except click.ClickException:
        raise  # (settings, schema) says itself what to do
    except Exception as exc:  # the operator needs the reason, not a traceback
        click.echo(texts.QUERY_FAILED.format(error=one_line(exc)), err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo(texts.TICKETS_NONE)
    for r in rows:
        click.echo(
            f"{r['number']}  {r['project']}  {r['category']}  {r['unit']}  {r['status']}  "
            f"时限 {r['due']}  {r['rating'] or ''}"
        )


async def _ticket_rows(settings: Settings, status: str | None) -> list[dict[str, Any]]:
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(settings.database_url)
    tz = settings.desk_config().timezone
    try:
        await require_schema(engine)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            units = {u.id: u.code for u in await uow.org.units()}
            projects = {p.id: p.code for p in await uow.org.projects()}
            out = []
            for t in await uow.tickets.all():
                if status and t.status != status:
                    continue
                out.append({
                    "number": t.number,
                    "project": projects.get(t.project_id),
                    "category": t.category_code,
                    "unit": units.get(t.unit_id),
                    "status": t.status,
                    "urgent": t.urgent,
                    "created": t.created_at.astimezone(tz).isoformat(),
                    "accept_due": t.accept_due_at.astimezone(tz).isoformat(),
                    "due": t.due_at.astimezone(tz).isoformat(),
                    "accepted": t.accepted_at.astimezone(tz).isoformat() if t.accepted_at else None,
                    "resolved": t.resolved_at.astimezone(tz).isoformat() if t.resolved_at else None,
                    "closed": t.closed_at.astimezone(tz).isoformat() if t.closed_at else None,
                    "rating": t.rating,
                    "reopen_count": t.reopen_count,
                    "text": t.text,
                })
            return out
    finally:
        await engine.dispose()
