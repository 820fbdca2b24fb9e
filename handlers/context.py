"""Per-update context: the unit of work, the time, who is acting, and replies to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.permissions import Actor
from handlers.config import DeskConfig
from storage.models import Account
from storage.uow import UnitOfWork


@dataclass
class Ctx:
    uow: UnitOfWork
    now: datetime
    config: DeskConfig
    update_id: int | None = None
    chat_id: int | None = None
    account: Account | None = None
    actor: Actor | None = None
    _reply_seq: int = field(default=0)

    def fmt(self, moment: datetime | None) -> str:
        from handlers.texts import fmt_time

        return fmt_time(moment, self.config.timezone)

    async def reply(self, payload: dict[str, Any]) -> str | None:
        """A message to the person typing; through the outbox so it survives a crash. Returns
        the outbox row's idempotency key (to edit the message later)."""
        if self.chat_id is None:
            return None
        self._reply_seq += 1
        key = f"reply:{self.update_id}:{self._reply_seq}" if self.update_id is not None else None
        if key is None:
            key = f"reply:{self.chat_id}:{self.now.timestamp()}:{self._reply_seq}"
        await self.uow.outbox.enqueue(
            idem_key=key, chat_id=self.chat_id, payload=payload, now=self.now, urgent=True
        )
        return key

    async def push(self, key: str, account: Account | None, payload: dict[str, Any], *,
                   ref: str | None = None, urgent: bool = False) -> bool:
        """A message to someone else (notify_*). Skipped for people not yet bound."""
        if account is None or account.telegram_id is None or not account.active:
            return False
        return await self.uow.outbox.enqueue(
            idem_key=key, chat_id=account.telegram_id, payload=payload, now=self.now, ref=ref,
            urgent=urgent,
        )


async def load_actor(uow: UnitOfWork, account: Account) -> Actor:
    contact, leader, officer = await uow.accounts.project_ids_where(account.id)
    unit_is_dispatcher = False
    if account.unit_id is not None:
        unit = await uow.org.unit(account.unit_id)
        unit_is_dispatcher = unit is not None and unit.kind == "dispatcher"
    return Actor(
        account_id=account.id,
        roles=frozenset(account.roles or []),
        unit_id=account.unit_id,
        unit_is_dispatcher=unit_is_dispatcher,
        contact_project_ids=frozenset(contact),
        leader_project_ids=frozenset(leader),
        officer_project_ids=frozenset(officer),
    )
