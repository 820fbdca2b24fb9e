"""Desk configuration as plain data; bot/settings.py fills it from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DeskConfig:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    bot_username: str = "zhitong_bot"
    invite_days: int = 7
    max_text_chars: int = 2000
    rate_limit_per_minute: int = 20
    accept_working_days: int = 1
    urgent_accept_hours: int = 2
    urgent_resolve_working_days: int = 1
    duplicate_window_days: int = 30
    duplicate_threshold: float = 0.6
    page_size: int = 8
    # Reminder ladder (DESIGN §8); the scheduler reads these.
    remind_before_working_days: int = 1
    urgent_remind_before_hours: int = 1
    escalate_leader_after_days: int = 2
    escalate_admin_after_days: int = 5
    rating_reask_after_days: int = 2
    rating_autoclose_after_days: int = 5
    # Day of the month from which enterprises without a progress report are reminded.
    progress_remind_day: int = 25
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 30)
    # The daily 督办 of overdue tickets and the escalations go out at this local time on each
    # working day (scheduler/jobs.py).
    morning_push_at: time = time(9, 0)
    # A project loaded less than this many days ago that never reported progress is not flagged
    # red or black for the missing report yet (domain.progress.ColourRules.first_report_grace_days).
    progress_grace_days: int = 28
