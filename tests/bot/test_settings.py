"""Settings come from ZHITONG_* variables and reach the desk configuration."""

from __future__ import annotations

import pytest

from bot.settings import Settings


def test_environment_reaches_the_desk_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHITONG_REMIND_BEFORE_WORKING_DAYS", "2")
    monkeypatch.setenv("ZHITONG_URGENT_REMIND_BEFORE_HOURS", "3")
    monkeypatch.setenv("ZHITONG_PROGRESS_REMIND_DAY", "20")
    monkeypatch.setenv("ZHITONG_QUIET_START", "21:30")
    monkeypatch.setenv("ZHITONG_TIMEZONE", "Asia/Urumqi")
    config = Settings().desk_config("some_bot")
    assert (config.remind_before_working_days, config.urgent_remind_before_hours,
            config.progress_remind_day) == (2, 3, 20)
    assert config.quiet_start.strftime("%H:%M") == "21:30"
    assert str(config.timezone) == "Asia/Urumqi" and config.bot_username == "some_bot"
