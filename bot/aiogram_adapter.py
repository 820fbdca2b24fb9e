"""aiogram 3 runtime: updates → Inbound → Desk, and the outbox Transport (DESIGN §12.2).

Adapters stay short: no business decisions and no SQL here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    ErrorEvent,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LinkPreviewOptions,
    Message,
    TelegramObject,
    Update,
)
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

from bot.runtime_common import (
    STORE_WAIT,
    STORE_WAIT_TOAST,
    SYSTEM_ERROR,
    Toasts,
    apply_webhook_inbound,
    callback_inbound,
    is_webhook_conflict,
    log_unparseable_update,
    log_webhook_conflict,
    message_inbound,
)
from handlers.desk import Desk
from handlers.outbox_sender import Permanent, RetryLater

log = logging.getLogger(__name__)


class PinnedResponseSession(AiohttpSession):
    """Keeps each `Response[T]` model aiogram parses replies with alive for the process.

    aiogram builds `Response[method.__returning__]` on every reply; pydantic caches parametrised
    generics only weakly, so once the garbage collector has run the class is rebuilt from its
    schema (~10 ms of CPU per API call under load — most of the bot's time in the load benchmark).
    """

    _pinned: dict[Any, Any] = {}

    def check_response(self, bot: Bot, method: TelegramMethod[Any], status_code: int,
                       content: str) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._pinned:
            self._pinned[returning] = Response[returning]  # type: ignore[valid-type]
        try:
            response = super().check_response(bot, method, status_code, content)
        except ClientDecodeError as exc:
            if not isinstance(method, GetUpdates):
                raise
            return _updates_one_by_one(bot, exc)
        if isinstance(method, GetUpdates) and not isinstance(response.result, list):
            # {"ok": true, "result": null} (a proxy's, not Telegram's): aiogram's polling would
            # iterate over it outside its own error handling and end for good. A failed fetch
            # instead: the dispatcher logs it, waits and polls again.
            raise TelegramAPIError(method=method, message="getUpdates answered no list")
        return response


def _updates_one_by_one(bot: Bot, error: ClientDecodeError) -> Response[list[Update]]:
    """A getUpdates batch aiogram could not build as a whole: each update on its own, and one
    that cannot be parsed spent (logged, then confirmed like any other), instead of the
    dispatcher asking for the same batch for ever. A spent update carries only its id: no
    handler sees it (`skip_spent_updates`)."""
    data = error.data
    if not (isinstance(data, dict) and data.get("ok") is True
            and isinstance(data.get("result"), list)):
        raise error
    updates: list[Update] = []
    for raw in data["result"]:
        try:
            updates.append(Update.model_validate(raw, context={"bot": bot}))
        except ValidationError as exc:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                raise error from exc
            log_unparseable_update(update_id, "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
            updates.append(Update.model_validate({"update_id": update_id},
                                                 context={"bot": bot}))
    return Response[list[Update]](ok=True, result=updates)


async def delete_webhook_when_in_the_way(make_request: NextRequestMiddlewareType[Any],
                                         bot: Bot, method: TelegramMethod[Any]) -> Any:
    """Session middleware while polling: getUpdates refused (409) because a webhook is set is
    answered by deleting the webhook and asking again. Should the deletion fail, the error goes
    to the dispatcher, which waits and polls again (and so lands here again)."""
    try:
        return await make_request(bot, method)
    except TelegramConflictError as exc:
        if not isinstance(method, GetUpdates) or not is_webhook_conflict(exc.message):
            raise
        log_webhook_conflict(exc.message)
        await bot.delete_webhook()
        return await make_request(bot, method)


def make_bot(token: str, api_base: str, connections: int = 100) -> Bot:
    session = PinnedResponseSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")),
                                    limit=connections)
    # Messages and edits go without link previews (as on the PTB runtime): cards are dense,
    # and a preview of a link someone typed into a ticket would bury them.
    return Bot(token=token, session=session,
               default=DefaultBotProperties(parse_mode=ParseMode.HTML,
                                            link_preview=LinkPreviewOptions(is_disabled=True)))


def _markup(buttons: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b[0], callback_data=b[1]) for b in row] for row in buttons
    ])


def _wait_notice(event: Message | CallbackQuery) -> Callable[[], Awaitable[object]]:
    """Tells the person, once, that their update waits for the database (handlers.desk)."""
    if isinstance(event, CallbackQuery):
        return lambda: event.answer(text=STORE_WAIT_TOAST)
    return lambda: event.answer(STORE_WAIT)


async def apply_raw_update(bot: Bot, desk: Desk, data: dict[str, Any], wake_sender: Any,
                           toasts: Toasts, give_up: bool = False) -> None:
    """Webhook path: one raw update through the desk; errors propagate (→ 5xx, redelivery)."""
    update = Update.model_validate(data, context={"bot": bot})
    if update.callback_query is not None:
        query = update.callback_query
        out = await apply_webhook_inbound(desk, callback_inbound(query, update.update_id),
                                          _wait_notice(query), give_up)
        toasts.send(bot.answer_callback_query(query.id, text=out.callback_answer,
                                              show_alert=out.alert), update.update_id)
    elif (message := update.message or update.edited_message) is not None \
            and message.chat.type == "private":
        inb = message_inbound(message, update.update_id,
                              edited=update.edited_message is not None)
        out = await apply_webhook_inbound(desk, inb, _wait_notice(message), give_up)
    else:
        return
    if out.wake_sender:
        wake_sender()


async def skip_spent_updates(handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                             update: TelegramObject, data: dict[str, Any]) -> Any:
    """An update polling could not parse arrives as its id alone (`_updates_one_by_one`): it
    was logged there, and is only confirmed here, without aiogram's "unknown update type"."""
    if isinstance(update, Update):
        try:
            update.event_type  # noqa: B018 (raises for an update without any event)
        except UpdateTypeLookupError:
            return UNHANDLED
    return await handler(update, data)


def build_dispatcher(desk: Desk, wake_sender: Any, toasts: Toasts) -> Dispatcher:
    """Handler order is explicit: callbacks, then every kind of message (one catch-all)."""
    router = Router(name="zhitong")

    @router.callback_query()
    async def on_callback(query: CallbackQuery, event_update: Update) -> None:
        out = await desk.handle(callback_inbound(query, event_update.update_id),
                                on_delay=_wait_notice(query))
        if out.wake_sender:
            wake_sender()
        # The press was applied; a failed toast (answered already before a restart, too old)
        # leaves nothing to redo, so it is logged, not an error for the update.
        toasts.send(query.answer(text=out.callback_answer, show_alert=out.alert),
                    event_update.update_id)

    @router.message(F.chat.type == "private")
    @router.edited_message(F.chat.type == "private")
    async def on_message(message: Message, event_update: Update) -> None:
        inb = message_inbound(message, event_update.update_id,
                              edited=event_update.edited_message is not None)
        out = await desk.handle(inb, on_delay=_wait_notice(message))
        if out.wake_sender:
            wake_sender()

    dp = Dispatcher()
    dp.include_router(router)
    dp.update.outer_middleware(skip_spent_updates)

    @dp.errors()
    async def on_error(event: ErrorEvent) -> bool:
        log.error("update %s failed", event.update.update_id, exc_info=event.exception)
        update = event.update
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(SYSTEM_ERROR, show_alert=True)
            elif (message := update.message or update.edited_message) is not None:
                await message.answer(SYSTEM_ERROR)
        except TelegramAPIError:
            log.warning("could not tell the person about the failure")
        return True

    return dp


class AiogramTransport:
    """Renders a neutral outbox payload with aiogram and maps its errors for the sender."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        try:
            return await self._deliver(chat_id, payload, message_id)
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after), "429 too many requests") from exc
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return None
            raise Permanent(exc.message) from exc
        except (TelegramForbiddenError, TelegramNotFound, TelegramUnauthorizedError) as exc:
            raise Permanent(exc.message) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise RetryLater(None, str(exc)) from exc
        except TelegramAPIError as exc:
            raise RetryLater(None, str(exc)) from exc

    async def _deliver(self, chat_id: int, payload: dict[str, Any],
                       message_id: int | None) -> int | None:
        op = payload.get("op")
        markup = _markup(payload.get("buttons"))
        if op == "edit":
            if message_id is None:
                raise Permanent("edit without a message id")
            await self.bot.edit_message_text(chat_id=chat_id, message_id=message_id,
                                             text=payload["text"], reply_markup=markup)
            return None
        if op == "commands":
            commands = [BotCommand(command=c, description=d) for c, d in payload["commands"]]
            scope_chat = payload.get("scope_chat")
            scope = (BotCommandScopeChat(chat_id=scope_chat) if scope_chat
                     else BotCommandScopeDefault())
            await self.bot.set_my_commands(commands, scope=scope)
            return None
        photos = payload.get("photos") or []
        if len(photos) == 1:
            await self.bot.send_photo(chat_id, photo=photos[0])
        elif photos:
            for i in range(0, len(photos), 10):
                group = [InputMediaPhoto(media=p) for p in photos[i:i + 10]]
                if len(group) == 1:
                    await self.bot.send_photo(chat_id, photo=group[0].media)
                else:
                    await self.bot.send_media_group(chat_id, media=group)  # type: ignore[arg-type]
        if payload.get("photo_path"):
            sent = await self.bot.send_photo(chat_id, FSInputFile(payload["photo_path"]),
                                             caption=payload.get("text", "")[:1024] or None,
                                             reply_markup=markup)
            return sent.message_id
        document = payload.get("document")
        if document:
            sent = await self.bot.send_document(
                chat_id, FSInputFile(document["path"], filename=document.get("filename")),
                caption=payload.get("text", "")[:1000] or None, reply_markup=markup)
            return sent.message_id
        sent = await self.bot.send_message(chat_id, payload["text"], reply_markup=markup)
        return sent.message_id
