"""The problem ledger (问题台账) as an .xlsx workbook, and its per-unit summary sheet (汇总).

One row per ticket, in the columns officials expect (`stats_texts.LEDGER_COLUMNS`), times in the
configured zone. User text is never trusted as a formula (DESIGN §10): every text cell is written
with the string type set explicitly (an inline string, whatever it starts with), and text that a
spreadsheet would read as a formula when retyped (leading = + - @, tab, CR) also gets Excel's own
"quote prefix" cell flag: it shows the text as written, with no apostrophe added to it.

Rows stream from the database in batches into a write-only workbook, so a large ledger does not
load every ticket at once. Phone numbers are masked (138****1111) unless `reveal_phones`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select
from sqlalchemy.orm import aliased

from domain.calendar import working_days_between
from domain.stats import Figures, Period, Scope
from handlers import stats_texts as T
from handlers.texts import rating_name, status_name
from storage.models import Account, Category, Project, Ticket, Unit
from storage.stats_queries import cohort_conditions, query_stats
from storage.uow import UnitOfWork

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000
STATUSES = ("submitted", "in_progress", "resolved", "closed")


@dataclass(frozen=True)
class LedgerFilters:
    """Period on the reporting time (local dates), handling unit, status, and a visibility scope.

    The summary sheet uses the same period and unit (or scope); the status filter applies to the
    ledger rows only, since the statistics are defined over all tickets of the period.
    """

    period: Period = field(default_factory=Period)
    unit_id: int | None = None
    status: str | None = None
    scope: Scope = field(default_factory=Scope.all)

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")


def mask_phone(phone: str | None) -> str:
    """138****1111 (DESIGN §10): keep the first three and the last four digits."""
    if not phone:
        return ""
    p = phone.strip()
    if len(p) <= 4:
        return "*" * len(p)
    if len(p) <= 7:
        return p[:1] + "*" * (len(p) - 3) + p[-2:]
    return p[:3] + "*" * (len(p) - 7) + p[-4:]


def clean_text(value: str) -> str:
    """Control characters that XML cannot carry are dropped (tab, CR and LF are kept)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def text_cell(ws: WriteOnlyWorksheet, value: str | None) -> WriteOnlyCell:
    """A cell that holds `value` as text, never as a formula."""
    text = clean_text(value or "")
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell


def overdue_days(due: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Working days past the due time (a started day counts as one); 0 when not overdue."""
    if end <= due:
        return 0
    return max(1, working_days_between(due.astimezone(tz).date(), end.astimezone(tz).date()))


def _fmt(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _satisfaction(status: str, rating: str | None) -> str:
    if rating:
        return rating_name(rating)
    if status == "closed":
        return T.UNRATED_CLOSED
    if status == "resolved":
        return T.UNRATED
    return ""


def ledger_query(filters: LedgerFilters, tz: ZoneInfo) -> Any:
    reporter = aliased(Account)
    leader = aliased(Account)
    q = (
        select(
            Ticket.number, Project.name, Category.name, Ticket.category_code, Ticket.text,
            reporter.name, reporter.phone, Ticket.created_at, leader.name, Unit.name,
            Ticket.due_at, Ticket.status, Ticket.result, Ticket.resolved_at, Ticket.rated_at,
            Ticket.rating, Ticket.closed_at,
        )
        .select_from(Ticket)
        .join(Project, Project.id == Ticket.project_id)
        .join(Unit, Unit.id == Ticket.unit_id)
        .join(reporter, reporter.id == Ticket.reporter_id)
        .outerjoin(leader, leader.id == Project.leader_id)
        .outerjoin(Category, Category.code == Ticket.category_code)
        .where(*cohort_conditions(filters.scope, filters.period, tz))
        .order_by(Ticket.created_at, Ticket.id)
    )
    if filters.unit_id is not None:
        q = q.where(Ticket.unit_id == filters.unit_id)
    if filters.status is not None:
        q = q.where(Ticket.status == filters.status)
    return q


def ledger_row(ws: WriteOnlyWorksheet, r: Sequence[Any], now: datetime, tz: ZoneInfo,
               reveal_phones: bool) -> list[WriteOnlyCell]:
    (number, project, category, category_code, text, reporter, phone, created, leader, unit,
     due, status, result, resolved, rated, rating, closed) = r
    end = resolved if status in ("resolved", "closed") and resolved is not None else now
    late = overdue_days(due, end, tz)
    days_cell = WriteOnlyCell(ws, value=late)
    values: list[str | None] = [
        number, project, category or category_code, text, reporter,
        (phone or "") if reveal_phones else mask_phone(phone), _fmt(created, tz), leader or "",
        unit, _fmt(due, tz), status_name(status), result or "", _fmt(resolved, tz),
        T.YES if late else T.NO,
    ]
    tail: list[str | None] = [_fmt(rated, tz), _satisfaction(status, rating), _fmt(closed, tz)]
    return [*(text_cell(ws, v) for v in values), days_cell, *(text_cell(ws, v) for v in tail)]


PERCENT_COLUMNS = (T.RESPONSE_RATE, T.RESOLUTION_RATE, T.ON_TIME_RATE, T.SATISFACTION_RATE,
                   T.REOPEN_RATE)


def summary_row(ws: WriteOnlyWorksheet, code: str, name: str, f: Figures) -> list[WriteOnlyCell]:
    numbers: list[tuple[str, float | int | None]] = [
        (T.SUBMITTED, f.submitted), (T.RESPONSE_RATE, f.response_rate),
        (T.RESOLUTION_RATE, f.resolution_rate), (T.ON_TIME_RATE, f.on_time_rate),
        (T.SATISFACTION_RATE, f.satisfaction_rate), (T.RATED, f.rated), (T.UNRATED, f.unrated),
        (T.REOPEN_RATE, f.reopen_rate), (T.OVERDUE_OPEN, f.overdue_open),
        (T.MEAN_DAYS, None if f.mean_days is None else round(f.mean_days, 2)),
        (T.MEDIAN_DAYS, None if f.median_days is None else round(f.median_days, 2)),
    ]
    cells = [text_cell(ws, code), text_cell(ws, name)]
    for column, value in numbers:
        cell = WriteOnlyCell(ws, value=value)
        if column in PERCENT_COLUMNS:
            cell.number_format = "0.0%"
        cells.append(cell)
    return cells


def _header(ws: WriteOnlyWorksheet, columns: Sequence[str]) -> list[WriteOnlyCell]:
    out = []
    for c in columns:
        cell = text_cell(ws, c)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
        out.append(cell)
    return out


LEDGER_WIDTHS = (15, 22, 12, 40, 10, 14, 17, 10, 16, 17, 8, 30, 17, 8, 8, 17, 14, 17)


async def export_ledger(
    uow: UnitOfWork,
    path: str | Path,
    filters: LedgerFilters | None,
    now: datetime,
    tz: ZoneInfo,
    reveal_phones: bool = False,
    progress: Any = None,
) -> int:
    """Write the ledger and the summary sheet to `path`; returns the number of ticket rows.

    `progress`, when given, is called with the running row count after each batch.
    """
    filters = filters or LedgerFilters()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(T.LEDGER_SHEET)
    for i, width in enumerate(LEDGER_WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "B2"
    ws.append(_header(ws, T.LEDGER_COLUMNS))
    count = 0
    result = await uow.session.stream(ledger_query(filters, tz).execution_options(yield_per=BATCH))
    async for partition in result.partitions(BATCH):
        for r in partition:
            ws.append(ledger_row(ws, tuple(r), now, tz, reveal_phones))
        count += len(partition)
        if progress is not None:
            progress(count)

    scope = Scope.unit(filters.unit_id) if filters.unit_id is not None else filters.scope
    report = await query_stats(uow.session, now=now, tz=tz, scope=scope, period=filters.period)
    sm = wb.create_sheet(T.SUMMARY_SHEET)
    sm.column_dimensions["A"].width = 12
    sm.column_dimensions["B"].width = 20
    for i in range(2, len(T.SUMMARY_COLUMNS)):
        sm.column_dimensions[chr(ord("A") + i)].width = 12
    sm.append(_header(sm, T.SUMMARY_COLUMNS))
    for u in report.by_unit:
        sm.append(summary_row(sm, u.code, u.name, u.figures))
    total = summary_row(sm, "", T.TOTAL, report.totals)
    for cell in total:
        cell.font = Font(bold=True)
    sm.append(total)
    sm.append([])
    note = T.SUMMARY_NOTE.format(period=filters.period.label(), now=_fmt(now, tz))
    sm.append([text_cell(sm, note)])
    # Saving compresses the whole workbook: off the event loop.
    await asyncio.to_thread(wb.save, str(path))
    return count
