"""The composition root: settings → engine → tagger → desk → transport → sender → scheduler.

Nothing is built at import time (DESIGN §12.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.runtime_common import retry_after_seconds
from bot.settings import Settings
from domain.clock import Clock, SystemClock
from handlers.config import DeskConfig
from handlers.desk import Desk
from handlers.outbox_sender import OutboxSender, Transport
from handlers.tagging import TaggerLike
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class Core:
    """Everything but the transport: shared by both runtimes, the demo and the tests."""

    settings: Settings
    config: DeskConfig
    clock: Clock
    engine: Any
    uow_factory: UnitOfWorkFactory
    tagger: TaggerLike
    desk: Desk

    async def close(self) -> None:
        await self.engine.dispose()


async def build_tagger(uow_factory: UnitOfWorkFactory) -> TaggerLike:
    """Built once, with unit names in its private dictionary, initialised before any message."""
    import jieba

    from domain.tagging import Tagger

    # jieba announces its dictionary loading at DEBUG on its own handler; operators need not see it.
    jieba.setLogLevel(logging.WARNING)

    async with uow_factory() as uow:
        extra = [u.name for u in await uow.org.units()]
        extra += [p.name for p in await uow.org.projects()]
    tagger = Tagger(extra_words=tuple(extra))
    await asyncio.to_thread(tagger.initialize)
    return tagger


async def build_core(settings: Settings, *, clock: Clock | None = None,
                     tagger: TaggerLike | None = None, bot_username: str | None = None,
                     register_plugins: bool = True) -> Core:
    config = settings.desk_config(bot_username)
    engine = make_engine(settings.database_url)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    clock = clock or SystemClock()
    try:
        tagger = tagger or await build_tagger(uow_factory)
    except BaseException:
        await engine.dispose()  # `zhitong run` may try again (database still starting)
        raise
    desk = Desk(uow_factory, clock, config, tagger)
    if register_plugins:
        register_desk_plugins(desk, settings)
    return Core(settings, config, clock, engine, uow_factory, tagger, desk)


def register_desk_plugins(desk: Desk, settings: Settings) -> None:
    """Commands that live in their own modules (overdue, stats, progress …), if present."""
    import importlib

    for module in ("handlers.reminders", "handlers.stats", "handlers.progress"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        register = getattr(mod, "register", None)
        if register is None:
            continue
        import inspect

        if "dashboard_url" in inspect.signature(register).parameters:
            register(desk, settings.data_dir, dashboard_url=settings.dashboard_url)
        else:
            register(desk, settings.data_dir)


def make_sender(core: Core, transport: Transport) -> OutboxSender:
    s = core.settings
    return OutboxSender(core.uow_factory, transport, core.clock,
                        per_chat_interval=s.send_per_chat_interval,
                        global_per_second=s.send_global_per_second,
                        max_in_flight=s.send_concurrency,
                        # Rows in hand: enough that every send in flight has the next ones
                        # of its chat queued behind it.
                        batch=max(32, 4 * s.send_concurrency),
                        lease=timedelta(seconds=s.outbox_lease_seconds),
                        linger=s.outbox_linger_seconds)


def build_scheduler(core: Core, on_enqueued: Any) -> Any:
    try:
        from scheduler.setup import build_scheduler as build
    except ModuleNotFoundError:
        return None
    return build(core.uow_factory, core.config, core.clock, core.settings.sweep_interval_seconds,
                 on_enqueued)


class LedScheduler:
    """The scheduler runs only while this process holds the deployment's leader lock."""

    def __init__(self, core: Core, on_enqueued: Any) -> None:
        self.core = core
        self.on_enqueued = on_enqueued
        self.scheduler: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _gain(self) -> None:
        self.scheduler = build_scheduler(self.core, self.on_enqueued)
        if self.scheduler is not None:
            self.scheduler.start()

    def _loss(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    def start(self) -> None:
        from storage.leader import LeaderLock, leadership_loop

        lock = LeaderLock(self.core.engine)
        self._task = asyncio.create_task(
            leadership_loop(lock, self._gain, self._loss, self._stop), name="scheduler-leader")

    def shutdown(self, wait: bool = False) -> None:
        self._stop.set()

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    listen: str
    secret: str
    set_webhook: bool = True
    # The path this worker listens on. By default the URL's own path ("/" when it has none),
    # which is where Telegram POSTs; set it only when a proxy in front rewrites the path.
    path: str | None = None


async def run_aiogram(core: Core, stop: asyncio.Event, *, with_scheduler: bool = True,
                      polling_timeout: int = 20, webhook: WebhookOptions | None = None) -> None:
    """Polling (or webhook) + outbox sender + scheduler in one process, until `stop` is set."""
    from aiogram.exceptions import (
        ClientDecodeError,
        TelegramAPIError,
        TelegramNetworkError,
        TelegramRetryAfter,
        TelegramServerError,
    )

    from bot.aiogram_adapter import (
        AiogramTransport,
        apply_raw_update,
        build_dispatcher,
        delete_webhook_when_in_the_way,
        make_bot,
    )
    from bot.runtime_common import (
        ALLOWED_UPDATES,
        LEFTOVER_WEBHOOK,
        Toasts,
        connections_for,
        delete_webhook_at_start,
    )

    bot = make_bot(core.settings.bot_token, core.settings.telegram_api,
                   connections=max(100, connections_for(core.settings.send_concurrency)))
    # ClientDecodeError: a proxy's own error page (nginx's HTML 502) while the Bot API
    # server behind it restarts.
    unreachable = (TelegramNetworkError, TelegramServerError, TelegramRetryAfter,
                   ClientDecodeError)
    me = await retry_until_reachable(bot.get_me, stop, unreachable)
    if me is None:  # stopped while the Bot API was unreachable
        await bot.session.close()
        return
    if me.username:
        core.desk.config = core.config = core.settings.desk_config(me.username)
    sender = make_sender(core, AiogramTransport(bot))
    await enqueue_menus(core)
    toasts = Toasts()
    dp = build_dispatcher(core.desk, sender.wake, toasts)
    scheduler = LedScheduler(core, sender.wake) if with_scheduler else None
    if scheduler is not None:
        scheduler.start()
    sender_task = asyncio.create_task(sender.run(stop), name="outbox-sender")
    runner = None
    polling = None
    # Everything started above is stopped by the finally, also when a start-up call fails.
    try:
        if webhook is not None:
            async def apply(data: dict[str, Any], give_up: bool) -> None:
                await apply_raw_update(bot, core.desk, data, sender.wake, toasts, give_up)

            runner = await start_webhook(webhook, apply, core)
            if webhook.set_webhook:
                await set_webhook_at_start(bot, webhook, stop, unreachable)
        elif await retry_until_reachable(lambda: delete_webhook_at_start(bot), stop,
                                         (TelegramAPIError,), what=LEFTOVER_WEBHOOK) is not None:
            # A webhook set later (getUpdates answered 409) is deleted again.
            bot.session.middleware(delete_webhook_when_in_the_way)
            # handle_as_tasks=False: an update is acknowledged (next getUpdates offset) only
            # after it was handled, so a crash loses nothing (DESIGN §10).
            polling = asyncio.create_task(dp.start_polling(
                bot, handle_as_tasks=False, handle_signals=False, close_bot_session=False,
                polling_timeout=polling_timeout, allowed_updates=ALLOWED_UPDATES,
            ), name="polling")
        sender.wake()
        await stop.wait()
    finally:
        if polling is not None:
            with contextlib.suppress(Exception):
                await dp.stop_polling()
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(polling, 5)
        await stop_background(runner, sender_task, scheduler)
        await toasts.drain()
        await bot.session.close()


async def set_webhook_at_start(bot: Any, webhook: WebhookOptions, stop: asyncio.Event,
                               transient: tuple[type[BaseException], ...],
                               permanent: tuple[type[BaseException], ...] = ()) -> None:
    """Either runtime's setWebhook (both bots take the same arguments), retried while the Bot
    API is away or asks to wait; the URL as Telegram will request it (`telegram_url`)."""
    from bot.runtime_common import ALLOWED_UPDATES, WEBHOOK_NOT_SET
    from bot.webhook import telegram_url

    await retry_until_reachable(
        lambda: bot.set_webhook(telegram_url(webhook.url), secret_token=webhook.secret,
                                allowed_updates=ALLOWED_UPDATES),
        stop, transient, what=WEBHOOK_NOT_SET, permanent=permanent)


async def stop_background(runner: Any, sender_task: asyncio.Task[None],
                          scheduler: LedScheduler | None) -> None:
    """What both runtimes stop after their updates stopped coming: the webhook server, the
    outbox sender (its message in flight finished) and the scheduler."""
    if runner is not None:
        await runner.cleanup()
    await stop_sender(sender_task)
    if scheduler is not None:
        scheduler.shutdown()
        await scheduler.wait_closed()


async def stop_sender(task: asyncio.Task[None], grace_seconds: float = 5.0) -> None:
    """Let the sender finish the message in flight (stop is already set), then give up.

    Cancelling mid-request could leave a message Telegram accepted but we did not mark sent,
    and it would go out twice after a restart."""
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_seconds)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, grace_seconds)
    except Exception:
        log.exception("outbox sender ended with an error")


async def retry_until_reachable(call: Any, stop: asyncio.Event,
                                transient: tuple[type[BaseException], ...],
                                every_seconds: float = 5.0, *,
                                what: str = "Bot API not reachable",
                                permanent: tuple[type[BaseException], ...] = ()) -> Any:
    """The Bot API may be briefly unreachable at start (proxy restarting, network, a 429): keep
    trying and say so (`what` and the error), rather than exit. Tries again after 1 s, then
    twice as long each time, up to `every_seconds`; after a 429 not before its retry_after.
    Returns None if stopped meanwhile. `permanent`: errors raised at once even where they
    are subclasses of a transient one (PTB's BadRequest is a NetworkError)."""
    pause = min(1.0, every_seconds)
    while not stop.is_set():
        try:
            return await call()
        except permanent:
            raise
        except transient as exc:
            flood = retry_after_seconds(exc)
            wait = pause if flood is None else max(pause, flood)
            if flood is None:
                log.warning("%s (%s); retrying in %.1f s", what, exc, wait)
            else:
                log.warning("%s (%s); flood control: retrying in %.1f s, as Telegram asks",
                            what, exc, wait)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            pause = min(pause * 2, every_seconds)
    return None


async def start_webhook(options: WebhookOptions, apply: Any, core: Core) -> Any:
    from bot.webhook import listen_path, make_webhook_app, parse_listen, serve

    host, port = parse_listen(options.listen)
    path = options.path or listen_path(options.url)
    app = make_webhook_app(path, options.secret, apply,
                           lambda: core.uow_factory.reachable(timeout=2.0))
    runner = await serve(app, host, port)
    log.info("webhook: updates for %s are received on %s:%s, path %s",
             options.url, f"[{host}]" if ":" in host else host, port, path)
    return runner


async def enqueue_menus(core: Core) -> None:
    """Command menus per role: default for everyone, chat-scoped for known people. Menus are
    a convenience: with the database gone just after start-up they wait for the next start,
    instead of ending this one."""
    from storage.availability import may_be_outage

    try:
        await _enqueue_menus(core)
    except Exception as exc:
        if not may_be_outage(exc):
            raise
        log.warning("command menus not queued: the database cannot be reached (%s)", exc)


async def _enqueue_menus(core: Core) -> None:
    from handlers import outmsg
    from handlers.onboarding import menu_for
    from handlers.texts import COMMANDS_ENTERPRISE as default_menu

    now = core.clock.now()
    async with core.uow_factory() as uow:
        await uow.outbox.enqueue(idem_key=f"commands:default:{len(default_menu)}", chat_id=0,
                                 payload=outmsg.commands(default_menu), now=now, urgent=True)
        for acc in await uow.accounts.all_bound():
            roles = ",".join(sorted(acc.roles or []))
            await uow.outbox.enqueue(
                idem_key=f"commands:{acc.id}:{roles}", chat_id=acc.telegram_id or 0,
                payload=outmsg.commands(menu_for(acc), scope_chat=acc.telegram_id), now=now,
                urgent=True)
        await uow.commit()
