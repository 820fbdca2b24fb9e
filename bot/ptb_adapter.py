"""python-telegram-bot 22 runtime driving the same desk (ZHITONG_FRAMEWORK=ptb).

PTB's own Updater acknowledges updates before they are handled, so this runtime polls with
`Bot.get_updates` itself and moves the offset only after the desk applied an update (DESIGN §10).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.ptb_request import AiohttpRequest
from bot.runtime_common import (
    ALLOWED_UPDATES,
    LEFTOVER_WEBHOOK,
    STORE_WAIT,
    STORE_WAIT_TOAST,
    SYSTEM_ERROR,
    Toasts,
    apply_webhook_inbound,
    callback_inbound,
    connections_for,
    delete_webhook_at_start,
    is_webhook_conflict,
    log_unparseable_update,
    log_webhook_conflict,
    message_inbound,
    retry_after_seconds,
)
from handlers.desk import Desk
from handlers.inbound import Outbound
from handlers.outbox_sender import Permanent, RetryLater

log = logging.getLogger(__name__)

# After getUpdates was refused for a reason other than the network or a rate limit.
POLL_REFUSED_PAUSE = 5.0
# After deleting a webhook that stood in polling's way.
WEBHOOK_DELETED_PAUSE = 1.0

# Messages and edits go without link previews (as on the aiogram runtime): cards are dense,
# and a preview of a link someone typed into a ticket would bury them.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class RawUpdatesBot(Bot):
    """PTB's Bot, plus getUpdates as Telegram answered it (one dict per update).

    `Bot.get_updates` builds the whole batch at once: one update PTB cannot parse fails the
    batch, and the same batch comes back on every call. Polling builds each update itself
    (`poll`), so a bad one is spent alone."""

    async def get_raw_updates(self, offset: int | None, timeout: int,
                              allowed_updates: list[str]) -> list[dict[str, Any]]:
        # The getUpdates request's own read timeout (make_bot) outlasts the long poll.
        data = {"offset": offset, "timeout": timeout, "allowed_updates": allowed_updates}
        return cast("list[dict[str, Any]]", await self._post("getUpdates", data))


def make_bot(token: str, api_base: str, polling_timeout: int = 20,
             connections: int = 16, http: str = "aiohttp") -> RawUpdatesBot:
    """`connections`: room for every push the outbox may have in flight plus the toasts; a
    request waiting for a free connection longer than the pool timeout fails (TimedOut).
    `http`: "aiohttp" (bot/ptb_request.py) or "httpx" (PTB's stock client)."""
    base = api_base.rstrip("/")
    request: BaseRequest
    get_updates: BaseRequest
    if http == "httpx":
        request = HTTPXRequest(connection_pool_size=connections, read_timeout=15)
        get_updates = HTTPXRequest(read_timeout=polling_timeout + 10)
    else:
        request = AiohttpRequest(connections=connections, read_timeout=15)
        get_updates = AiohttpRequest(connections=1, read_timeout=polling_timeout + 10)
    return RawUpdatesBot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                         request=request, get_updates_request=get_updates)


def _markup(buttons: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b[0], callback_data=b[1]) for b in row]
                                 for row in buttons])


def _wait_notice(bot: Bot, update: Update) -> Callable[[], Awaitable[object]]:
    """Tells the person, once, that their update waits for the database (handlers.desk)."""
    query, message = update.callback_query, update.message or update.edited_message
    if query is not None:
        return lambda: bot.answer_callback_query(query.id, STORE_WAIT_TOAST)
    assert message is not None
    return lambda: _say(bot, message.chat.id, STORE_WAIT)


def _say(bot: Bot, chat_id: int, text: str) -> Awaitable[object]:
    """A message straight from the adapter, sent as the outbox sends (PtbTransport)."""
    return bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                            link_preview_options=NO_PREVIEW)


async def handle_update(bot: Bot, desk: Desk, update: Update, toasts: Toasts
                        ) -> Outbound | None:
    """One update through the desk; the callback answer goes out beside it (it is ephemeral)."""
    if update.callback_query is not None:
        query = update.callback_query
        try:
            out = await desk.handle(callback_inbound(query, update.update_id),
                                    on_delay=_wait_notice(bot, update))
        except Exception:
            log.exception("update %s failed", update.update_id)
            with contextlib.suppress(TelegramError):
                await bot.answer_callback_query(query.id, SYSTEM_ERROR, show_alert=True)
            return None
        toasts.send(bot.answer_callback_query(query.id, out.callback_answer,
                                              show_alert=out.alert), update.update_id)
        return out
    message = update.message or update.edited_message
    if message is None or message.chat.type != "private":
        return None
    try:
        return await desk.handle(message_inbound(message, update.update_id,
                                                 edited=update.edited_message is not None),
                                 on_delay=_wait_notice(bot, update))
    except Exception:
        log.exception("update %s failed", update.update_id)
        with contextlib.suppress(TelegramError):
            await _say(bot, message.chat.id, SYSTEM_ERROR)
        return None


async def apply_raw_update(bot: Bot, desk: Desk, data: dict[str, Any], toasts: Toasts,
                           give_up: bool = False) -> Outbound | None:
    """Webhook path: errors propagate so the webhook answers 5xx and Telegram redelivers."""
    update = Update.de_json(data, bot)
    if update.callback_query is not None:
        query = update.callback_query
        out = await apply_webhook_inbound(desk, callback_inbound(query, update.update_id),
                                          _wait_notice(bot, update), give_up)
        toasts.send(bot.answer_callback_query(query.id, out.callback_answer,
                                              show_alert=out.alert), update.update_id)
        return out
    message = update.message or update.edited_message
    if message is not None and message.chat.type == "private":
        inb = message_inbound(message, update.update_id,
                              edited=update.edited_message is not None)
        return await apply_webhook_inbound(desk, inb, _wait_notice(bot, update), give_up)
    return None


async def poll(bot: RawUpdatesBot, desk: Desk, wake_sender: Any, stop: asyncio.Event,
               toasts: Toasts, polling_timeout: int = 20) -> None:
    """Long polling that confirms an update (offset) only after it was applied."""
    offset: int | None = None
    while not stop.is_set():
        try:
            batch = await bot.get_raw_updates(offset, polling_timeout, ALLOWED_UPDATES)
        except (NetworkError, TimedOut) as exc:
            log.warning("getUpdates failed: %s", exc)
            await _sleep_or_stop(stop, 1.0)
            continue
        except RetryAfter as exc:
            await _sleep_or_stop(stop, _retry_after(exc))
            continue
        except Conflict as exc:
            if is_webhook_conflict(exc.message):
                await _delete_webhook_in_the_way(bot, exc, stop)
                continue
            _log_refused(exc)
            await _sleep_or_stop(stop, POLL_REFUSED_PAUSE)
            continue
        except Exception as exc:
            # 409 (another process polls with this token), 401 (token revoked), 5xx, an
            # answer that is not the Bot API's (a proxy's own error page sent with 200) …: the
            # loop must outlive it, or the process would stay up while deaf to every update.
            _log_refused(exc)
            await _sleep_or_stop(stop, POLL_REFUSED_PAUSE)
            continue
        if not isinstance(batch, list):
            _log_refused(ValueError(f"getUpdates answered {type(batch).__name__}, not a list"))
            await _sleep_or_stop(stop, POLL_REFUSED_PAUSE)
            continue
        confirmed = offset
        for raw in batch:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):  # not Telegram's; nothing to confirm it by
                log.error("getUpdates answered an update without an update_id; skipped")
                continue
            try:
                update = Update.de_json(raw, bot)
            except Exception as exc:
                log_unparseable_update(update_id, f"{exc.__class__.__name__}: {exc}")
            else:
                try:
                    out = await handle_update(bot, desk, update, toasts)
                except Exception:  # handle_update answers the person; this is a bug of ours
                    log.exception("update %s failed", update_id)
                    out = None
                if out is None or out.wake_sender:
                    wake_sender()
            offset = update_id + 1
        if batch and offset == confirmed:  # nothing in it could be confirmed: do not spin
            await _sleep_or_stop(stop, POLL_REFUSED_PAUSE)


def _log_refused(exc: Exception) -> None:
    # Telegram's refusals explain themselves; anything else (a proxy, a bug) gets its trace.
    log.error("getUpdates refused: %s; trying again in %.0f s", exc, POLL_REFUSED_PAUSE,
              exc_info=not isinstance(exc, TelegramError))


async def _delete_webhook_in_the_way(bot: Bot, conflict: Conflict, stop: asyncio.Event) -> None:
    """getUpdates refused (409) because a webhook is set: delete it and poll on. Should the
    deletion fail, the next getUpdates is refused again and lands here again."""
    log_webhook_conflict(conflict.message)
    try:
        await bot.delete_webhook()
    except Exception as exc:  # (also a proxy's own answer, which PTB cannot read)
        log.warning("%s (%s); trying again in %.0f s", LEFTOVER_WEBHOOK, exc,
                    POLL_REFUSED_PAUSE)
        await _sleep_or_stop(stop, POLL_REFUSED_PAUSE)
        return
    # A webhook that is set again at once (another program on this token) must not turn
    # polling into a storm of getUpdates and deleteWebhook calls.
    await _sleep_or_stop(stop, WEBHOOK_DELETED_PAUSE)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _retry_after(exc: RetryAfter) -> float:
    return retry_after_seconds(exc) or 0.0


class PtbTransport:
    """Renders a neutral outbox payload with PTB and maps its errors for the sender."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        try:
            return await self._deliver(chat_id, payload, message_id)
        except RetryAfter as exc:
            raise RetryLater(_retry_after(exc), "429 too many requests") from exc
        except BadRequest as exc:
            if "not modified" in exc.message:
                return None
            raise Permanent(exc.message) from exc
        except (Forbidden, InvalidToken) as exc:
            raise Permanent(str(exc)) from exc
        except (NetworkError, TimedOut) as exc:
            raise RetryLater(None, str(exc)) from exc
        except TelegramError as exc:
            raise RetryLater(None, str(exc)) from exc

    async def _deliver(self, chat_id: int, payload: dict[str, Any],
                       message_id: int | None) -> int | None:
        op = payload.get("op")
        markup = _markup(payload.get("buttons"))
        if op == "edit":
            if message_id is None:
                raise Permanent("edit without a message id")
            await self.bot.edit_message_text(payload["text"], chat_id=chat_id,
                                             message_id=message_id, reply_markup=markup,
                                             parse_mode=ParseMode.HTML,
                                             link_preview_options=NO_PREVIEW)
            return None
        if op == "commands":
            commands = [BotCommand(c, d) for c, d in payload["commands"]]
            scope_chat = payload.get("scope_chat")
            scope = BotCommandScopeChat(scope_chat) if scope_chat else BotCommandScopeDefault()
            await self.bot.set_my_commands(commands, scope=scope)
            return None
        photos = payload.get("photos") or []
        # parse_mode without a caption changes nothing; it is sent as aiogram sends it.
        for i in range(0, len(photos), 10):
            chunk = photos[i:i + 10]
            if len(chunk) == 1:
                await self.bot.send_photo(chat_id, chunk[0], parse_mode=ParseMode.HTML)
            else:
                await self.bot.send_media_group(
                    chat_id, [InputMediaPhoto(p, parse_mode=ParseMode.HTML) for p in chunk])
        if payload.get("photo_path"):
            image = await asyncio.to_thread(_read_bytes, payload["photo_path"])
            sent = await self.bot.send_photo(chat_id, image,
                                             caption=payload.get("text", "")[:1024] or None,
                                             parse_mode=ParseMode.HTML, reply_markup=markup)
            return sent.message_id
        document = payload.get("document")
        if document:
            data = await asyncio.to_thread(_read_bytes, document["path"])
            sent = await self.bot.send_document(
                chat_id, data, filename=document.get("filename"),
                caption=payload.get("text", "")[:1000] or None, parse_mode=ParseMode.HTML,
                reply_markup=markup)
            return sent.message_id
        sent = await self.bot.send_message(chat_id, payload["text"], reply_markup=markup,
                                           parse_mode=ParseMode.HTML,
                                           link_preview_options=NO_PREVIEW)
        return sent.message_id


def _initialized(bot: Bot) -> Any:
    async def call() -> bool:
        await bot.initialize()
        return True

    return call


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


async def run_ptb(core: Any, stop: asyncio.Event, *, with_scheduler: bool = True,
                  polling_timeout: int = 20, webhook: Any = None) -> None:
    """Polling (or webhook) + outbox sender + scheduler in one process, until `stop` is set."""
    from bot.app import (
        LedScheduler,
        enqueue_menus,
        make_sender,
        retry_until_reachable,
        set_webhook_at_start,
        start_webhook,
        stop_background,
    )

    bot = make_bot(core.settings.bot_token, core.settings.telegram_api, polling_timeout,
                   connections=connections_for(core.settings.send_concurrency),
                   http=core.settings.ptb_http)
    # BadRequest is a NetworkError in PTB, but Telegram's refusal is not an outage.
    if await retry_until_reachable(_initialized(bot), stop, (NetworkError, TimedOut, RetryAfter),
                                   permanent=(BadRequest,)) is None:
        return
    if bot.username:
        core.desk.config = core.config = core.settings.desk_config(bot.username)
    sender = make_sender(core, PtbTransport(bot))
    await enqueue_menus(core)
    scheduler = LedScheduler(core, sender.wake) if with_scheduler else None
    if scheduler is not None:
        scheduler.start()
    sender_task = asyncio.create_task(sender.run(stop), name="outbox-sender")
    runner = None
    tasks: list[asyncio.Task[None]] = []
    toasts = Toasts()
    # Everything started above is stopped by the finally, also when a start-up call fails.
    try:
        if webhook is not None:
            async def apply(data: dict[str, Any], give_up: bool) -> None:
                out = await apply_raw_update(bot, core.desk, data, toasts, give_up)
                if out is not None and out.wake_sender:
                    sender.wake()

            runner = await start_webhook(webhook, apply, core)
            if webhook.set_webhook:
                await set_webhook_at_start(bot, webhook, stop,
                                           (NetworkError, TimedOut, RetryAfter),
                                           permanent=(BadRequest,))
        elif await retry_until_reachable(lambda: delete_webhook_at_start(bot), stop,
                                         (TelegramError,), what=LEFTOVER_WEBHOOK) is not None:
            tasks.append(asyncio.create_task(
                poll(bot, core.desk, sender.wake, stop, toasts, polling_timeout),
                name="polling"))
        sender.wake()
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        await stop_background(runner, sender_task, scheduler)
        await toasts.drain()
        with contextlib.suppress(Exception):
            await bot.shutdown()
