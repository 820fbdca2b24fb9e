"""Invites and binding a Telegram account (DESIGN §3 Invite, §10 security)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidInput, NotFound
from handlers import outmsg, texts
from handlers.config import DeskConfig
from handlers.context import Ctx
from storage.models import Account, Invite
from storage.uow import UnitOfWork


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedInvite:
    token: str
    link: str
    expires_at: datetime
    target_name: str


async def do_create_invite(
    uow: UnitOfWork,
    now: datetime,
    config: DeskConfig,
    *,
    role: str,
    project_code: str | None = None,
    unit_code: str | None = None,
    days: int | None = None,
) -> CreatedInvite:
    """Only the hash is stored: a leaked database does not leak usable links."""
    project_id = unit_id = None
    target_name = ""
    if role == "enterprise":
        if not project_code:
            raise InvalidInput("企业联系人邀请需要指定项目(--project)。")
        project = await uow.org.project_by_code(project_code)
        if project is None:
            raise NotFound(f"没有编号为 {project_code} 的项目。")
        project_id, target_name = project.id, project.name
    elif role == "official":
        if not unit_code:
            raise InvalidInput("工作人员邀请需要指定单位(--unit)。")
        unit = await uow.org.unit_by_code(unit_code)
        if unit is None:
            raise NotFound(f"没有编号为 {unit_code} 的单位。")
        unit_id, target_name = unit.id, unit.name
    else:
        raise InvalidInput(f"不支持的邀请角色:{role}(可用 enterprise 或 official)。")
    token = secrets.token_urlsafe(24)
    expires = now + timedelta(days=days if days is not None else config.invite_days)
    uow.invites.add(Invite(token_hash=hash_token(token), role=role, project_id=project_id,
                           unit_id=unit_id, created_at=now, expires_at=expires))
    await uow.session.flush()
    link = f"https://t.me/{config.bot_username}?start={token}"
    return CreatedInvite(token, link, expires, target_name)


def menu_for(account: Account) -> list[tuple[str, str]]:
    roles = set(account.roles or [])
    if "admin" in roles:
        return texts.COMMANDS_ADMIN
    if "official" in roles or "leader" in roles:
        return texts.COMMANDS_OFFICIAL
    return texts.COMMANDS_ENTERPRISE


async def notify_command_menu(ctx: Ctx, account: Account) -> None:
    """Per-chat command menu for the person's roles (setMyCommands with a chat scope)."""
    if account.telegram_id is None:
        return
    roles = ",".join(sorted(account.roles or []))
    await ctx.uow.outbox.enqueue(
        idem_key=f"commands:{account.id}:{roles}", chat_id=account.telegram_id,
        payload=outmsg.commands(menu_for(account), scope_chat=account.telegram_id), now=ctx.now,
        urgent=True,
    )


async def check_redeem_invite(ctx: Ctx, token: str, user_id: int, first_name: str) -> str:
    """Bind the Telegram account; returns the greeting. Bad tokens bind nothing."""
    uow = ctx.uow
    if not token or len(token) > 128:
        raise InvalidInput(texts.INVITE_INVALID)
    invite = await uow.invites.by_hash(hash_token(token))
    if invite is None:
        raise InvalidInput(texts.INVITE_INVALID)
    if invite.used_at is not None:
        raise InvalidInput(texts.INVITE_USED)
    if invite.expires_at <= ctx.now:
        raise InvalidInput(texts.INVITE_EXPIRED)
    account = await uow.accounts.by_telegram_id(user_id)
    if account is not None and not account.active and account.person_key is not None:
        # Removed from the org file: the file decides who is in it, and an old invite must not
        # bring them back (the next `org load` would only remove them again).
        raise InvalidInput(texts.INVITE_REMOVED_PERSON)
    if account is None:
        account = Account(name=(first_name or "用户")[:64], telegram_id=user_id, roles=[],
                          created_at=ctx.now, active=True)
        uow.session.add(account)
        await uow.session.flush()
    if not await uow.invites.redeem(invite.id, account.id, ctx.now):
        raise InvalidInput(texts.INVITE_USED)
    roles = set(account.roles or [])
    roles.add(invite.role)
    account.roles = sorted(roles)
    account.active = True
    if invite.role == "enterprise" and invite.project_id is not None:
        await uow.org.add_contact(invite.project_id, account.id)
        project = await uow.org.project(invite.project_id)
        greeting = texts.welcome_enterprise(account.name, project.name if project else "")
    else:
        account.unit_id = invite.unit_id
        unit = await uow.org.unit(invite.unit_id) if invite.unit_id else None
        greeting = texts.welcome_official(account.name, unit.name if unit else "")
    await uow.session.flush()
    await notify_command_menu(ctx, account)
    return greeting
