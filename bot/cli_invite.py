"""`zhitong invite`: a single-use, expiring deep link and its QR code."""

from __future__ import annotations

import asyncio
import sys

import click

from bot import texts
from bot.cli_core import require_schema
from bot.settings import Settings
from domain.clock import SystemClock
from domain.errors import DomainError
from handlers.onboarding import CreatedInvite

# Asking getMe for the bot's username: an operator at a terminal, not a long-running worker.
GET_ME_TIMEOUT_SECONDS = 5.0


@click.command()
@click.option("--project", "project_code", help="项目编号(邀请企业联系人)。")
@click.option("--unit", "unit_code", help="单位编号(邀请工作人员,配合 --role official)。")
@click.option("--role", type=click.Choice(["enterprise", "official"]), default=None,
              help="被邀请人的角色,默认按 --project/--unit 推断。")
@click.option("--qr", "qr_path", type=click.Path(dir_okay=False), help="二维码 PNG 保存路径。")
@click.option("--days", type=int, default=None, help="有效天数(默认 7 天)。")
@click.option("--bot-username", default=None,
              help="机器人用户名(默认取 ZHITONG_BOT_USERNAME,未设置时向 Bot API 查询 getMe)。")
def invite(project_code: str | None, unit_code: str | None, role: str | None,
           qr_path: str | None, days: int | None, bot_username: str | None) -> None:
    """生成一次性邀请链接 https://t.me/<bot>?start=<token>,并可保存二维码。"""
    if role is None:
        role = "official" if unit_code and not project_code else "enterprise"
    if not project_code and not unit_code:
        click.echo(texts.INVITE_NEEDS_TARGET, err=True)
        sys.exit(2)
    settings = Settings()
    username = resolve_bot_username(settings, bot_username)
    try:
        created = asyncio.run(_create(settings, role, project_code, unit_code, days, username))
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"{created.target_name}")
    click.echo(texts.INVITE_CREATED.format(days=days or settings.invite_days))
    click.echo(created.link)
    if qr_path:
        write_qr(created.link, qr_path)
        click.echo(texts.QR_WRITTEN.format(path=qr_path))


def resolve_bot_username(settings: Settings, given: str | None) -> str:
    """The bot's username for t.me links: --bot-username, ZHITONG_BOT_USERNAME, else the Bot
    API's getMe for the configured token. A guess would send people to somebody else's bot,
    so with none of them the command stops here (exit 2), before anything is written."""
    from bot.cli_webhook import ApiError, call_api

    name = (given or settings.bot_username).strip().lstrip("@")
    if name:
        return name
    if not settings.bot_token:
        click.echo(texts.INVITE_NO_BOT_USERNAME, err=True)
        sys.exit(2)
    try:
        me = asyncio.run(call_api(settings, "getMe", {}, timeout=GET_ME_TIMEOUT_SECONDS))
    except ApiError as exc:
        click.echo(texts.INVITE_GET_ME_FAILED.format(error=exc), err=True)
        sys.exit(2)
    name = str(me.get("username") or "") if isinstance(me, dict) else ""
    if not name:
        click.echo(texts.INVITE_GET_ME_FAILED.format(error=texts.GET_ME_NO_USERNAME), err=True)
        sys.exit(2)
    return name


def write_qr(link: str, path: str) -> None:
    import qrcode

    img = qrcode.make(link)
    with open(path, "wb") as fh:
        img.save(fh)


async def _create(settings: Settings, role: str, project_code: str | None,
                  unit_code: str | None, days: int | None, bot_username: str) -> CreatedInvite:
    from handlers.onboarding import do_create_invite
    from storage.db import make_engine, make_sessionmaker
    from storage.uow import UnitOfWork

    engine = make_engine(settings.database_url)
    try:
        await require_schema(engine)
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            created = await do_create_invite(
                uow, SystemClock().now(), settings.desk_config(bot_username), role=role,
                project_code=project_code, unit_code=unit_code, days=days)
            await uow.commit()
            return created
    finally:
        await engine.dispose()
