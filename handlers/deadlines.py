"""Accept and resolve deadlines (DESIGN §8), from the working-day calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import due_after_working_days
from handlers.config import DeskConfig


def accept_due(now: datetime, urgent: bool, config: DeskConfig) -> datetime:
    if urgent:
        return now + timedelta(hours=config.urgent_accept_hours)
    return due_after_working_days(now, config.accept_working_days, config.timezone)


def resolve_due(now: datetime, urgent: bool, category_days: int, config: DeskConfig) -> datetime:
    days = config.urgent_resolve_working_days if urgent else max(1, category_days)
    return due_after_working_days(now, days, config.timezone)
