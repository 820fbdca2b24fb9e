"""Settings from ZHITONG_* environment variables and an optional zhitong.toml (DESIGN §11)."""

from __future__ import annotations

import difflib
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from pydantic import ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot import texts
from handlers.config import DeskConfig

PUBLIC_API = "https://api.telegram.org"
TOML_FILE = "zhitong.toml"
ENV_PREFIX = "ZHITONG_"

_CLOCK_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_clock_time(value: str) -> time:
    """``"09:00"`` (also ``"9:00"``) → 09:00; anything else (``"25:00"``, ``"9am"``) is refused."""
    m = _CLOCK_TIME.fullmatch(value.strip())
    if m is None:
        raise ValueError(texts.BAD_CLOCK_TIME)
    return time(int(m.group(1)), int(m.group(2)))


class SettingsError(click.ClickException):
    """Settings that cannot be used: every bad ZHITONG_* variable named, in Chinese.

    A ClickException, so every `zhitong` command reports it in those words (exit status 2)
    instead of a traceback.
    """

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join([texts.SETTINGS_INVALID, *problems]))

    @classmethod
    def from_validation(cls, exc: ValidationError) -> SettingsError:
        problems = []
        for err in exc.errors():
            name = "ZHITONG_" + "_".join(str(part) for part in err["loc"]).upper()
            cause = (err.get("ctx") or {}).get("error")
            reason = str(cause) if err["type"] == "value_error" and cause is not None \
                else texts.SETTING_BAD_VALUE.format(detail=err["msg"])
            problems.append(texts.SETTING_PROBLEM.format(name=name, value=err.get("input", ""),
                                                         reason=reason))
        return cls(problems)

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True, file=file)


# Whole-number settings with a least value: (least, the reason shown when it is below).
_LEAST: dict[str, tuple[int, str]] = {
    "send_concurrency": (1, texts.BAD_SEND_CONCURRENCY),
    "progress_grace_days": (0, texts.BAD_GRACE_DAYS),
}

# Settings with a fixed set of values: (the values, the reason shown for anything else).
_CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "framework": (("aiogram", "ptb"), texts.BAD_FRAMEWORK),
    "ptb_http": (("aiohttp", "httpx"), texts.BAD_PTB_HTTP),
}


def read_toml(path: Path) -> dict[str, Any]:
    """zhitong.toml's settings by field name. A key may be spelt as the field (``timezone``)
    or as its environment variable (``ZHITONG_TIMEZONE``), in either case; any other key is
    refused by name, since an ignored line would look like a setting that took effect."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError([texts.SETTINGS_TOML_UNREADABLE.format(file=path, error=exc)]) \
            from None
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    spelt: dict[str, str] = {}
    problems = []
    for key, value in data.items():
        name = key.lower().removeprefix(ENV_PREFIX.lower())
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = texts.SETTINGS_TOML_DID_YOU_MEAN.format(name=close[0]) if close else ""
            problems.append(texts.SETTINGS_TOML_UNKNOWN.format(file=path, key=key, hint=hint))
        elif name in values:
            problems.append(texts.SETTINGS_TOML_TWICE.format(file=path, first=spelt[name],
                                                             second=key))
        else:
            values[name], spelt[name] = value, key
    if problems:
        raise SettingsError(problems)
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX,
                                      extra="ignore")

    database_url: str = "sqlite:///zhitong.db"
    bot_token: str = ""
    telegram_api: str = PUBLIC_API
    framework: str = "aiogram"
    # How the PTB runtime talks HTTP: aiohttp through PTB's BaseRequest (a third of httpx's CPU
    # per request), or httpx, PTB's stock client (SOCKS proxies).
    ptb_http: str = "aiohttp"
    timezone: str = "Asia/Shanghai"
    bot_username: str = ""
    invite_days: int = 7
    max_text_chars: int = 2000
    rate_limit_per_minute: int = 20
    # Outbox pacing (Telegram: ~1 msg/s per chat, ~30 msg/s overall).
    send_per_chat_interval: float = 1.0
    send_global_per_second: float = 25.0
    # Pushes waiting for Telegram's answer at once (other chats meanwhile; one per chat). The
    # rate above needs about rate × round trip: 8 keeps 25/s up to a 0.3 s round trip.
    send_concurrency: int = 8
    # A crashed sender's claimed messages go out again after this many seconds.
    outbox_lease_seconds: float = 15.0
    outbox_linger_seconds: float = 0.02
    sweep_interval_seconds: int = 60
    quiet_start: str = "22:00"
    quiet_end: str = "07:30"
    # The daily 督办 of overdue tickets and its escalations ("HH:MM", local time).
    morning_push_at: str = "09:00"
    # Days a newly loaded project may go without a first progress report before it is flagged.
    progress_grace_days: int = 28
    remind_before_working_days: int = 1
    urgent_remind_before_hours: int = 1
    progress_remind_day: int = 25
    escalate_leader_after_days: int = 2
    escalate_admin_after_days: int = 5
    rating_reask_after_days: int = 2
    rating_autoclose_after_days: int = 5
    dashboard_token: str = ""
    # Where officials open the dashboard (the login links /dashboard hands out point here).
    dashboard_url: str = "http://127.0.0.1:8080"
    # Webhook mode: Telegram sends this in X-Telegram-Bot-Api-Secret-Token (1-256 of A-Z a-z 0-9 _ -).
    webhook_secret: str = ""
    data_dir: str = "zhitong-data"

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError.from_validation(exc) from None

    @field_validator("morning_push_at")
    @classmethod
    def _check_clock_time(cls, value: str) -> str:
        return parse_clock_time(value).strftime("%H:%M")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        # Checked here, so a typo is named at start-up rather than met as a traceback (or
        # a "database" error) wherever a time is first shown.
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):  # (OSError: "Asia", a folder)
            raise ValueError(texts.BAD_TIMEZONE) from None
        return value.strip()

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _check_quiet_time(cls, value: str) -> str:
        # Anything Python reads as a time of day ("22:00", "07:30:00") keeps working as before;
        # the rest is named at start-up instead of failing later with a traceback.
        try:
            time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(texts.BAD_CLOCK_TIME) from None
        return value.strip()

    @field_validator(*_CHOICES)
    @classmethod
    def _check_choice(cls, value: str, info: ValidationInfo) -> str:
        allowed, problem = _CHOICES[info.field_name or ""]
        value = value.strip().lower()
        if value not in allowed:
            raise ValueError(problem)
        return value

    @field_validator(*_LEAST)
    @classmethod
    def _check_least(cls, value: int, info: ValidationInfo) -> int:
        least, problem = _LEAST[info.field_name or ""]
        if value < least:
            raise ValueError(problem)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[Any] = [init_settings, env_settings]
        if Path(TOML_FILE).exists():
            sources.append(InitSettingsSource(settings_cls, read_toml(Path(TOML_FILE))))
        return tuple(sources)

    def desk_config(self, bot_username: str | None = None) -> DeskConfig:
        return DeskConfig(
            timezone=ZoneInfo(self.timezone),
            # A placeholder only until the runtime's getMe answers; `zhitong invite` never
            # prints it (it asks getMe itself, or refuses).
            bot_username=bot_username or self.bot_username or "zhitong_bot",
            invite_days=self.invite_days,
            max_text_chars=self.max_text_chars,
            rate_limit_per_minute=self.rate_limit_per_minute,
            remind_before_working_days=self.remind_before_working_days,
            urgent_remind_before_hours=self.urgent_remind_before_hours,
            progress_remind_day=self.progress_remind_day,
            escalate_leader_after_days=self.escalate_leader_after_days,
            escalate_admin_after_days=self.escalate_admin_after_days,
            rating_reask_after_days=self.rating_reask_after_days,
            rating_autoclose_after_days=self.rating_autoclose_after_days,
            quiet_start=time.fromisoformat(self.quiet_start),
            quiet_end=time.fromisoformat(self.quiet_end),
            morning_push_at=parse_clock_time(self.morning_push_at),
            progress_grace_days=self.progress_grace_days,
        )
