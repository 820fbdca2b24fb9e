"""An in-process Telegram Bot API emulator that speaks real HTTP on 127.0.0.1.

Used by the tests, the sandbox and `zhitong demo`: the real bot (aiogram or
python-telegram-bot) talks to it over loopback exactly as it would talk to api.telegram.org,
and a test plays the people on the other side.

Starting it
-----------
::

    async with BotApiEmulator(token="123456:TEST", username="zhitong_demo_bot") as emu:
        emu.base_url          # "http://127.0.0.1:PORT" (port 0 picks a free port)

    python -m bot.emulator --port 8081      # standalone, until Ctrl-C (poke it with curl)

Pointing a bot at it
--------------------
- aiogram 3: ``AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))`` — methods at
  ``{base}/bot{token}/{method}``, files at ``{base}/file/bot{token}/{path}``. This is also the
  value for ``ZHITONG_TELEGRAM_API`` (``emu.api_url`` is the same string).
- python-telegram-bot 22: ``Bot(token, base_url=emu.ptb_base_url,
  base_file_url=emu.ptb_base_file_url)``, i.e. ``http://127.0.0.1:PORT/bot`` and
  ``http://127.0.0.1:PORT/file/bot`` (PTB appends the token itself).

Bot API served
--------------
POST or GET ``/bot<token>/<method>`` with urlencoded, multipart (uploads kept, file ids
returned) or JSON bodies; query-string parameters are merged in; JSON-valued form fields
(reply_markup, media, allowed_updates, entities, commands, scope, …) are decoded. Method names
are case-insensitive. A wrong token answers 401 Unauthorized, an unknown method 404 Not Found.
Files download from ``/file/bot<token>/<file_path>``.

getMe, getUpdates (offset confirms, negative offsets, limit, long-poll ``timeout``,
allowed_updates remembered; 409 while a webhook is set; 409 "terminated by other getUpdates
request" for an older long poll when a newer one arrives, unless ``poll_conflicts=False``),
sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage,
answerCallbackQuery, sendPhoto, sendDocument, sendMediaGroup, sendChatAction, getFile,
setMyCommands / getMyCommands / deleteMyCommands (per scope and language), setWebhook /
deleteWebhook / getWebhookInfo, and trivially close, logOut, setMyDescription,
setMyShortDescription, setMyName, setChatMenuButton, getChatMenuButton.

Errors are Telegram's: "Bad Request: chat not found", "message text is empty", "message is too
long" (> 4096 characters after entity parsing), "message caption is too long",
"message to edit not found", "message is not modified: …", "message can't be edited",
"BUTTON_DATA_INVALID" (callback_data outside 1–64 bytes), "BUTTON_URL_INVALID",
"can't parse entities: …" (HTML checked against Telegram's subset: b strong i em u ins s
strike del a code pre tg-spoiler span.tg-spoiler blockquote tg-emoji tg-time; entities
&lt; &gt; &amp; &quot; and numeric — a bare "&" is refused on purpose so tests prove
escaping), "query is too old … or query ID is invalid" (unknown or twice-answered callback),
"Forbidden: bot was blocked by the user" (403, see block_user). Message text is shown after
parsing (tags removed, entities returned), trimmed as Telegram does. Editing text without
reply_markup removes the inline keyboard, as Telegram does. Markdown parse modes are accepted
but not interpreted.

Webhooks: setWebhook(url, secret_token, max_connections, allowed_updates,
drop_pending_updates) makes the emulator POST updates as JSON to ``url`` (plain http and any
port allowed, unlike Telegram) with ``X-Telegram-Bot-Api-Secret-Token`` when a secret was set.
A non-2xx answer or a connection error is retried with back-off (``webhook_retry_delay``
doubling up to ``webhook_retry_max_delay``) until 2xx; at most ``max_connections`` updates are
in flight and never two of the same chat. A method returned in the webhook's response body
(JSON or multipart with a "method" field) is executed. ``emu.webhook_deliveries`` lists every
attempt.

Python control API (synchronous unless marked async)
-----------------------------------------------------
Everything lives on the event loop that started the emulator; call it from that loop only
(other processes use the HTTP control interface below).

People and their side of the chat:

- ``add_user(user_id, first_name, username=None, last_name=None, language_code="zh-hans")``
  (private chat id == user id), ``add_group(chat_id, title)``, ``block_user(user_id, blocked)``
- ``send_text(user_id, text, *, chat_id=None, reply_to_message_id=None) -> update_id``
  ("/start abc" gets a bot_command entity at offset 0)
- ``edit_text(user_id, message_id, text, *, chat_id=None) -> update_id`` (the person edits a
  text or caption they sent: an ``edited_message`` update with ``edit_date``)
- ``send_photo(user_id, caption=None, media_group_id=None, image_bytes=TINY_PNG) -> update_id``,
  ``send_album(user_id, count=2, caption=None) -> [update_id]``,
  ``send_document(user_id, data, file_name, mime_type, caption)``, ``send_sticker(user_id)``,
  ``send_contact(user_id, phone_number, first_name=None)``, ``send_location(user_id, lat, lon)``,
  ``send_message_fields(user_id, {"voice": {...}})``
- ``press(user_id, message_id, data=None, *, text=None, chat_id=None, strict=True) -> update_id``
  (callback_query with the message as it is now; strict=False forges stale/crafted presses)
- ``inject_update(raw_dict) -> update_id``; ``redeliver(update_id)`` (delivered again with the
  same id although the bot's offset is past it)

Reading:

- ``requests`` (list of RecordedRequest: method, params as parsed (uploads as UploadedFile),
  files, time, status, http_method, response, via), ``requests_for(method)``
- ``sent_messages(chat_id=None)``, ``last_message(chat_id)`` (bot messages, current state),
  ``history(chat_id)`` (both sides), ``message(chat_id, message_id)``, ``reply_keyboard(chat_id)``
- ``callback_answers`` (dicts with callback_query_id, update_id, user_id, data, message_id,
  text, show_alert, url, cache_time), ``pending_updates()``, ``is_confirmed(update_id)``,
  ``confirmed_offset``, ``update(update_id)``, ``callback_query_id(update_id)``,
  ``waiting_polls`` (getUpdates calls parked in a long poll), ``get_commands(scope=None,
  language_code="")``, ``files``, ``file_bytes(file_id)``, ``webhook``, ``webhook_deliveries``,
  ``snapshot()``, ``method_url(method)``, ``file_url(file_path)``
- async ``wait_for(predicate, timeout=5.0)``, ``wait_for_message(chat_id, contains=None,
  timeout=5.0, *, after=None)``, ``wait_until_confirmed(update_id, timeout=5.0)``,
  ``wait_for_request(method, predicate=None, timeout=5.0, *, start=0)``,
  ``wait_for_callback_answer(update_id, timeout=5.0)`` — all raise TimeoutError with a summary.

Faults: ``fail_next(method, status=429, retry_after=None, count=1, description=None, *,
applied=False, delay=0.0)`` — the next ``count`` calls of ``method`` ("*" = any) answer that
error (429 with parameters.retry_after, 1 by default; 5xx "Internal Server Error" / "Bad
Gateway" …); status=0 drops the connection; applied=True performs the call before failing;
``delay_next(method, seconds, count=1)`` — the next calls are answered normally, only late;
``faults_waiting()`` — how many calls those faults have still to answer; ``clear_faults()``.
``BotApiEmulator(rtt=seconds)`` (``python -m bot.emulator --rtt-ms``) puts a
network between bot and emulator: every Bot API call arrives rtt/2 late and its answer takes
another rtt/2.

HTTP control interface (JSON; answers {"ok": true, "result": ...} or 400 {"ok": false,
"error": ...})
---------------------------------------------------------------------------------------------
POST ``/_emu/users`` {user_id, first_name, username?, last_name?, language_code?};
``/_emu/send_text`` {user_id, text, chat_id?, reply_to_message_id?} → {update_id};
``/_emu/edit_text`` {user_id, message_id, text, chat_id?} → {update_id};
``/_emu/press`` {user_id, message_id, data? | text?, chat_id?, strict?} → {update_id};
``/_emu/send_photo`` {user_id, caption?, media_group_id?, image_base64?};
``/_emu/send_album`` {user_id, count?, caption?} → {update_ids};
``/_emu/send_sticker`` {user_id, emoji?}; ``/_emu/send_document`` {user_id, data_base64?,
file_name?, mime_type?, caption?}; ``/_emu/send_contact`` {user_id, phone_number, first_name?};
``/_emu/send_message_fields`` {user_id, fields}; ``/_emu/inject_update`` {update} (or the raw
update); ``/_emu/redeliver`` {update_id}; ``/_emu/fail_next`` {method, status?, retry_after?,
count?, description?, applied?, delay?}; ``/_emu/block`` {user_id, blocked?}.

GET ``/_emu/requests?since=N&method=M``; ``/_emu/messages?chat_id=C`` (bot messages, current
state; add ``&all=1`` for both sides); ``/_emu/state``; ``/_emu/callback_answers``;
``/_emu/updates`` (pending); ``/_emu/webhook_deliveries``; ``/_emu/commands``;
``/_emu/wait_message?chat_id=C&contains=TEXT&after=MID&timeout=S`` (408 on timeout).
"""

from bot.emulator.body import UploadedFile
from bot.emulator.markup import EntityParseError, parse_html
from bot.emulator.methods import ApiError
from bot.emulator.server import BotApiEmulator, Fault
from bot.emulator.state import TINY_PNG, RecordedRequest, StoredFile, WebhookConfig

__all__ = [
    "TINY_PNG",
    "ApiError",
    "BotApiEmulator",
    "EntityParseError",
    "Fault",
    "RecordedRequest",
    "StoredFile",
    "UploadedFile",
    "WebhookConfig",
    "parse_html",
]
