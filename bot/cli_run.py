"""`zhitong run`: the bot, the outbox sender and the scheduler in one process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

import click

from bot import texts
from bot.settings import PUBLIC_API, Settings

# Telegram's rule for setWebhook's secret_token.
_SECRET_CHAR = re.compile(r"[A-Za-z0-9_-]")
SECRET_MAX = 256
# The ports Telegram's own servers push to.
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)


@click.command()
@click.option("--no-scheduler", is_flag=True, help="不运行定时提醒(多实例部署时只留一个调度器)。")
@click.option("--webhook", "webhook_url", default=None,
              help="Webhook 模式:Telegram 推送更新到此 HTTPS 地址(由反向代理转到 --listen,"
                   "路径不变;地址不带路径时为 /)。")
@click.option("--listen", default="127.0.0.1:8443", show_default=True,
              help="Webhook 模式下本进程监听的 HOST:PORT(IPv6 地址加方括号,如 [::1]:8443)。")
@click.option("--no-set-webhook", is_flag=True, help="不调用 setWebhook(多个实例时只需一个设置)。")
@click.option("-v", "--verbose", is_flag=True, help="输出调试日志。")
def run(no_scheduler: bool, webhook_url: str | None, listen: str, no_set_webhook: bool,
        verbose: bool) -> None:
    """运行机器人(轮询 Bot API,或加 --webhook 由 Telegram 推送更新)、消息发送队列和定时提醒。
    Ctrl-C 或 SIGTERM 停止。"""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if not settings.bot_token:
        click.echo(texts.NO_TOKEN, err=True)
        sys.exit(2)
    webhook = None
    if webhook_url:
        from bot.app import WebhookOptions

        if not settings.webhook_secret:
            click.echo(texts.NO_WEBHOOK_SECRET, err=True)
            sys.exit(2)
        problems = webhook_problems(webhook_url, listen, settings.webhook_secret,
                                    settings.telegram_api)
        if problems:
            click.echo("\n".join([texts.WEBHOOK_SETUP_INVALID, *problems]), err=True)
            sys.exit(2)
        webhook = WebhookOptions(webhook_url, listen, settings.webhook_secret,
                                 set_webhook=not no_set_webhook)
    asyncio.run(_main(settings, not no_scheduler, webhook))
    click.echo(texts.RUN_STOPPED)


def webhook_problems(url: str, listen: str, secret: str, telegram_api: str) -> list[str]:
    """What Telegram (or this host) would refuse in a webhook set-up, found before anything
    starts: each problem a line for the operator; none when all is well."""
    from bot.webhook import parse_listen

    problems = []
    bad = sorted({c for c in secret if not _SECRET_CHAR.fullmatch(c)})
    if bad:
        problems.append(texts.WEBHOOK_SECRET_BAD_CHARS.format(
            chars=" ".join(repr(c) for c in bad[:10])))
    if len(secret) > SECRET_MAX:
        problems.append(texts.WEBHOOK_SECRET_TOO_LONG.format(length=len(secret)))
    problems += _url_problems(url, telegram_api)
    try:
        parse_listen(listen)
    except ValueError:
        problems.append(texts.LISTEN_INVALID.format(listen=listen))
    return problems


def _url_problems(url: str, telegram_api: str) -> list[str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed "[", a port that is not a number or out of range
        return [texts.WEBHOOK_URL_INVALID.format(url=url)]
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        return [texts.WEBHOOK_URL_INVALID.format(url=url)]
    # Telegram's own servers push only to HTTPS, on four ports; a self-hosted Bot API server
    # (or the built-in emulator) may push to plain HTTP on any port, so that is theirs to say.
    try:
        public = urlsplit(telegram_api).hostname == urlsplit(PUBLIC_API).hostname
    except ValueError:
        public = False
    if not public:
        return []
    if parts.scheme.lower() != "https":
        return [texts.WEBHOOK_URL_NOT_HTTPS.format(url=url)]
    if port is not None and port not in TELEGRAM_WEBHOOK_PORTS:
        return [texts.WEBHOOK_URL_BAD_PORT.format(url=url, port=port)]
    return []


def listen_refusal(listen: str) -> str | None:
    """Why --listen cannot be listened on now (another process holds it …), or None. Tried
    before the start is announced; serve() says the same should it be taken meanwhile."""
    from bot.webhook import listen_error, parse_listen

    host, port = parse_listen(listen)
    try:
        lacking: OSError | None = None  # a family this host has not (IPv6 switched off)
        opened = False
        for family, kind, proto, _, address in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                lacking = exc  # skipped, as asyncio's server skips it
                continue
            opened = True
            with sock:
                # As asyncio's server binds, so that this bind fails where that one would.
                if os.name == "posix":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
        if lacking is not None and not opened:
            raise lacking  # no family of them all: the real start fails the same way
    except OSError as exc:
        return str(listen_error(host, port, exc))
    return None


async def _main(settings: Settings, with_scheduler: bool, webhook: Any = None) -> None:
    from bot.app import install_stop_signals, run_aiogram
    from bot.webhook import ListenError

    if webhook is not None:
        refusal = listen_refusal(webhook.listen)
        if refusal:
            click.echo(refusal, err=True)
            raise SystemExit(2)
    stop = asyncio.Event()
    install_stop_signals(stop)
    # The framework's own import is most of start-up (aiogram builds ~440 pydantic models):
    # done before the "started" line, so that line means the process is about to serve.
    importlib.import_module("bot.ptb_adapter" if settings.framework == "ptb"
                            else "bot.aiogram_adapter")
    core = await _build_core_when_reachable(settings, stop)
    if core is None:
        return
    click.echo(texts.RUN_STARTED.format(framework=settings.framework, api=settings.telegram_api))
    try:
        if settings.framework == "ptb":
            from bot.ptb_adapter import run_ptb

            await run_ptb(core, stop, with_scheduler=with_scheduler, webhook=webhook)
        else:
            await run_aiogram(core, stop, with_scheduler=with_scheduler, webhook=webhook)
    except ListenError as exc:  # taken since listen_refusal looked
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    finally:
        await core.close()


async def _build_core_when_reachable(settings: Settings, stop: asyncio.Event) -> Any:
    """The core, once its database answers. A database server still starting or briefly away
    (the host just booted, a fail-over) is waited for, saying so; anything else — a wrong
    password, a missing database, an SQLite file that cannot be opened — ends the process
    with the reason. None when stopped while waiting."""
    from sqlalchemy.engine import make_url

    from bot.app import build_core
    from bot.cli_core import DatabaseNotReady
    from storage.availability import may_be_outage
    from storage.db import async_url

    server = make_url(async_url(settings.database_url)).get_backend_name() != "sqlite"
    wait = 1.0
    while True:
        try:
            await _require_schema(settings.database_url)
            return await build_core(settings)
        except DatabaseNotReady:
            raise  # a step left out, not an outage: says itself what to do
        except Exception as exc:  # the operator needs the reason, not a traceback
            if not (server and may_be_outage(exc)):
                click.echo(texts.DB_ERROR.format(error=exc), err=True)
                raise SystemExit(1) from None
            click.echo(texts.DB_WAITING.format(error=exc, seconds=wait), err=True)
        try:
            await asyncio.wait_for(stop.wait(), wait)
            return None
        except TimeoutError:
            wait = min(wait * 2, 30.0)


async def _require_schema(url: str) -> None:
    from bot.cli_core import require_schema
    from storage.db import make_engine

    engine = make_engine(url)
    try:
        await require_schema(engine)
    finally:
        await engine.dispose()
