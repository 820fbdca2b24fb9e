"""The emulated Bot API methods: checks and answers shaped like Telegram's.

Each method takes the decoded parameters and the uploads referenced by attach:// and returns
the `result` value, or raises ApiError with Telegram's status code and wording. getUpdates is
not here: it waits, so the server implements it on top of EmulatorState.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import re
from collections.abc import Callable
from typing import Any

from bot.emulator.body import ATTACH_PREFIX, UploadedFile
from bot.emulator.markup import EntityParseError, parse_html, strip_text
from bot.emulator.state import TINY_PNG, EmulatorState, StoredFile, WebhookConfig, scope_key

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_\-]{1,256}")
_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                   "copy_text", "callback_game", "pay")
_CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video",
                           "record_voice", "upload_voice", "upload_document", "choose_sticker",
                           "find_location", "record_video_note", "upload_video_note"})


class ApiError(Exception):
    """A Bot API error answer: {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code,
                               "description": self.description}
        parameters: dict[str, Any] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            out["parameters"] = parameters
        return out


def bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


# ---------------------------------------------------------------------- parameter coercion
def opt_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad(f"field \"{name}\" must be of type Integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise bad(f"field \"{name}\" must be of type Integer")


def opt_bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in ("true", "1")


def opt_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise bad(f"field \"{name}\" must be of type String")


def opt_json(params: dict[str, Any], name: str, what: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {what} JSON object") from None
    return value


class ApiMethods:
    """Bot API methods over an EmulatorState."""

    def __init__(self, state: EmulatorState) -> None:
        self.s = state
        handlers: dict[str, Callable[[dict[str, Any], dict[str, UploadedFile]], Any]] = {
            "getMe": self.get_me,
            "logOut": self.trivial_true,
            "close": self.trivial_true,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyDescription": self.trivial_true,
            "setMyShortDescription": self.trivial_true,
            "setMyName": self.trivial_true,
            "setChatMenuButton": self.trivial_true,
            "getChatMenuButton": lambda p, f: {"type": "commands"},
        }
        self.handlers = handlers
        # Set by a method whose success answer carries a description (setWebhook ...).
        self.description: str | None = None
        # Telegram matches method names case-insensitively.
        self.by_lower = {name.lower(): name for name in handlers}

    # ------------------------------------------------------------------ helpers
    def trivial_true(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        return True

    def _chat(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        chat_id: int | None
        try:
            chat_id = opt_int(params, "chat_id")
        except ApiError:
            chat_id = None
        if chat_id is None or chat_id not in self.s.chats:
            raise bad("chat not found")
        if chat_id in self.s.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _format(self, text: str, params: dict[str, Any], mode_field: str,
                entities_field: str) -> tuple[str, list[dict[str, Any]]]:
        mode = (opt_str(params, mode_field) or "").strip()
        entities: list[dict[str, Any]] = []
        if mode == "":
            given = opt_json(params, entities_field, "entities")
            if given:
                if not isinstance(given, list) or not all(isinstance(e, dict) for e in given):
                    raise bad("can't parse entities JSON object")
                entities = copy.deepcopy(given)
        elif mode.lower() == "html":
            try:
                text, entities = parse_html(text)
            except EntityParseError as exc:
                raise bad(f"can't parse entities: {exc}") from None
        elif mode.lower() not in ("markdown", "markdownv2"):
            raise bad("unsupported parse_mode")
        # Markdown modes are accepted but not interpreted (the project formats with HTML).
        return strip_text(text, entities)

    def _inline_markup(self, value: Any) -> dict[str, Any]:
        rows = value.get("inline_keyboard")
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array '
                      "of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise bad("can't parse inline keyboard button: InlineKeyboardButton should "
                              "be an Object")
                if not isinstance(button.get("text"), str):
                    raise bad('can\'t parse inline keyboard button: Field "text" must be of '
                              "type String")
                if not any(k in button for k in _BUTTON_ACTIONS):
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed "
                              "in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
                        raise bad("BUTTON_URL_INVALID")
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _reply_markup(self, params: dict[str, Any], chat_id: int | None,
                      *, inline_only: bool = False) -> dict[str, Any] | None:
        """The inline keyboard to echo on the message; reply keyboards are remembered per chat
        (Telegram shows them under the input field and does not echo them)."""
        value = opt_json(params, "reply_markup", "reply keyboard markup")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in value:
            return self._inline_markup(value)
        if inline_only:
            raise bad("inline keyboard expected")
        if "keyboard" in value:
            if not isinstance(value["keyboard"], list):
                raise bad('field "keyboard" of the ReplyKeyboardMarkup should be an Array of '
                          "Arrays")
            if chat_id is not None:
                self.s._reply_keyboards[chat_id] = copy.deepcopy(value)
        elif "remove_keyboard" in value:
            if chat_id is not None:
                self.s._reply_keyboards[chat_id] = None
        elif "force_reply" in value:
            if chat_id is not None:
                self.s._reply_keyboards[chat_id] = copy.deepcopy(value)
        else:
            raise bad("can't parse reply keyboard markup JSON object")
        return None

    def _reply_to(self, params: dict[str, Any], chat_id: int) -> dict[str, Any] | None:
        target = opt_json(params, "reply_parameters", "reply parameters")
        allow_missing = opt_bool(params, "allow_sending_without_reply")
        mid: int | None = None
        if isinstance(target, dict):
            mid = opt_int(target, "message_id")
            allow_missing = allow_missing or opt_bool(target, "allow_sending_without_reply")
        elif target is not None:
            raise bad("can't parse reply parameters JSON object")
        else:
            mid = opt_int(params, "reply_to_message_id")
        if mid is None:
            return None
        replied = self.s._messages.get(chat_id, {}).get(mid)
        if replied is None:
            if allow_missing:
                return None
            raise bad("message to be replied not found")
        return {k: copy.deepcopy(v) for k, v in replied.items() if k != "reply_to_message"}

    def _send(self, chat_id: int, content: dict[str, Any], params: dict[str, Any],
              markup: dict[str, Any] | None) -> dict[str, Any]:
        reply_to = self._reply_to(params, chat_id)
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        if markup is not None:
            content["reply_markup"] = markup
        if opt_bool(params, "has_protected_content") or opt_bool(params, "protect_content"):
            content["has_protected_content"] = True
        msg = self.s._new_message(chat_id, self.s.bot_user, content)
        return copy.deepcopy(msg)

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = opt_str(params, "caption")
        if not caption:
            return {}
        text, entities = self._format(caption, params, "parse_mode", "caption_entities")
        if len(text) > MAX_CAPTION:
            raise bad("message caption is too long")
        out: dict[str, Any] = {}
        if text:
            out["caption"] = text
        if entities:
            out["caption_entities"] = entities
        return out

    def _file(self, value: Any, kind: str, files: dict[str, UploadedFile]) -> StoredFile:
        """An uploaded file, a known file_id, or an HTTP URL Telegram would fetch."""
        if isinstance(value, UploadedFile):
            mime = value.content_type
            if mime in ("", "application/octet-stream"):
                mime = mimetypes.guess_type(value.filename)[0] or mime
            return self.s.store_file(value.data, kind, mime_type=mime, file_name=value.filename)
        if isinstance(value, str) and value.startswith(ATTACH_PREFIX):
            upload = files.get(value[len(ATTACH_PREFIX):])
            if upload is None:
                raise bad(f"can't find the attached file {value}")
            return self._file(upload, kind, files)
        if isinstance(value, str) and value in self.s.files:
            stored = self.s.files[value]
            if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
                raise bad(f"can't use file of type {stored.kind.capitalize()} as "
                          f"{kind.capitalize()}")
            return stored
        if isinstance(value, str) and re.match(r"https?://\S+$", value):
            name = value.rsplit("/", 1)[-1] or "file"
            data = TINY_PNG if kind == "photo" else b""
            return self.s.store_file(data, kind, mime_type=mimetypes.guess_type(name)[0],
                                     file_name=name)
        raise bad("wrong file identifier/HTTP URL specified")

    def _media_content(self, kind: str, stored: StoredFile) -> dict[str, Any]:
        if kind == "photo":
            return {"photo": self.s.photo_sizes(stored.data, largest=stored)}
        body: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                                "file_size": stored.size}
        if stored.file_name:
            body["file_name"] = stored.file_name
        if stored.mime_type:
            body["mime_type"] = stored.mime_type
        if kind in ("video", "animation"):
            body.update({"width": 640, "height": 480, "duration": 1})
        if kind == "audio":
            body["duration"] = 1
        return {kind: body}

    def _locate(self, params: dict[str, Any], action: str) -> tuple[int, dict[str, Any]]:
        if params.get("inline_message_id"):
            # Inline mode is not emulated, so no inline message can exist.
            raise bad(f"message to {action} not found")
        chat_id = self._chat(params)
        mid = opt_int(params, "message_id")
        if mid is None:
            raise bad("message identifier is not specified")
        msg = self.s._messages.get(chat_id, {}).get(mid)
        if msg is None:
            raise bad(f"message to {action} not found")
        return chat_id, msg

    # ------------------------------------------------------------------ methods
    def get_me(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return {**self.s.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    def send_message(self, params: dict[str, Any],
                     files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id = self._chat(params)
        raw = opt_str(params, "text") or ""
        text, entities = self._format(raw, params, "parse_mode", "entities")
        if not text:
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("message is too long")
        markup = self._reply_markup(params, chat_id)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat_id, content, params, markup)

    def edit_message_text(self, params: dict[str, Any],
                          files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id, msg = self._locate(params, "edit")
        raw = opt_str(params, "text") or ""
        text, entities = self._format(raw, params, "parse_mode", "entities")
        if not text:
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("MESSAGE_TOO_LONG")
        if not self.s._is_bot_message(msg):
            raise bad("message can't be edited")
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        # Leaving reply_markup out removes the inline keyboard, as in Telegram.
        markup = self._reply_markup(params, chat_id, inline_only=True)
        if (text == msg["text"] and entities == msg.get("entities", [])
                and markup == msg.get("reply_markup")):
            raise bad("message is not modified: specified new message content and reply "
                      "markup are exactly the same as a current content and reply markup of "
                      "the message")
        msg["text"] = text
        self._set_optional(msg, "entities", entities or None)
        self._set_optional(msg, "reply_markup", markup)
        msg["edit_date"] = self.s._now()
        self.s._notify()
        return copy.deepcopy(msg)

    def edit_message_caption(self, params: dict[str, Any],
                             files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id, msg = self._locate(params, "edit")
        if not self.s._is_bot_message(msg):
            raise bad("message can't be edited")
        if "text" in msg:
            raise bad("there is no caption in the message to edit")
        caption = self._caption(params)
        markup = self._reply_markup(params, chat_id, inline_only=True)
        if (caption.get("caption") == msg.get("caption")
                and caption.get("caption_entities") == msg.get("caption_entities")
                and markup == msg.get("reply_markup")):
            raise bad("message is not modified: specified new message content and reply "
                      "markup are exactly the same as a current content and reply markup of "
                      "the message")
        self._set_optional(msg, "caption", caption.get("caption"))
        self._set_optional(msg, "caption_entities", caption.get("caption_entities"))
        self._set_optional(msg, "reply_markup", markup)
        msg["edit_date"] = self.s._now()
        self.s._notify()
        return copy.deepcopy(msg)

    def edit_message_reply_markup(self, params: dict[str, Any],
                                  files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id, msg = self._locate(params, "edit")
        if not self.s._is_bot_message(msg):
            raise bad("message can't be edited")
        markup = self._reply_markup(params, chat_id, inline_only=True)
        if markup == msg.get("reply_markup"):
            raise bad("message is not modified: specified new message content and reply "
                      "markup are exactly the same as a current content and reply markup of "
                      "the message")
        self._set_optional(msg, "reply_markup", markup)
        msg["edit_date"] = self.s._now()
        self.s._notify()
        return copy.deepcopy(msg)

    @staticmethod
    def _set_optional(msg: dict[str, Any], key: str, value: Any) -> None:
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value

    def delete_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        try:
            chat_id, msg = self._locate(params, "delete")
        except ApiError as exc:
            if "not found" in exc.description:
                raise bad("message to delete not found") from None
            raise
        del self.s._messages[chat_id][msg["message_id"]]
        self.s._notify()
        return True

    def answer_callback_query(self, params: dict[str, Any],
                              files: dict[str, UploadedFile]) -> bool:
        query_id = opt_str(params, "callback_query_id") or ""
        entry = self.s.callback_queries.get(query_id)
        if entry is None or entry["answered"]:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        entry["answered"] = True
        query = entry["query"]
        self.s.callback_answers.append({
            "callback_query_id": query_id, "update_id": entry["update_id"],
            "user_id": query["from"]["id"], "data": query.get("data"),
            "message_id": (query.get("message") or {}).get("message_id"),
            "text": text, "show_alert": opt_bool(params, "show_alert"),
            "url": opt_str(params, "url"), "cache_time": opt_int(params, "cache_time"),
        })
        self.s._notify()
        return True

    def send_photo(self, params: dict[str, Any],
                   files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id = self._chat(params)
        if params.get("photo") in (None, ""):
            raise bad("there is no photo in the request")
        stored = self._file(params["photo"], "photo", files)
        content = self._media_content("photo", stored)
        content.update(self._caption(params))
        markup = self._reply_markup(params, chat_id)
        return self._send(chat_id, content, params, markup)

    def send_document(self, params: dict[str, Any],
                      files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat_id = self._chat(params)
        if params.get("document") in (None, ""):
            raise bad("there is no document in the request")
        stored = self._file(params["document"], "document", files)
        content = self._media_content("document", stored)
        content.update(self._caption(params))
        markup = self._reply_markup(params, chat_id)
        return self._send(chat_id, content, params, markup)

    def send_media_group(self, params: dict[str, Any],
                         files: dict[str, UploadedFile]) -> list[dict[str, Any]]:
        chat_id = self._chat(params)
        media = opt_json(params, "media", "media")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad("media group must include 2-10 items")
        kinds = {m.get("type") for m in media}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise bad("unsupported media type in the media group")
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise bad("documents and audio can't be mixed with other media types")
        prepared = []
        for item in media:
            if item.get("media") in (None, ""):
                raise bad("there is no media in the request")
            stored = self._file(item["media"], str(item["type"]), files)
            content = self._media_content(str(item["type"]), stored)
            content.update(self._caption(item))
            prepared.append(content)
        group_id = str(next(self.s._media_groups))
        sent = []
        for content in prepared:
            content["media_group_id"] = group_id
            sent.append(self._send(chat_id, content, params, None))
        return sent

    def send_chat_action(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self._chat(params)
        if opt_str(params, "action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def get_file(self, params: dict[str, Any],
                 files: dict[str, UploadedFile]) -> dict[str, Any]:
        file_id = opt_str(params, "file_id") or ""
        stored = self.s.files.get(file_id)
        if stored is None:
            raise bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad("file is too big")
        return stored.as_file()

    def _scope(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = opt_json(params, "scope", "scope")
        if scope is not None:
            if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
                raise bad("can't parse BotCommandScope JSON object")
            if scope["type"] in ("chat", "chat_administrators", "chat_member"):
                self._chat(scope)
        return scope_key(scope), opt_str(params, "language_code") or ""

    def set_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = opt_json(params, "commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        cleaned = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise bad("can't parse BotCommand JSON object")
            name, desc = cmd.get("command"), cmd.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise bad("BOT_COMMAND_INVALID")
            if not isinstance(desc, str) or not 1 <= len(desc) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": desc})
        key = self._scope(params)
        if cleaned:
            self.s.commands[key] = cleaned
        else:
            self.s.commands.pop(key, None)
        self.s._notify()
        return True

    def get_my_commands(self, params: dict[str, Any],
                        files: dict[str, UploadedFile]) -> list[dict[str, Any]]:
        return copy.deepcopy(self.s.commands.get(self._scope(params), []))

    def delete_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.s.commands.pop(self._scope(params), None)
        self.s._notify()
        return True

    def set_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        url = opt_str(params, "url")
        if url is None:
            raise bad("url is empty")  # the spec marks url required
        if url == "":
            return self.delete_webhook(params, files)
        # Telegram insists on HTTPS and ports 443/80/88/8443; the emulator lets plain HTTP on
        # any port through so a test can receive on 127.0.0.1.
        if not re.match(r"https?://[^/\s]+", url):
            raise bad("bad webhook: Failed to resolve host: Name or service not known")
        secret = opt_str(params, "secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        max_connections = opt_int(params, "max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        allowed = opt_json(params, "allowed_updates", "allowed updates")
        if allowed is not None and not isinstance(allowed, list):
            raise bad("can't parse allowed updates JSON object")
        if opt_bool(params, "drop_pending_updates"):
            self.s.drop_pending()
        if allowed is not None:
            self.s.allowed_updates = [str(a) for a in allowed] or None
        self.s.webhook = WebhookConfig(
            url=url, secret_token=secret, max_connections=max_connections,
            ip_address=opt_str(params, "ip_address"),
            has_custom_certificate=isinstance(params.get("certificate"), UploadedFile),
            allowed_updates=self.s.allowed_updates)
        self.description = "Webhook was set"
        self.s._notify()
        return True

    def delete_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        if opt_bool(params, "drop_pending_updates"):
            self.s.drop_pending()
        self.description = ("Webhook was deleted" if self.s.webhook is not None
                            else "Webhook is already deleted")
        self.s.webhook = None
        self.s._notify()
        return True

    def get_webhook_info(self, params: dict[str, Any],
                         files: dict[str, UploadedFile]) -> dict[str, Any]:
        hook = self.s.webhook
        info: dict[str, Any] = {"url": hook.url if hook else "",
                                "has_custom_certificate": bool(hook and
                                                               hook.has_custom_certificate),
                                "pending_update_count": len(self.s._queue)}
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.allowed_updates:
                info["allowed_updates"] = list(hook.allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message or ""
        return info
