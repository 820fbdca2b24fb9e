"""Repositories: queries and inserts. They flush when they need ids, and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ClauseElement

from storage import upserts
from storage.models import (
    SWEEP_NOW,
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
    TicketEvent,
    Unit,
)

OPEN = ("submitted", "in_progress")
# How many queued outbox rows an urgent one may overtake: a 督办 burst of this size (40 s at
# 25 per second) does not delay a reply, and no row waits behind more than this many later ones.
URGENT_JUMP = 1000
T = TypeVar("T")
# The outbox table for Core statements: the sender's hot path skips the ORM's per-row work.
_OUTBOX = cast(Table, OutboxMessage.__table__)


# The statements every update runs are built once, with bound parameters: building a statement
# and computing its cache key costs about as much as running it on SQLite.


@cache
def _account_by_telegram_id() -> Any:
    return select(Account).where(Account.telegram_id == bindparam("tg"))


@cache
def _project_ids_of_account() -> Any:
    aid: Any = bindparam("aid")
    return union_all(
        select(literal("c").label("r"), ProjectContact.project_id.label("p")).where(
            ProjectContact.account_id == aid),
        select(literal("l").label("r"), Project.id.label("p")).where(Project.leader_id == aid),
        select(literal("o").label("r"), Project.id.label("p")).where(
            Project.service_officer_id == aid),
    )


@cache
def _drafts_of_account() -> Any:
    return select(Draft).where(Draft.account_id == bindparam("aid"))


@cache
def _recent_open_of_project() -> Any:
    return (select(Ticket)
            .where(Ticket.project_id == bindparam("pid"), Ticket.status.in_(OPEN),
                   Ticket.created_at >= bindparam("since", type_=Ticket.created_at.type))
            .order_by(Ticket.id.desc()))


@cache
def _claim_due(postgres: bool) -> Any:
    t = _OUTBOX
    now = bindparam("now", type_=t.c.not_before.type)
    expired = bindparam("expired", type_=t.c.claimed_until.type)
    held = bindparam("held", expanding=True, type_=t.c.id.type)
    # Order per chat across senders. A row is not taken while an earlier one to its chat is
    # held by another sender (leased), or waits out a retry (a 429, a 5xx: counted in
    # `attempts`; an edit waiting for the card it edits is not counted, and does not hold
    # the chat's replies back until that card has come through a backlog). Looked at before
    # the LIMIT, so that a chat with many rows behind such a one does not fill the claim with
    # rows it throws out, and every other chat behind them waits. Rows this sender holds
    # (`held`: in its lanes, or sent) do not hold it back: it queues the row behind them. A
    # row deferred past quiet hours (not due, no error) does not either: urgent ones may go
    # ahead of it.
    e = t.alias("earlier")
    # The chats held up, each from its first such row on: few at any time, found through the
    # partial index ix_outbox_chat_holding (its terms written as there, a literal and not a
    # parameter, so that both databases use it), once per claim rather than once per row.
    holding_up = (
        select(e.c.chat_id, func.min(e.c.id).label("from_id"))
        .where(e.c.status == literal_column("'pending'"),
               or_(e.c.claimed_until.is_not(None), e.c.attempts > literal_column("0")),
               or_(and_(e.c.claimed_until >= expired, e.c.id.not_in(held)),
                   and_(e.c.not_before > now, e.c.attempts > literal_column("0"))))
        .group_by(e.c.chat_id)
        .cte("holding_up")
    )
    held_back = select(holding_up.c.chat_id).where(holding_up.c.chat_id == t.c.chat_id,
                                                   holding_up.c.from_id < t.c.id)
    def turn(x: Any) -> Any:
        # Replies to the person typing and urgent tickets' cards are marked urgent: they go
        # ahead of a burst of reminders (a morning's 督办 at 25 per second takes minutes), but
        # only by `jump` rows, so a flood of urgent rows cannot hold the others back for ever.
        return case((x.c.urgent, x.c.id - bindparam("jump", type_=x.c.id.type)), else_=x.c.id)

    candidates = (
        select(t.c.id, t.c.chat_id, turn(t).label("turn"))
        .where(
            t.c.status == "pending",
            t.c.not_before <= now,
            or_(t.c.claimed_until.is_(None), t.c.claimed_until < expired),
            ~held_back.exists(),
        )
        .order_by(turn(t), t.c.id)
        .limit(bindparam("limit"))
    )
    if postgres:
        # Rows another sender holds stay with it (SKIP LOCKED).
        candidates = candidates.with_for_update(skip_locked=True)
    cand = candidates.cte("candidates")
    also = cand.alias("also_claimed")
    earlier_due = t.alias("earlier_due")
    # Then, among the rows locked: not one whose chat has an earlier row due, whose turn came
    # before it, that this claim did not get. Another claim is taking that one right now
    # (PostgreSQL: locked, so skipped here, yet free as far as this statement can see). An
    # earlier row whose turn comes later (an urgent row jumped it) does not count: it was
    # simply not reached, and counting it could leave every claim empty for good.
    ahead = (
        select(earlier_due.c.id)
        .where(earlier_due.c.chat_id == cand.c.chat_id, earlier_due.c.status == "pending",
               earlier_due.c.id < cand.c.id, earlier_due.c.not_before <= now,
               turn(earlier_due) < cand.c.turn,
               earlier_due.c.id.not_in(select(also.c.id)), earlier_due.c.id.not_in(held))
    )
    chosen = select(cand.c.id).where(~ahead.exists())
    return (
        update(t)
        .where(t.c.id.in_(chosen.scalar_subquery()))
        .values(claimed_until=bindparam("until", type_=t.c.claimed_until.type))
        .returning(t.c.id, t.c.idem_key, t.c.chat_id, t.c.payload, t.c.attempts)
    )


@cache
def _finish_sent() -> Any:
    t = _OUTBOX
    return update(t).where(t.c.id == bindparam("rid")).values(
        status="sent", last_error=None, sent_at=bindparam("at", type_=t.c.sent_at.type),
        message_id=bindparam("mid"), claimed_until=None, attempts=t.c.attempts + 1,
    )


@dataclass(frozen=True)
class ClaimedRow:
    """What the sender needs of an outbox row it leased (plain values, no session)."""

    id: int
    idem_key: str
    chat_id: int
    payload: dict[str, Any]
    attempts: int
    until: datetime  # when the lease it was claimed with ends


@cache
def _by_primary_key(model: type[Any]) -> Any:
    (column,) = model.__mapper__.primary_key
    return select(model).where(column == bindparam("pk"))


def _loaded(obj: object) -> dict[str, Any] | None:
    """The attributes of an object still persistent in its session and not expired (else
    None), read without loading anything."""
    state = instance_state(obj)
    return state.dict if state.persistent and not state.expired_attributes else None


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        # Rows `_get` found, held for the unit of work: the session's identity map keeps
        # objects only weakly, so a unit or account a caller let go of (a `Route`, a `names`
        # lookup) was selected again by the next `_get` of the same update.
        self._held: dict[Any, Any] = {}

    async def _get(self, model: type[T], pk: int) -> T | None:
        """`Session.get`, with a select built once when the row is not in the session yet
        (`Session.get` builds its query on every miss)."""
        key = identity_key(model, pk)
        if key in self.s.identity_map:
            found = await self.s.get(model, pk)
        else:
            stmt = _by_primary_key(cast(Any, model))
            found = cast(T | None, (await self.s.execute(stmt, {"pk": pk}))
                         .scalar_one_or_none())
        if found is not None:
            self._held[key] = found
        return found


class OrgRepo(_Repo):
    """Organisation reads. Categories and the dispatcher are read once per unit of work: one
    update asks for them several times, and they change only through `zhitong org load`."""

    def __init__(self, session: AsyncSession, accounts: AccountRepo) -> None:
        super().__init__(session)
        self._accounts = accounts
        self._categories: Sequence[Category] | None = None
        self._dispatcher: tuple[Unit | None] | None = None

    async def unit(self, unit_id: int) -> Unit | None:
        return await self._get(Unit, unit_id)

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
        self._accounts.forget_memberships()

    async def project(self, project_id: int) -> Project | None:
        return await self._get(Project, project_id)

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
            self._accounts.forget_memberships()


class AccountRepo(_Repo):
    """The person pressing and the people shown a card are looked up by Telegram id, and their
    project memberships read, several times in one update (the actor, then each card's
    viewer): both are remembered for the unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._by_telegram: dict[int, Account] = {}
        self._memberships: dict[int, tuple[frozenset[int], frozenset[int], frozenset[int]]] = {}

    async def get(self, account_id: int) -> Account | None:
        return await self._get(Account, account_id)

    async def by_telegram_id(self, telegram_id: int) -> Account | None:
        known = self._by_telegram.get(telegram_id)
        # Still this person's only while the object says so (an org load or an invite may
        # move a Telegram id within the unit of work); not-found is never remembered.
        loaded = _loaded(known) if known is not None else None
        if loaded is not None and loaded.get("telegram_id") == telegram_id:
            return known
        found = (
            await self.s.execute(_account_by_telegram_id(), {"tg": telegram_id})
        ).scalar_one_or_none()
        if found is not None:
            self._by_telegram[telegram_id] = found
        return found

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
        """(contact of, leader of, service officer of) project ids, in one statement, once per
        unit of work (OrgRepo drops them when it writes the organisation)."""
        known = self._memberships.get(account_id)
        if known is None:
            rows = (await self.s.execute(_project_ids_of_account(), {"aid": account_id})).all()
            found: dict[str, set[int]] = {"c": set(), "l": set(), "o": set()}
            for role, project_id in rows:
                found[str(role)].add(int(project_id))
            known = self._memberships[account_id] = (
                frozenset(found["c"]), frozenset(found["l"]), frozenset(found["o"]))
        contact, leader, officer = known
        return set(contact), set(leader), set(officer)

    def forget_memberships(self) -> None:
        """Drop the remembered project memberships (after contacts or projects were written)."""
        self._memberships.clear()


class TicketRepo(_Repo):
    async def next_number(self, day: str) -> str:
        """Atomic per-day sequence (UPSERT … RETURNING), unique under concurrency."""
        seq = (await self.s.execute(upserts.ticket_counter_next(), {"day": day})).scalar_one()
        return f"{day}-{seq:03d}"

    async def get(self, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        """Read once per unit of work (held like `_get`'s rows). A button press reads its
        ticket to check access and again to change it; the second read would return the same
        row, since every change made here goes through the session or `compare_and_set`
        (which brings the object in line). A change by another transaction meanwhile is caught
        by the compare-and-set guard. `for_update` always reads (and locks)."""
        key = identity_key(Ticket, ticket_id)
        known = None if for_update else self._held.get(key)
        if known is not None and _loaded(known) is not None:
            return cast(Ticket, known)
        q = select(Ticket).where(Ticket.id == ticket_id)
        if for_update:
            q = q.with_for_update()
        found = (await self.s.execute(q.execution_options(populate_existing=True))
                 ).scalar_one_or_none()
        if found is not None:
            self._held[key] = found
        return found

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
        ticket: Ticket,
        expected_status: str,
        expected_unit: int,
        values: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Change a ticket only if it is still as read: the first of two presses wins. When
        it wins, `ticket` takes the values as stored, without a second UPDATE at the next
        flush."""
        conds = [Ticket.id == ticket.id, Ticket.status == expected_status,
                 Ticket.unit_id == expected_unit]
        for name, value in (extra or {}).items():
            col = getattr(Ticket, name)
            conds.append(col.is_(None) if value is None else col == value)
        # What the column's onupdate would write, named so that the object can take it too.
        values = {"sweep_at": SWEEP_NOW, **values}
        res = await self.s.execute(
            update(Ticket).where(*conds).values(**values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            return False
        for name, value in values.items():
            if isinstance(value, ClauseElement):
                # Computed by the database (e.g. a counter + 1): read again when next needed.
                self.s.expire(ticket, [name])
            else:
                set_committed_value(ticket, name, value)
        return True

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
        return (await self.s.execute(_recent_open_of_project(),
                                     {"pid": project_id, "since": since})).scalars().all()

    def add_correction(self, c: TagCorrection) -> None:
        self.s.add(c)

    async def corrections(self) -> Sequence[TagCorrection]:
        return (await self.s.execute(select(TagCorrection).order_by(TagCorrection.id))).scalars().all()


class OutboxRepo(_Repo):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._staged: list[dict[str, Any]] | None = None

    def write_together(self) -> None:
        """From now on in this unit of work, rows from `enqueue` are written together, in
        order, by one executemany: before any other outbox statement that could see them, and
        at commit. An update that files a report enqueues four or five messages."""
        if self._staged is None:
            self._staged = []

    async def _flush_if_held(self, field: str, value: str) -> None:
        """Write the held rows before a read that one of them would answer (a card refresh
        reads cards sent by earlier updates: the notices held meanwhile wait for commit)."""
        if self._staged and any(row[field] == value for row in self._staged):
            await self.flush()

    async def flush(self) -> None:
        """Write the rows `enqueue` is holding (see `write_together`)."""
        if self._staged:
            rows, self._staged = self._staged, []
            await self.s.execute(upserts.outbox_insert(), rows)

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
        """Insert unless the key exists (idempotent). True when a row was added — or, after
        `write_together`, when it was taken to be written (a key already there is skipped then)."""
        row = {
            "idem_key": idem_key, "chat_id": chat_id, "payload": payload, "ref": ref,
            "urgent": urgent, "status": "pending", "attempts": 0,
            "not_before": not_before or now, "created_at": now,
        }
        if self._staged is not None:
            self._staged.append(row)
            return True
        res = await self.s.execute(upserts.outbox_insert(), row)
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    async def claim_due(self, now: datetime, limit: int, lease: timedelta,
                        urgent_jump: int = URGENT_JUMP,
                        expired_before: datetime | None = None,
                        held: Sequence[int] = ()) -> list[ClaimedRow]:
        """Rows ready to send, oldest first except that an urgent row goes ahead of up to
        `urgent_jump` rows queued before it; leased so another sender skips them; returned in
        queue order (by id). A row another sender leased is taken once its lease ran out
        before `expired_before` (default `now`).

        One statement: UPDATE … WHERE id IN (the due rows) RETURNING; on PostgreSQL the inner
        select skips rows another sender holds locked (FOR UPDATE SKIP LOCKED)."""
        await self.flush()
        stmt = _claim_due(self.s.bind.dialect.name == "postgresql")
        until = now + lease
        rows = (await self.s.execute(
            stmt, {"now": now, "limit": limit, "until": until, "jump": urgent_jump,
                   "expired": now if expired_before is None else expired_before,
                   "held": list(held)})).all()
        claimed = [ClaimedRow(int(r.id), str(r.idem_key), int(r.chat_id), dict(r.payload or {}),
                              int(r.attempts), until) for r in rows]
        claimed.sort(key=lambda r: r.id)  # RETURNING promises no order
        return claimed

    async def fail(self, row_id: int, now: datetime, reason: str,
                   leased_until: datetime) -> bool:
        """Mark one claimed row failed for good, in one UPDATE (sent rows: `finish_sent`),
        only while the lease it is held by (`leased_until`) stands: once it ran out, another
        sender may hold the row, and clearing its lease would let a third take it too.
        Whether the row was marked."""
        t = _OUTBOX
        return await self._update_held(row_id, leased_until, {
            "status": "failed", "last_error": reason, "sent_at": now, "message_id": None,
            "claimed_until": None, "attempts": t.c.attempts + 1})

    async def _update_held(self, row_id: int, leased_until: datetime,
                           values: dict[str, Any]) -> bool:
        """One pending row, while `leased_until` is its lease: whether it was updated."""
        await self.flush()
        t = _OUTBOX
        rows = await self.s.execute(
            update(t).where(t.c.id == row_id, t.c.status == "pending",
                            t.c.claimed_until == leased_until)
            .values(**values).returning(t.c.id))
        return rows.first() is not None

    async def finish_sent(self, sent: Sequence[tuple[int, int | None]], now: datetime) -> None:
        """Mark several rows sent, (row id, message id) each, in one executemany."""
        await self.flush()
        if not sent:
            return
        await self.s.execute(_finish_sent(), [{"rid": rid, "mid": mid, "at": now}
                                              for rid, mid in sent])

    async def release_many(self, row_ids: Sequence[int],
                           leased_until: datetime | None = None) -> None:
        """End the lease of rows a sender gives back unsent. With `leased_until` (the lease
        it holds them by) only while that very lease stands: once it ran out, another sender
        may have claimed the row, and clearing its lease would let a third take it too.
        Compared for equality: a later lease is told apart whatever the hosts' clocks say."""
        await self.flush()
        if not row_ids:
            return
        t = _OUTBOX
        stmt = update(t).where(t.c.id.in_(list(row_ids)))
        if leased_until is not None:
            stmt = stmt.where(t.c.claimed_until == leased_until)
        await self.s.execute(stmt.values(claimed_until=None))

    async def renew_many(self, row_ids: Sequence[int], leased_until: datetime,
                         until: datetime) -> set[int]:
        """Extend the lease of rows a sender still holds (a slow send, a long wait) to `until`,
        before it runs out; the ids renewed. A row missing from the answer is no longer this
        sender's: its lease ran out and another sender claimed it, or it was finished."""
        await self.flush()
        if not row_ids:
            return set()
        t = _OUTBOX
        rows = await self.s.execute(
            update(t)
            .where(t.c.id.in_(list(row_ids)), t.c.status == "pending",
                   t.c.claimed_until == leased_until)
            .values(claimed_until=until)
            .returning(t.c.id)
        )
        return {int(r.id) for r in rows}

    async def postpone(self, row_id: int, not_before: datetime, reason: str,
                       count: bool, leased_until: datetime) -> bool:
        """Give a claimed row back to be sent again from `not_before`, only while the lease
        it is held by stands (as `fail`). Whether the row was postponed."""
        t = _OUTBOX
        values: dict[str, Any] = {"not_before": not_before, "claimed_until": None,
                                  "last_error": reason}
        if count:
            values["attempts"] = t.c.attempts + 1
        return await self._update_held(row_id, leased_until, values)

    async def send_state(self, row_id: int) -> tuple[str, int | None] | None:
        """(status, message id) of one row, or None when there is no such row."""
        await self.flush()
        t = _OUTBOX
        row = (await self.s.execute(
            select(t.c.status, t.c.message_id).where(t.c.id == row_id))).first()
        return None if row is None else (str(row.status), row.message_id)

    async def get(self, row_id: int) -> OutboxMessage | None:
        await self.flush()
        return await self.s.get(OutboxMessage, row_id)

    async def by_ref(self, ref: str) -> Sequence[OutboxMessage]:
        await self._flush_if_held("ref", ref)
        return (
            await self.s.execute(
                select(OutboxMessage).where(OutboxMessage.ref == ref).order_by(OutboxMessage.id)
            )
        ).scalars().all()

    async def by_key(self, key: str) -> OutboxMessage | None:
        await self._flush_if_held("idem_key", key)
        return (
            await self.s.execute(select(OutboxMessage).where(OutboxMessage.idem_key == key))
        ).scalar_one_or_none()

    async def all(self) -> Sequence[OutboxMessage]:
        await self.flush()
        return (await self.s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()

    async def earliest_pending(self) -> datetime | None:
        await self.flush()
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
        res = await self.s.execute(upserts.update_mark(),
                                   {"update_id": update_id, "processed_at": now})
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


class DraftRepo(_Repo):
    """Drafts of an account are read in one query, once per unit of work: a message is offered
    to several plug-ins, each asking for its own kind of draft. Every draft write goes through
    this repository, so the memo stays true for the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._of: dict[int, dict[str, Draft]] = {}

    async def _all(self, account_id: int) -> dict[str, Draft]:
        drafts = self._of.get(account_id)
        if drafts is None:
            rows = (await self.s.execute(_drafts_of_account(), {"aid": account_id})).scalars().all()
            drafts = self._of[account_id] = {d.kind: d for d in rows}
        return drafts

    async def get(self, account_id: int, kind: str) -> Draft | None:
        return (await self._all(account_id)).get(kind)

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
            self._of[account_id][kind] = d
        else:
            d.data = data
            d.updated_at = now
        await self.s.flush()
        return d

    async def drop(self, account_id: int, kind: str) -> None:
        await self.take(account_id, kind)

    async def take(self, account_id: int, kind: str) -> bool:
        """Delete the draft; whether this transaction deleted it. False also when another
        transaction took it first: a button pressed twice at once on two workers (on
        PostgreSQL this DELETE waits for the other and then finds nothing), so only one of
        them files the report."""
        d = await self.get(account_id, kind)
        if d is None:
            return False
        del self._of[account_id][kind]
        self.s.expunge(d)
        t = cast(Table, Draft.__table__)
        gone = await self.s.execute(delete(t).where(t.c.id == d.id).returning(t.c.id))
        return gone.first() is not None


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
