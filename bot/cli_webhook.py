"""`zhitong webhook`: what Telegram knows of the bot's webhook, and removing it.

For webhook deployments: Telegram keeps the updates it could not push and the last error it
got, and only getWebhookInfo shows them. Plain HTTP here, no bot framework: the answer is a
small JSON object, and these commands should start at once."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot import texts
from bot.settings import Settings

TIMEOUT_SECONDS = 15
# A push error older than this is history, not a reason to check the workers now.
RECENT_ERROR_SECONDS = 600


class ApiError(Exception):
    """The Bot API could not be reached or refused the call; the message is for the person."""


async def call_api(settings: Settings, method: str, params: dict[str, Any],
                   timeout: float = TIMEOUT_SECONDS) -> Any:
    """One Bot API method's result; ApiError (in words for the person) when there is none."""
    import aiohttp

    api = settings.telegram_api.rstrip("/")
    url = f"{api}/bot{settings.bot_token}/{method}"
    try:
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.post(url, json=params) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = None
            status = resp.status
    except (aiohttp.InvalidURL, ValueError) as exc:
        # aiohttp's message is the whole URL, token included: never shown.
        raise ApiError(texts.WEBHOOK_BAD_API_URL.format(api=settings.telegram_api)) from exc
    except TimeoutError as exc:
        raise ApiError(texts.WEBHOOK_API_TIMEOUT.format(
            api=settings.telegram_api, seconds=f"{timeout:g}")) from exc
    except (aiohttp.ClientError, OSError) as exc:
        error = (str(exc) or exc.__class__.__name__).replace(settings.bot_token, "…")
        raise ApiError(texts.WEBHOOK_API_UNREACHABLE.format(
            api=settings.telegram_api, error=error)) from exc
    if not isinstance(body, dict) or "ok" not in body:
        raise ApiError(texts.WEBHOOK_NOT_BOT_API.format(api=settings.telegram_api,
                                                        status=status))
    if not body.get("ok"):
        if status == 401:
            raise ApiError(texts.WEBHOOK_BAD_TOKEN)
        if status == 404:
            raise ApiError(texts.WEBHOOK_NOT_FOUND.format(api=settings.telegram_api))
        raise ApiError(texts.WEBHOOK_API_ERROR.format(
            status=body.get("error_code", status), error=body.get("description", "")))
    return body.get("result")


def _settings_with_token() -> Settings:
    settings = Settings()
    if not settings.bot_token:
        click.echo(texts.WEBHOOK_NO_TOKEN, err=True)
        sys.exit(2)
    return settings


def _run_call(settings: Settings, method: str, params: dict[str, Any]) -> Any:
    try:
        return asyncio.run(call_api(settings, method, params))
    except ApiError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def describe(info: dict[str, Any], timezone: str, now: datetime) -> list[str]:
    """getWebhookInfo as lines for an operator, with what to do about what is wrong."""
    from bot.runtime_common import ALLOWED_UPDATES

    url = str(info.get("url") or "")
    pending = int(info.get("pending_update_count") or 0)
    if not url:
        lines = [texts.WEBHOOK_NONE]
        if pending:
            lines.append(texts.WEBHOOK_PENDING.format(count=pending))
        return lines
    lines = [texts.WEBHOOK_URL.format(url=url),
             texts.WEBHOOK_PENDING.format(count=pending)]
    if info.get("max_connections"):
        lines.append(texts.WEBHOOK_MAX_CONNECTIONS.format(count=info["max_connections"]))
    if info.get("ip_address"):
        lines.append(texts.WEBHOOK_IP.format(ip=info["ip_address"]))
    allowed = info.get("allowed_updates")
    # Absent means Telegram's default, which includes every type the bot asks for.
    lines.append(texts.WEBHOOK_ALLOWED.format(
        types=", ".join(allowed) if allowed else texts.WEBHOOK_ALLOWED_DEFAULT))
    recent_error = False
    if info.get("last_error_date"):
        at = datetime.fromtimestamp(int(info["last_error_date"]), UTC)
        age = max(0.0, (now - at).total_seconds())
        # Telegram keeps the last error until the next one: an old one says little now.
        recent_error = age <= RECENT_ERROR_SECONDS
        lines.append(texts.WEBHOOK_LAST_ERROR.format(
            when=at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S"),
            ago=texts.webhook_error_age(age), error=info.get("last_error_message", "")))
    else:
        lines.append(texts.WEBHOOK_NO_ERROR)
    missing = [t for t in ALLOWED_UPDATES if allowed and t not in allowed]
    if missing:
        lines.append(texts.WEBHOOK_MISSING_TYPES.format(types=", ".join(missing)))
    if recent_error and pending:
        lines.append(texts.WEBHOOK_FAILING_HINT)
    return lines


@click.group()
def webhook() -> None:
    """Webhook 状态:查看(info)或删除(delete)Telegram 登记的 webhook。"""


@webhook.command()
@click.option("--json", "as_json", is_flag=True,
              help="输出 JSON(Bot API getWebhookInfo 的结果原样)。")
def info(as_json: bool) -> None:
    """查看 webhook:地址、待推送的更新数、最近一次推送错误、订阅的更新类型。"""
    settings = _settings_with_token()
    result = _run_call(settings, "getWebhookInfo", {})
    if not isinstance(result, dict):
        click.echo(texts.WEBHOOK_NOT_BOT_API.format(api=settings.telegram_api, status=200),
                   err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for line in describe(result, settings.timezone, datetime.now(UTC)):
        click.echo(line)


@webhook.command()
@click.option("--drop-pending", is_flag=True,
              help="同时丢弃 Telegram 尚未推送的更新(这些消息将不会被处理,慎用)。")
def delete(drop_pending: bool) -> None:
    """删除 webhook:停用 webhook 部署时用,之后 Telegram 不再推送;改用轮询只需 zhitong run。"""
    settings = _settings_with_token()
    _run_call(settings, "deleteWebhook", {"drop_pending_updates": drop_pending})
    click.echo(texts.WEBHOOK_DELETED_DROPPED if drop_pending else texts.WEBHOOK_DELETED)
