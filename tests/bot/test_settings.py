"""Settings come from ZHITONG_* variables and reach the desk configuration."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from bot import texts
from bot.cli import main
from bot.settings import Settings, SettingsError


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


def test_morning_push_and_grace_days_reach_the_desk_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().desk_config().morning_push_at, Settings().progress_grace_days) == (
        time(9, 0), 28)
    monkeypatch.setenv("ZHITONG_MORNING_PUSH_AT", "8:15")
    monkeypatch.setenv("ZHITONG_PROGRESS_GRACE_DAYS", "14")
    settings = Settings()
    assert settings.morning_push_at == "08:15"
    config = settings.desk_config()
    assert (config.morning_push_at, config.progress_grace_days) == (time(8, 15), 14)


@pytest.mark.parametrize("value", ["25:00", "9am", "09:60", "0900", ""])
def test_a_bad_morning_push_time_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch,
                                                       value: str) -> None:
    monkeypatch.setenv("ZHITONG_MORNING_PUSH_AT", value)
    with pytest.raises(SettingsError) as caught:
        Settings()
    message = caught.value.format_message()
    assert message.startswith(texts.SETTINGS_INVALID)
    assert caught.value.problems == [texts.SETTING_PROBLEM.format(
        name="ZHITONG_MORNING_PUSH_AT", value=value, reason=texts.BAD_CLOCK_TIME)]


@pytest.mark.parametrize("name", ["ZHITONG_QUIET_START", "ZHITONG_QUIET_END"])
def test_bad_quiet_hours_are_refused_and_good_ones_kept(monkeypatch: pytest.MonkeyPatch,
                                                        name: str) -> None:
    monkeypatch.setenv(name, "25:00")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert caught.value.problems == [texts.SETTING_PROBLEM.format(
        name=name, value="25:00", reason=texts.BAD_CLOCK_TIME)]
    monkeypatch.setenv(name, "07:30:00")  # accepted before validation existed: still is
    config = Settings().desk_config()
    assert time(7, 30) in (config.quiet_start, config.quiet_end)


def test_negative_grace_days_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHITONG_PROGRESS_GRACE_DAYS", "-3")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert caught.value.problems == [texts.SETTING_PROBLEM.format(
        name="ZHITONG_PROGRESS_GRACE_DAYS", value="-3", reason=texts.BAD_GRACE_DAYS)]


def test_send_concurrency_reaches_the_sender_and_zero_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import make_sender

    monkeypatch.setenv("ZHITONG_SEND_CONCURRENCY", "3")
    core = SimpleNamespace(settings=Settings(), uow_factory=None, clock=None)
    sender = make_sender(core, transport=None)  # type: ignore[arg-type]
    assert sender._in_flight._value == 3  # three sends may wait for Telegram at once
    monkeypatch.setenv("ZHITONG_SEND_CONCURRENCY", "0")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert caught.value.problems == [texts.SETTING_PROBLEM.format(
        name="ZHITONG_SEND_CONCURRENCY", value="0", reason=texts.BAD_SEND_CONCURRENCY)]


def test_framework_and_ptb_http_take_known_values_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHITONG_FRAMEWORK", " PTB ")
    settings = Settings()
    assert (settings.framework, settings.ptb_http) == ("ptb", "aiohttp")
    monkeypatch.setenv("ZHITONG_PTB_HTTP", "httpx")
    assert Settings().ptb_http == "httpx"
    # A typo used to start aiogram without a word; now it is named and nothing starts.
    monkeypatch.setenv("ZHITONG_FRAMEWORK", "pbt")
    monkeypatch.setenv("ZHITONG_PTB_HTTP", "curl")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert sorted(caught.value.problems) == sorted([
        texts.SETTING_PROBLEM.format(name="ZHITONG_FRAMEWORK", value="pbt",
                                     reason=texts.BAD_FRAMEWORK),
        texts.SETTING_PROBLEM.format(name="ZHITONG_PTB_HTTP", value="curl",
                                     reason=texts.BAD_PTB_HTTP)])


@pytest.mark.parametrize("command", [["run"], ["sweep", "--now", "2026-11-24T09:00+08:00"]])
def test_zhitong_reports_bad_settings_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                          command: list[str]) -> None:
    monkeypatch.setenv("ZHITONG_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("ZHITONG_MORNING_PUSH_AT", "25:00")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [texts.SETTINGS_INVALID, texts.SETTING_PROBLEM.format(
        name="ZHITONG_MORNING_PUSH_AT", value="25:00", reason=texts.BAD_CLOCK_TIME)]


@pytest.mark.parametrize("command", [["tickets"], ["run"]])
def test_a_bad_timezone_is_refused_naming_the_variable(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """ZHITONG_TIMEZONE=Beijing used to be a ZoneInfoNotFoundError traceback from `zhitong
    tickets`, and 「无法连接数据库」 from `zhitong run` (exit 1)."""
    monkeypatch.setenv("ZHITONG_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHITONG_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("ZHITONG_TIMEZONE", "Beijing")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, (result.exit_code, result.exception)
    assert result.stderr.splitlines() == [texts.SETTINGS_INVALID, texts.SETTING_PROBLEM.format(
        name="ZHITONG_TIMEZONE", value="Beijing", reason=texts.BAD_TIMEZONE)]


@pytest.mark.parametrize("value", ["Beijing", "asia/shanghai", "Asia", "../etc/passwd", ""])
def test_only_a_real_time_zone_is_taken(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ZHITONG_TIMEZONE", value)
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert caught.value.problems == [texts.SETTING_PROBLEM.format(
        name="ZHITONG_TIMEZONE", value=value, reason=texts.BAD_TIMEZONE)]
    monkeypatch.setenv("ZHITONG_TIMEZONE", " Asia/Urumqi ")
    assert str(Settings().desk_config().timezone) == "Asia/Urumqi"


def test_zhitong_toml_takes_the_variable_names_too(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """The settings error says 「zhitong.toml 中的同名项」: `ZHITONG_DATABASE_URL = …` in the
    file used to be ignored without a word (only `database_url` was read)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZHITONG_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZHITONG_TIMEZONE", raising=False)
    monkeypatch.delenv("ZHITONG_INVITE_DAYS", raising=False)
    (tmp_path / "zhitong.toml").write_text(
        'ZHITONG_DATABASE_URL = "sqlite:///county.db"\n'
        'timezone = "Asia/Urumqi"\n'
        "Invite_Days = 3\n", encoding="utf-8")
    settings = Settings()
    assert (settings.database_url, settings.timezone, settings.invite_days) == (
        "sqlite:///county.db", "Asia/Urumqi", 3)
    monkeypatch.setenv("ZHITONG_TIMEZONE", "Asia/Shanghai")  # the environment still wins
    assert Settings().timezone == "Asia/Shanghai"


def test_zhitong_toml_refuses_keys_it_does_not_know(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zhitong.toml").write_text(
        'databse_url = "sqlite:///county.db"\n'
        'timezone = "Asia/Urumqi"\nZHITONG_TIMEZONE = "Asia/Shanghai"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert caught.value.problems == [
        texts.SETTINGS_TOML_UNKNOWN.format(
            file="zhitong.toml", key="databse_url",
            hint=texts.SETTINGS_TOML_DID_YOU_MEAN.format(name="database_url")),
        texts.SETTINGS_TOML_TWICE.format(file="zhitong.toml", first="timezone",
                                         second="ZHITONG_TIMEZONE")]
    (tmp_path / "zhitong.toml").write_text('timezone = "Asia/Urumqi\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["tickets"])
    assert result.exit_code == 2 and "zhitong.toml" in result.stderr
    assert "Traceback" not in result.output
