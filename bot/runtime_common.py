"""Bits both Telegram runtimes share (no framework imports here)."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from handlers.desk import Desk
from handlers.inbound import Inbound, Kind, Outbound
from handlers.texts import STORE_WAIT, STORE_WAIT_TOAST, SYSTEM_ERROR

__all__ = ["ALLOWED_UPDATES", "LEFTOVER_WEBHOOK", "STORE_WAIT", "STORE_WAIT_TOAST",
           "SYSTEM_ERROR", "WEBHOOK_NOT_SET", "WEBHOOK_PATIENCE", "Toasts",
           "apply_webhook_inbound", "callback_inbound", "command_parts", "connections_for",
           "delete_webhook_at_start", "is_webhook_conflict", "log_unparseable_update",
           "log_webhook_conflict", "message_inbound", "retry_after_seconds", "unsupported_kind"]

log = logging.getLogger(__name__)

# The update kinds the bot asks Telegram for (getUpdates and setWebhook).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

# What the log says while the webhook left over from webhook mode cannot be deleted at a polling
# start (getUpdates is refused with 409 for as long as a webhook is set).
LEFTOVER_WEBHOOK = ("could not delete the webhook before polling (getUpdates is refused while it "
                    "is set)")

# What the log says while setWebhook is not accepted at a webhook start (network, a 5xx, 429).
WEBHOOK_NOT_SET = "could not set the webhook"

# A webhook request waits at most this long for an unreachable database, then is answered
# 503 and Telegram delivers the update again later. Polling waits until the database is back
# (the update is not acknowledged meanwhile).
WEBHOOK_PATIENCE = 20.0


async def apply_webhook_inbound(desk: Desk, inb: Inbound,
                                on_delay: Callable[[], Awaitable[object]],
                                give_up: bool) -> Outbound:
    """The webhook path's call into the desk: an update that kept failing is spent
    (`give_up`, see bot/webhook.py); any other is applied, waiting at most WEBHOOK_PATIENCE
    for an unreachable database."""
    if give_up:
        return await desk.give_up(inb)
    return await desk.handle(inb, on_delay=on_delay, patience=WEBHOOK_PATIENCE)


def is_webhook_conflict(description: str) -> bool:
    """getUpdates was refused (409) because a webhook is set, not because another process
    polls with the same token ("terminated by other getUpdates request")."""
    return "webhook" in description.lower()


def log_webhook_conflict(description: str) -> None:
    """Said by both runtimes before they delete the webhook and poll on."""
    log.warning("getUpdates refused: %s. A webhook was set while this process polls (another "
                "instance started with --webhook, or the webhook was never deleted); deleting "
                "it and polling on", description)


async def delete_webhook_at_start(bot: Any) -> bool:
    """At a polling start, on either runtime (both bots name the two calls alike): delete a
    webhook left or set, saying so when there was one: beside webhook workers that unhooks
    them all, so the operator must be able to see it."""
    try:
        info = await bot.get_webhook_info()
    except Exception as exc:  # only for the log: a proxy without it must not stop polling
        log.debug("getWebhookInfo failed (%s); deleting any webhook unseen", exc)
    else:
        if info.url:
            log.warning("a webhook was set (%s); deleting it to poll. If webhook workers "
                        "serve this bot, stop this process: a poller takes their updates "
                        "away", info.url)
    return bool(await bot.delete_webhook())


def log_unparseable_update(update_id: int, reason: str) -> None:
    """An update the framework cannot build (a Bot API change the installed library does not
    know, a malformed update) cannot be applied; polling confirms it so the updates behind it
    are not held up (DESIGN §10: never loop for ever on a bad update)."""
    log.error("update %s cannot be parsed and is skipped: %s", update_id, reason)


def connections_for(send_concurrency: int) -> int:
    """HTTP connections to the Bot API: the outbox's pushes in flight, and room for toasts and
    the odd direct answer beside them."""
    return send_concurrency + 8


class Toasts:
    """Answers to button presses (answerCallbackQuery), sent beside the update loop.

    A toast is ephemeral and nothing waits on it, while across a network each call costs a
    round trip: awaited inline, every press would hold up the updates behind it that long."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, call: Awaitable[Any], update_id: int) -> None:
        task = asyncio.ensure_future(self._run(call, update_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(call: Awaitable[Any], update_id: int) -> None:
        try:
            await call
        except Exception as exc:  # the press was applied; only its toast is lost
            log.warning("answerCallbackQuery failed for update %s: %s", update_id, exc)

    async def drain(self, timeout: float = 3.0) -> None:
        """Let the toasts in flight finish (on shutdown), up to `timeout` seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


def command_parts(text: str) -> tuple[str, str] | None:
    """'/start@bot abc' → ('start', 'abc'); None when the text is not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return None
    return name, rest.strip()


def unsupported_kind(present: list[str]) -> str:
    return present[0] if present else "unknown"


def message_inbound(message: Any, update_id: int, *, edited: bool = False) -> Inbound:
    """A framework's Message (or, `edited`, the new state of one the person edited) as an
    Inbound. aiogram's and PTB's Message share these field names (they mirror the Bot API),
    so one mapping serves both runtimes."""
    user = message.from_user
    base: dict[str, Any] = {
        "update_id": update_id,
        "user_id": user.id if user else message.chat.id,
        "chat_id": message.chat.id,
        "first_name": (user.full_name if user else "") or "",
        "message_id": message.message_id,
    }
    if edited:
        text = message.text if message.text is not None else message.caption
        return Inbound(**base, kind=Kind.EDITED, text=text or "", content_type="edited")
    if message.photo:
        return Inbound(**base, kind=Kind.PHOTO, text=message.caption or "",
                       photo_file_ids=(message.photo[-1].file_id,),
                       media_group_id=message.media_group_id, content_type="photo")
    if message.text is not None:
        parsed = command_parts(message.text)
        if parsed is not None:
            return Inbound(**base, kind=Kind.COMMAND, text=message.text, command=parsed[0],
                           args=parsed[1], content_type="text")
        return Inbound(**base, kind=Kind.TEXT, text=message.text, content_type="text")
    return Inbound(**base, kind=Kind.UNSUPPORTED, content_type=unsupported_kind(
        [name for name in ("sticker", "voice", "video", "document", "audio", "location",
                           "contact", "animation", "video_note", "poll", "dice")
         if getattr(message, name, None) is not None]))


def callback_inbound(query: Any, update_id: int) -> Inbound:
    """A framework's CallbackQuery as an Inbound (same field names in aiogram and PTB)."""
    msg = query.message
    chat_id = msg.chat.id if msg is not None else query.from_user.id
    return Inbound(
        update_id=update_id, user_id=query.from_user.id, chat_id=chat_id,
        first_name=query.from_user.full_name or "", kind=Kind.CALLBACK,
        callback_id=query.id, callback_data=query.data,
        message_id=msg.message_id if msg is not None else None, content_type="callback",
    )


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a flood-control error asks for (aiogram's TelegramRetryAfter, PTB's RetryAfter:
    seconds or a timedelta), None for any other error."""
    with warnings.catch_warnings():
        # PTB 22 warns on reading it that its type becomes timedelta; both are read here.
        warnings.simplefilter("ignore")
        value = getattr(exc, "retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
