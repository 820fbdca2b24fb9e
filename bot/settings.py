"""Settings from ZHITONG_* environment variables and an optional zhitong.toml (DESIGN §11)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from handlers.config import DeskConfig

PUBLIC_API = "https://api.telegram.org"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHITONG_",
                                      extra="ignore")

    database_url: str = "sqlite:///zhitong.db"
    bot_token: str = ""
    telegram_api: str = PUBLIC_API
    framework: str = "aiogram"
    timezone: str = "Asia/Shanghai"
    bot_username: str = ""
    invite_days: int = 7
    max_text_chars: int = 2000
    rate_limit_per_minute: int = 20
    # Outbox pacing (Telegram: ~1 msg/s per chat, ~30 msg/s overall).
    send_per_chat_interval: float = 1.0
    send_global_per_second: float = 25.0
    # A crashed sender's claimed messages go out again after this many seconds.
    outbox_lease_seconds: float = 15.0
    sweep_interval_seconds: int = 60
    quiet_start: str = "22:00"
    quiet_end: str = "07:30"
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
        if Path("zhitong.toml").exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file="zhitong.toml"))
        return tuple(sources)

    def desk_config(self, bot_username: str | None = None) -> DeskConfig:
        return DeskConfig(
            timezone=ZoneInfo(self.timezone),
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
        )
