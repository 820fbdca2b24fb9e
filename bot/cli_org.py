"""`zhitong org load FILE.yaml` and `zhitong org show`.

A bad file is refused as a whole: every problem goes to stderr, the exit code is 1, nothing is
written, and no traceback is shown. A good file is loaded in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

import click

from bot import texts
from bot.cli_core import DatabaseNotReady, one_line, require_schema
from bot.settings import Settings
from domain.texts import ROLE_NAMES
from handlers.org import LoadSummary, OrgOverview, do_load_org, org_overview
from storage.orgfile import OrgFileError, OrgSpec, load_org_file


@click.group()
def org() -> None:
    """组织架构:单位、人员、类别、项目、分派规则。"""


def _fail(lines: list[str], header: str | None = texts.ORG_INVALID) -> NoReturn:
    if header:
        click.echo(header, err=True)
    for line in lines:
        click.echo(f"  - {line}", err=True)
    sys.exit(1)


@org.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="只校验文件,不写入数据库。")
def org_load(file: Path, dry_run: bool) -> None:
    """加载组织架构文件 FILE(YAML,格式见项目中的示例 bot/demo_org.yaml)。

    按编号更新(幂等):同一文件加载两次不会有任何变化;文件有误时列出全部问题,
    不写入任何内容。
    """
    try:
        spec = load_org_file(file)
    except OrgFileError as exc:
        _fail(exc.problems)
    if spec.warnings:
        click.echo(texts.ORG_WARNINGS, err=True)
        for line in spec.warnings:
            click.echo(f"  - {line}", err=True)
    counts = {"units": len(spec.units), "people": len(spec.people),
              "categories": len(spec.categories), "projects": len(spec.projects)}
    if dry_run:
        click.echo(texts.ORG_VALID.format(**counts))
        return
    settings = Settings()
    try:
        summary = asyncio.run(_load(settings.database_url, spec))
    except OrgFileError as exc:
        _fail(exc.problems)
    except DatabaseNotReady:
        _fail([], header=texts.ORG_DB_NOT_READY)
    except Exception as exc:  # the operator needs the reason, not a traceback
        _fail([], header=texts.ORG_LOAD_FAILED.format(error=one_line(exc)))
    click.echo(texts.ORG_LOADED.format(**counts))
    click.echo(describe_changes(summary))


def describe_changes(summary: LoadSummary) -> str:
    if not summary.changed:
        return texts.ORG_UNCHANGED
    parts: list[str] = []
    for kind in ("units", "categories", "people", "projects"):
        k = getattr(summary, kind)
        if k.created or k.updated:
            parts.append(texts.ORG_CHANGE_PART.format(
                kind=texts.ORG_KIND_NAMES[kind], created=k.created, updated=k.updated))
        if k.removed and texts.ORG_REMOVED[kind]:
            parts.append(texts.ORG_REMOVED[kind].format(n=k.removed))
    if summary.contacts_added or summary.contacts_removed:
        parts.append(texts.ORG_CONTACTS_CHANGED.format(
            added=summary.contacts_added, removed=summary.contacts_removed))
    if summary.telegram_bound:
        parts.append(texts.ORG_TELEGRAM_BOUND.format(n=summary.telegram_bound))
    return texts.ORG_CHANGES.format(detail=";".join(parts))


async def _load(url: str, spec: OrgSpec) -> LoadSummary:
    from domain.clock import SystemClock
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(url)
    try:
        await require_schema(engine)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            summary = await do_load_org(uow, spec, SystemClock().now())
            await uow.commit()
            return summary
    finally:
        await engine.dispose()


async def _overview(url: str) -> OrgOverview:
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(url)
    try:
        await require_schema(engine)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            return await org_overview(uow)
    finally:
        await engine.dispose()


@org.command("show")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON。")
def org_show(as_json: bool) -> None:
    """列出数据库中的单位、类别、人员和项目(电话号码已脱敏)。"""
    try:
        ov = asyncio.run(_overview(Settings().database_url))
    except DatabaseNotReady:
        _fail([], header=texts.ORG_DB_NOT_READY)
    except Exception as exc:
        _fail([], header=texts.DB_ERROR.format(error=one_line(exc)))
    if as_json:
        click.echo(json.dumps(asdict(ov), ensure_ascii=False, indent=1, default=str))
        return
    if not ov.units and not ov.people and not ov.projects:
        click.echo(texts.ORG_SHOW_EMPTY)
        return
    for line in render_overview(ov):
        click.echo(line)


def render_overview(ov: OrgOverview) -> list[str]:
    lines = [texts.ORG_SHOW_UNITS.format(n=len(ov.units))]
    for u in ov.units:
        kind = texts.UNIT_KIND_NAMES.get(u.kind, u.kind)
        lines.append(f"  {u.code:<8} {u.name}  [{kind}]  "
                     f"{texts.ORG_SHOW_UNIT_PEOPLE.format(n=u.people)}")
    lines.append(texts.ORG_SHOW_CATEGORIES.format(n=len(ov.categories)))
    for c in ov.categories:
        days = texts.ORG_SHOW_DAYS.format(days=c.days)
        lines.append(f"  {c.code:<12} {c.name}  → {c.unit}  {days}")
    lines.append(texts.ORG_SHOW_PEOPLE.format(n=len(ov.people)))
    for p in ov.people:
        roles = "、".join(ROLE_NAMES.get(r, r) for r in p.roles)
        state = texts.ORG_SHOW_BOUND if p.telegram_bound else texts.ORG_SHOW_UNBOUND
        if not p.active:
            state = texts.ORG_SHOW_INACTIVE
        extra = "  ".join(x for x in (p.unit, p.phone) if x)
        lines.append(f"  {p.key or '-':<8} {p.name}  {roles}  {extra}  {state}".rstrip())
    lines.append(texts.ORG_SHOW_PROJECTS.format(n=len(ov.projects)))
    for pr in ov.projects:
        bits = [x for x in (pr.level, texts.STAGE_NAMES.get(pr.stage or "", pr.stage)) if x]
        if pr.lead_unit:
            bits.append(texts.ORG_SHOW_LEAD.format(unit=pr.lead_unit))
        if pr.leader:
            bits.append(texts.ORG_SHOW_LEADER.format(name=pr.leader))
        if pr.service_officer:
            bits.append(texts.ORG_SHOW_OFFICER.format(name=pr.service_officer))
        if pr.annual_plan_wan is not None:
            bits.append(texts.ORG_SHOW_PLAN.format(wan=f"{pr.annual_plan_wan:g}"))
        bits.append(texts.ORG_SHOW_CONTACTS.format(names="、".join(pr.contacts))
                    if pr.contacts else texts.ORG_SHOW_NO_CONTACTS)
        if pr.routing:
            pairs = "、".join(f"{k}→{v}" for k, v in sorted(pr.routing.items()))
            bits.append(texts.ORG_SHOW_ROUTING.format(pairs=pairs))
        lines.append(f"  {pr.code}  {pr.name}")
        lines.append(f"      {'  '.join(bits)}")
    return lines
