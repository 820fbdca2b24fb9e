"""`zhitong db upgrade` and `zhitong tickets --json`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from bot import texts
from bot.settings import Settings


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


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
    rows = run_async(_ticket_rows(Settings(), status))
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
