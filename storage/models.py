"""SQLAlchemy 2 typed models for the domain model of DESIGN §3.

Conventions: snake_case plural tables, named constraints, timezone-aware UTC timestamps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# "As soon as possible" for Ticket.sweep_at: earlier than any real time.
SWEEP_NOW = datetime(1970, 1, 1, tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which forgets zones) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="department")


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    # The stable id from the organisation file; null for people who only joined by invite.
    person_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    days: Mapped[int] = mapped_column(Integer, default=7)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(32))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    service_officer_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    total_investment_wan: Mapped[float | None] = mapped_column(Float)
    annual_plan_wan: Mapped[float | None] = mapped_column(Float)
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_finish: Mapped[date | None] = mapped_column(Date)
    # category code -> unit code: per-project routing overrides (DESIGN §6).
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    colour: Mapped[str | None] = mapped_column(String(8))
    colour_changed_at: Mapped[datetime | None]


class ProjectContact(Base):
    __tablename__ = "project_contacts"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True)


class TicketCounter(Base):
    """Per-day sequence for readable ticket numbers; incremented atomically with UPSERT."""

    __tablename__ = "ticket_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # Who typed it: differs from the reporter when a service officer files it (代为反映).
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    category_code: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    co_unit_ids: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    accept_due_at: Mapped[datetime]
    due_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)
    result_attachments: Mapped[list[Any]] = mapped_column(default=list)
    rating: Mapped[str | None] = mapped_column(String(16))
    rating_reason: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    rating_asks: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    extension_until: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    returned_reason: Mapped[str | None] = mapped_column(Text)
    # First resolution time, for 按期办结率 even after a reopen.
    first_resolved_at: Mapped[datetime | None]
    first_due_at: Mapped[datetime | None]
    # When the scheduler must next look at this ticket (DESIGN §8; scheduler/sweeps.py). Every
    # UPDATE that does not set it resets it to SWEEP_NOW, so a changed deadline, status or unit is
    # planned afresh by the next sweep; NULL once nothing is left to do (closed).
    sweep_at: Mapped[datetime | None] = mapped_column(default=SWEEP_NOW, onupdate=SWEEP_NOW)

    __table_args__ = (
        Index("ix_tickets_status_due_at", "status", "due_at"),
        Index("ix_tickets_sweep_at_id", "sweep_at", "id"),
        Index("ix_tickets_unit_id_status", "unit_id", "status"),
        Index("ix_tickets_project_id_created_at", "project_id", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
    )


class TicketEvent(Base):
    """Append-only audit row, written in the same transaction as the change."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    role: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    update_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


# Outbox rows that may hold their chat's later rows up: leased (being sent), or retried
# (waiting out a 429 or a 5xx). Written out as SQL so that both databases match a query's
# terms to the index.
OUTBOX_HOLDING = text("status = 'pending' AND (claimed_until IS NOT NULL OR attempts > 0)")


class OutboxMessage(Base):
    """A message to send, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(160), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # A neutral description of the message (text, buttons, edit target, photo …).
    payload: Mapped[dict[str, Any]] = mapped_column()
    # A tag to find the message again (e.g. "card:<ticket id>") to update it later.
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        # A claim looks for earlier rows to the same chat still pending (order per chat)...
        Index("ix_outbox_chat_status", "chat_id", "status", "id"),
        # ... and, once per claim, for the chats an earlier row holds up (leased or waiting
        # out a retry): few rows at any time, so this index stays small.
        Index("ix_outbox_chat_holding", "chat_id", "id",
              sqlite_where=OUTBOX_HOLDING, postgresql_where=OUTBOX_HOLDING),
    )


class ProcessedUpdate(Base):
    __tablename__ = "processed_updates"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime]


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    name_hint: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class Draft(Base):
    """Conversation state kept in the database so a restart loses nothing."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("account_id", "kind"),)


class ProgressReport(Base):
    __tablename__ = "progress_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    text: Mapped[str] = mapped_column(Text)
    amount_wan: Mapped[float | None] = mapped_column(Float)
    milestone: Mapped[str | None] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, local
    photos: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class ProjectEvent(Base):
    """Append-only audit of a project's colour and stage changes (四色管理, milestones)."""

    __tablename__ = "project_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(32))  # loaded | colour | stage | milestone_refused
    from_value: Mapped[str | None] = mapped_column(String(32))
    to_value: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class TagCorrection(Base):
    """A category the person or an official corrected: feeds the tagging corpus."""

    __tablename__ = "tag_corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    old_category: Mapped[str] = mapped_column(String(32))
    new_category: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime]


class DashboardToken(Base):
    """Dashboard (大屏) access, hashes only: single-use login links and the sessions they open."""

    __tablename__ = "dashboard_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "login" (single use) or "session" (cookie)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
