"""Repositories: queries and inserts. They flush when they need ids, and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Account,
    Category,
    Draft,
    Invite,
    OutboxMessage,
    ProcessedUpdate,
    ProgressReport,
    Project,
    ProjectContact,
    TagCorrection,
    Ticket,
    TicketCounter,
    TicketEvent,
    Unit,
)

OPEN = ("submitted", "in_progress")


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _insert(self) -> Any:
        return pg_insert if self.s.bind.dialect.name == "postgresql" else sqlite_insert


class OrgRepo(_Repo):
    """Organisation reads. Categories and the dispatcher are read once per unit of work: one
    update asks for them several times, and they change only through `zhitong org load`."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._categories: Sequence[Category] | None = None
        self._dispatcher: tuple[Unit | None] | None = None

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.s.get(Unit, unit_id)

    async def unit_by_code(self, code: str) -> Unit | None:
        return (await self.s.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()

    async def units(self) -> Sequence[Unit]:
        return (await self.s.execute(select(Unit).order_by(Unit.id))).scalars().all()

    async def dispatcher(self) -> Unit | None:
        if self._dispatcher is None:
            found = (
                await self.s.execute(
                    select(Unit).where(Unit.kind == "dispatcher").order_by(Unit.id))
            ).scalars().first()
            self._dispatcher = (found,)
        return self._dispatcher[0]

    async def categories(self) -> Sequence[Category]:
        if self._categories is None:
            self._categories = (
                await self.s.execute(select(Category).order_by(Category.position, Category.id))
            ).scalars().all()
        return self._categories

    async def category(self, code: str) -> Category | None:
        return next((c for c in await self.categories() if c.code == code), None)

    def forget(self) -> None:
        """Drop the memo (after writing the organisation in this unit of work)."""
        self._categories = None
        self._dispatcher = None

    async def project(self, project_id: int) -> Project | None:
        return await self.s.get(Project, project_id)

    async def project_by_code(self, code: str) -> Project | None:
        return (
            await self.s.execute(select(Project).where(Project.code == code))
        ).scalar_one_or_none()

    async def projects(self) -> Sequence[Project]:
        return (await self.s.execute(select(Project).order_by(Project.code))).scalars().all()

    async def projects_by_ids(self, ids: Sequence[int]) -> Sequence[Project]:
        if not ids:
            return []
        return (
            await self.s.execute(select(Project).where(Project.id.in_(ids)).order_by(Project.code))
        ).scalars().all()

    async def contacts_of(self, project_id: int) -> Sequence[Account]:
        q = (
            select(Account)
            .join(ProjectContact, ProjectContact.account_id == Account.id)
            .where(ProjectContact.project_id == project_id, Account.active.is_(True))
            .order_by(Account.id)
        )
        return (await self.s.execute(q)).scalars().all()

    async def add_contact(self, project_id: int, account_id: int) -> None:
        exists = await self.s.get(ProjectContact, (project_id, account_id))
        if exists is None:
            self.s.add(ProjectContact(project_id=project_id, account_id=account_id))
            await self.s.flush()


class AccountRepo(_Repo):
    async def get(self, account_id: int) -> Account | None:
        return await self.s.get(Account, account_id)

    async def by_telegram_id(self, telegram_id: int) -> Account | None:
        return (
            await self.s.execute(select(Account).where(Account.telegram_id == telegram_id))
        ).scalar_one_or_none()

    async def by_key(self, key: str) -> Account | None:
        return (
            await self.s.execute(select(Account).where(Account.person_key == key))
        ).scalar_one_or_none()

    async def officials_of(self, unit_id: int) -> Sequence[Account]:
        q = select(Account).where(Account.unit_id == unit_id, Account.active.is_(True))
        rows = (await self.s.execute(q.order_by(Account.id))).scalars().all()
        return [a for a in rows if "official" in (a.roles or []) or "admin" in (a.roles or [])]

    async def all_bound(self) -> Sequence[Account]:
        q = select(Account).where(Account.telegram_id.is_not(None), Account.active.is_(True))
        return (await self.s.execute(q.order_by(Account.id))).scalars().all()

    async def admins(self) -> Sequence[Account]:
        rows = (
            await self.s.execute(select(Account).where(Account.active.is_(True)).order_by(Account.id))
        ).scalars().all()
        return [a for a in rows if "admin" in (a.roles or [])]

    async def project_ids_where(self, account_id: int) -> tuple[set[int], set[int], set[int]]:
        """(contact of, leader of, service officer of) project ids."""
        contact = set(
            (
                await self.s.execute(
                    select(ProjectContact.project_id).where(ProjectContact.account_id == account_id)
                )
            ).scalars()
        )
        rows = (
            await self.s.execute(
                select(Project.id, Project.leader_id, Project.service_officer_id).where(
                    or_(Project.leader_id == account_id, Project.service_officer_id == account_id)
                )
            )
        ).all()
        leader = {r[0] for r in rows if r[1] == account_id}
        officer = {r[0] for r in rows if r[2] == account_id}
        return contact, leader, officer


class TicketRepo(_Repo):
    async def next_number(self, day: str) -> str:
        """Atomic per-day sequence (UPSERT … RETURNING), unique under concurrency."""
        ins = self._insert()(TicketCounter).values(day=day, last=1)
        stmt = ins.on_conflict_do_update(
            index_elements=[TicketCounter.day], set_={"last": TicketCounter.last + 1}
        ).returning(TicketCounter.last)
        seq = (await self.s.execute(stmt)).scalar_one()
        return f"{day}-{seq:03d}"

    async def get(self, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        q = select(Ticket).where(Ticket.id == ticket_id)
        if for_update:
            q = q.with_for_update()
        return (await self.s.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()

    async def by_number(self, number: str) -> Ticket | None:
        return (
            await self.s.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one_or_none()

    def add(self, ticket: Ticket) -> None:
        self.s.add(ticket)

    async def flush(self) -> None:
        await self.s.flush()

    async def compare_and_set(
        self,
        ticket_id: int,
        expected_status: str,
        expected_unit: int,
        values: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Change a ticket only if it is still as read: the first of two presses wins."""
        conds = [Ticket.id == ticket_id, Ticket.status == expected_status,
                 Ticket.unit_id == expected_unit]
        for name, value in (extra or {}).items():
            col = getattr(Ticket, name)
            conds.append(col.is_(None) if value is None else col == value)
        res = await self.s.execute(
            update(Ticket).where(*conds).values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    def add_event(self, event: TicketEvent) -> None:
        self.s.add(event)

    async def events(self, ticket_id: int) -> Sequence[TicketEvent]:
        return (
            await self.s.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
            )
        ).scalars().all()

    async def list(
        self,
        *,
        project_ids: Sequence[int] | None = None,
        unit_id: int | None = None,
        statuses: Sequence[str] | None = None,
        order_by_due: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        q = select(Ticket)
        if project_ids is not None:
            q = q.where(Ticket.project_id.in_(project_ids))
        if unit_id is not None:
            q = q.where(or_(Ticket.unit_id == unit_id))
        if statuses is not None:
            q = q.where(Ticket.status.in_(statuses))
        q = q.order_by(Ticket.due_at, Ticket.id) if order_by_due else q.order_by(Ticket.id.desc())
        if limit is not None:
            q = q.limit(limit).offset(offset)
        return (await self.s.execute(q)).scalars().all()

    async def count(
        self,
        *,
        project_ids: Sequence[int] | None = None,
        unit_id: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> int:
        q = select(func.count(Ticket.id))
        if project_ids is not None:
            q = q.where(Ticket.project_id.in_(project_ids))
        if unit_id is not None:
            q = q.where(Ticket.unit_id == unit_id)
        if statuses is not None:
            q = q.where(Ticket.status.in_(statuses))
        return int((await self.s.execute(q)).scalar_one())

    async def all(self) -> Sequence[Ticket]:
        return (await self.s.execute(select(Ticket).order_by(Ticket.id))).scalars().all()

    async def recent_open_of_project(self, project_id: int, since: datetime) -> Sequence[Ticket]:
        q = select(Ticket).where(
            and_(Ticket.project_id == project_id, Ticket.status.in_(OPEN), Ticket.created_at >= since)
        )
        return (await self.s.execute(q.order_by(Ticket.id.desc()))).scalars().all()

    def add_correction(self, c: TagCorrection) -> None:
        self.s.add(c)

    async def corrections(self) -> Sequence[TagCorrection]:
        return (await self.s.execute(select(TagCorrection).order_by(TagCorrection.id))).scalars().all()


class OutboxRepo(_Repo):
    async def enqueue(
        self,
        *,
        idem_key: str,
        chat_id: int,
        payload: dict[str, Any],
        now: datetime,
        not_before: datetime | None = None,
        ref: str | None = None,
        urgent: bool = False,
    ) -> bool:
        """Insert unless the key exists (idempotent). True when a row was added."""
        ins = self._insert()(OutboxMessage).values(
            idem_key=idem_key,
            chat_id=chat_id,
            payload=payload,
            ref=ref,
            urgent=urgent,
            status="pending",
            attempts=0,
            not_before=not_before or now,
            created_at=now,
        )
        res = await self.s.execute(ins.on_conflict_do_nothing(index_elements=["idem_key"]))
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxMessage]:
        """Rows ready to send, oldest first, leased so another sender skips them."""
        q = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.not_before <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if self.s.bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = (await self.s.execute(q)).scalars().all()
        for r in rows:
            r.claimed_until = now + lease
        await self.s.flush()
        return rows

    async def get(self, row_id: int) -> OutboxMessage | None:
        return await self.s.get(OutboxMessage, row_id)

    async def by_ref(self, ref: str) -> Sequence[OutboxMessage]:
        return (
            await self.s.execute(
                select(OutboxMessage).where(OutboxMessage.ref == ref).order_by(OutboxMessage.id)
            )
        ).scalars().all()

    async def by_key(self, key: str) -> OutboxMessage | None:
        return (
            await self.s.execute(select(OutboxMessage).where(OutboxMessage.idem_key == key))
        ).scalar_one_or_none()

    async def all(self) -> Sequence[OutboxMessage]:
        return (await self.s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()

    async def earliest_pending(self) -> datetime | None:
        return (
            await self.s.execute(
                select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == "pending")
            )
        ).scalar_one_or_none()


class UpdateRepo(_Repo):
    async def seen(self, update_id: int) -> bool:
        return await self.s.get(ProcessedUpdate, update_id) is not None

    async def mark(self, update_id: int, now: datetime) -> bool:
        """Record the update; False when another transaction already did (at most once)."""
        ins = self._insert()(ProcessedUpdate).values(update_id=update_id, processed_at=now)
        res = await self.s.execute(ins.on_conflict_do_nothing(index_elements=["update_id"]))
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


class DraftRepo(_Repo):
    async def get(self, account_id: int, kind: str) -> Draft | None:
        return (
            await self.s.execute(
                select(Draft).where(Draft.account_id == account_id, Draft.kind == kind)
            )
        ).scalar_one_or_none()

    async def current(self, account_id: int, kind: str, nonce: int) -> Draft | None:
        """The draft a button belongs to: None when the draft is gone or was replaced (its
        buttons quote the nonce of the draft they were made for)."""
        draft = await self.get(account_id, kind)
        if draft is None or int(draft.data.get("nonce", -1)) != nonce:
            return None
        return draft

    async def put(self, account_id: int, kind: str, data: dict[str, Any], now: datetime) -> Draft:
        d = await self.get(account_id, kind)
        if d is None:
            d = Draft(account_id=account_id, kind=kind, data=data, created_at=now, updated_at=now)
            self.s.add(d)
        else:
            d.data = data
            d.updated_at = now
        await self.s.flush()
        return d

    async def drop(self, account_id: int, kind: str) -> None:
        d = await self.get(account_id, kind)
        if d is not None:
            await self.s.delete(d)
            await self.s.flush()


class InviteRepo(_Repo):
    def add(self, invite: Invite) -> None:
        self.s.add(invite)

    async def by_hash(self, token_hash: str) -> Invite | None:
        return (
            await self.s.execute(select(Invite).where(Invite.token_hash == token_hash))
        ).scalar_one_or_none()

    async def redeem(self, invite_id: int, account_id: int, now: datetime) -> bool:
        """One atomic UPDATE: only the first redemption of an unexpired invite succeeds."""
        res = await self.s.execute(
            update(Invite)
            .where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.expires_at > now)
            .values(used_at=now, used_by_id=account_id)
            .execution_options(synchronize_session=False)
        )
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


class ProgressRepo(_Repo):
    def add(self, report: ProgressReport) -> None:
        self.s.add(report)

    async def of_project(self, project_id: int) -> Sequence[ProgressReport]:
        return (
            await self.s.execute(
                select(ProgressReport)
                .where(ProgressReport.project_id == project_id)
                .order_by(ProgressReport.created_at)
            )
        ).scalars().all()
