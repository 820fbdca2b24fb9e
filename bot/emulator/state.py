"""What the emulated Telegram knows: people, chats, message history, files, the update queue.

Everything here is synchronous and lives on one event loop; the HTTP server and the Python
control API share it. Every change calls `_notify()`, which wakes long polls, the webhook
deliverer and `wait_for` helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import mimetypes
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.emulator.body import UploadedFile, jsonable
from bot.emulator.markup import command_entities

_T = TypeVar("_T")

# Update types Telegram leaves out unless asked for explicitly.
NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _tiny_png() -> bytes:
    """A valid 1x1 PNG, so a downloaded "photo" opens in any viewer."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x2a\x7f\xd4")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


TINY_PNG = _tiny_png()


@dataclass
class RecordedRequest:
    """One Bot API call as the emulator saw it."""

    index: int
    method: str  # canonical spelling ("sendMessage") when known, else as sent
    params: dict[str, Any]
    time: float
    status: int = 200
    http_method: str = "POST"
    files: dict[str, UploadedFile] = field(default_factory=dict)
    response: Any = None
    via: str = "http"  # "webhook_reply" for a method returned in a webhook response body

    @property
    def ok(self) -> bool:
        return self.status == 200

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "method": self.method, "params": jsonable(self.params),
                "files": {k: v.to_json() for k, v in self.files.items()}, "time": self.time,
                "status": self.status, "http_method": self.http_method,
                "response": jsonable(self.response), "via": self.via}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo, document, sticker, video, audio, voice, animation
    data: bytes = field(repr=False)
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def as_file(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": self.size, "file_path": self.file_path}


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    has_custom_certificate: bool = False
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


def update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "unknown")


def update_chat_key(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to, to keep per-chat order when delivering in parallel."""
    body = update.get(update_type(update))
    if not isinstance(body, dict):
        return None
    for holder in (body, body.get("message")):
        if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
            chat_id = holder["chat"].get("id")
            if isinstance(chat_id, int):
                return chat_id
    sender = body.get("from")
    if isinstance(sender, dict) and isinstance(sender.get("id"), int):
        return int(sender["id"])
    return None


class EmulatorState:
    """State plus the user-side control API (inject messages and presses, read results)."""

    def __init__(self, token: str, username: str, bot_name: str = "项目直通车",
                 clock: Callable[[], float] = time.time, first_update_id: int = 1) -> None:
        bot_id_text = token.split(":", 1)[0]
        if not bot_id_text.isdigit() or ":" not in token:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token = token
        self.username = username
        self.bot_id = int(bot_id_text)
        self.bot_user: dict[str, Any] = {"id": self.bot_id, "is_bot": True,
                                         "first_name": bot_name, "username": username}
        self.clock = clock
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._order: list[tuple[int, int]] = []  # (chat_id, message_id) in creation order
        self._next_mid: dict[int, int] = {}
        self._reply_keyboards: dict[int, dict[str, Any] | None] = {}
        self._next_update_id = first_update_id
        self._queue: dict[int, dict[str, Any]] = {}  # pending updates by id
        self._issued: dict[int, dict[str, Any]] = {}  # every update ever queued
        self._redelivered: set[int] = set()  # exempt from the offset rule until delivered again
        self._confirmed_offset = 0
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self._callback_ids = itertools.count(4_300_000_000_000_000_001)
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self._file_ids = itertools.count(1)
        self._media_groups = itertools.count(13_000_000_000_000_001)
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ plumbing
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _now(self) -> int:
        return int(self.clock())

    def _record(self, method: str, params: dict[str, Any], *, status: int = 200,
                http_method: str = "POST", files: dict[str, UploadedFile] | None = None,
                response: Any = None, via: str = "http") -> RecordedRequest:
        rec = RecordedRequest(index=len(self.requests), method=method, params=params,
                              time=self.clock(), status=status, http_method=http_method,
                              files=dict(files or {}), response=response, via=via)
        self.requests.append(rec)
        self._notify()
        return rec

    # ------------------------------------------------------------------ people and chats
    def add_user(self, user_id: int, first_name: str, username: str | None = None,
                 last_name: str | None = None, language_code: str | None = "zh-hans",
                 *, is_premium: bool = False) -> dict[str, Any]:
        """Register a person; their private chat with the bot has id == user_id."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            user["last_name"] = chat["last_name"] = last_name
        if username:
            user["username"] = chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self.users[user_id] = user
        self.chats[user_id] = chat
        self._messages.setdefault(user_id, {})
        self._notify()
        return copy.deepcopy(user)

    def add_group(self, chat_id: int, title: str, chat_type: str = "supergroup") -> dict[str, Any]:
        """A group chat the bot is a member of (messages in it need a user via `chat_id=`)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self.chats[chat_id] = {"id": chat_id, "type": chat_type, "title": title}
        self._messages.setdefault(chat_id, {})
        self._notify()
        return copy.deepcopy(self.chats[chat_id])

    def block_user(self, user_id: int, blocked: bool = True) -> None:
        """The person blocked the bot: sends to them answer 403 like Telegram."""
        (self.blocked.add if blocked else self.blocked.discard)(user_id)
        self._notify()

    def _user(self, user_id: int) -> dict[str, Any]:
        try:
            return self.users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id}; call add_user() first") from None

    def _ensure_known(self, update: dict[str, Any]) -> None:
        """Forged updates may mention chats never added; Telegram would know them."""
        body = update.get(update_type(update))
        if not isinstance(body, dict):
            return
        sender = body.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            self.users.setdefault(sender["id"], copy.deepcopy(sender))
        for holder in (body, body.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
                chat = holder["chat"]
                if isinstance(chat.get("id"), int):
                    self.chats.setdefault(chat["id"], copy.deepcopy(chat))
                    self._messages.setdefault(chat["id"], {})

    # ------------------------------------------------------------------ messages
    def _new_message(self, chat_id: int, sender: dict[str, Any],
                     content: dict[str, Any]) -> dict[str, Any]:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        msg: dict[str, Any] = {"message_id": mid, "from": copy.deepcopy(sender),
                               "chat": copy.deepcopy(self.chats[chat_id]), "date": self._now()}
        msg.update(content)
        self._messages.setdefault(chat_id, {})[mid] = msg
        self._order.append((chat_id, mid))
        self._notify()
        return msg

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The message as it is now (a copy), or None when it does not exist."""
        msg = self._messages.get(chat_id, {}).get(message_id)
        return copy.deepcopy(msg) if msg is not None else None

    def history(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message in the chat (the person's and the bot's), current state, oldest first."""
        return [copy.deepcopy(m) for _, m in sorted(self._messages.get(chat_id, {}).items())]

    def _is_bot_message(self, msg: dict[str, Any]) -> bool:
        return bool(msg.get("from", {}).get("id") == self.bot_id)

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent (current text and keyboard after edits), in sending order."""
        out: list[dict[str, Any]] = []
        for cid, mid in self._order:
            if chat_id is not None and cid != chat_id:
                continue
            msg = self._messages.get(cid, {}).get(mid)
            if msg is not None and self._is_bot_message(msg):
                out.append(copy.deepcopy(msg))
        return out

    def last_message(self, chat_id: int) -> dict[str, Any] | None:
        """The newest message the bot sent to this chat, as the person sees it now."""
        for msg in reversed(list(self._messages.get(chat_id, {}).values())):
            if self._is_bot_message(msg):
                return copy.deepcopy(msg)
        return None

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard (or force_reply) currently shown in the chat, if any."""
        return copy.deepcopy(self._reply_keyboards.get(chat_id))

    @staticmethod
    def message_text(msg: dict[str, Any]) -> str:
        return str(msg.get("text", msg.get("caption", "")) or "")

    @staticmethod
    def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
        """Inline buttons of a message, row by row flattened."""
        markup = msg.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    # ------------------------------------------------------------------ files
    def store_file(self, data: bytes, kind: str, *, mime_type: str | None = None,
                   file_name: str | None = None) -> StoredFile:
        n = next(self._file_ids)
        ext = {"photo": ".jpg", "sticker": ".webp", "voice": ".oga", "video": ".mp4"}.get(kind)
        if ext is None:
            ext = (mimetypes.guess_extension(mime_type or "") or "") if not file_name else (
                "." + file_name.rsplit(".", 1)[-1] if "." in file_name else "")
        folder = {"photo": "photos", "sticker": "stickers", "document": "documents"}.get(
            kind, kind + "s")
        stored = StoredFile(file_id=f"BQACAgUAAx{kind[:3]}{n:06d}{self.bot_id % 100000:05d}",
                            file_unique_id=f"AgAD{n:06d}", kind=kind, data=data,
                            file_path=f"{folder}/file_{n}{ext}", mime_type=mime_type,
                            file_name=file_name)
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return self._files_by_path.get(path)

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    def photo_sizes(self, data: bytes, largest: StoredFile | None = None) -> list[dict[str, Any]]:
        """PhotoSize list smallest first, like Telegram; the largest keeps the original bytes
        (and is `largest` itself when given, so a photo re-sent by file_id keeps its id)."""
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            stored = (largest if largest is not None and width == 1280
                      else self.store_file(data, "photo", mime_type="image/jpeg"))
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "file_size": stored.size, "width": width, "height": height})
        return sizes

    # ------------------------------------------------------------------ updates
    def _enqueue(self, update: dict[str, Any]) -> int:
        if isinstance(update.get("update_id"), int):
            update_id = int(update["update_id"])
        else:
            update_id = self._next_update_id
            update = {"update_id": update_id, **update}
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._queue[update_id] = update
        self._issued[update_id] = update
        self._notify()
        return update_id

    def inject_update(self, update: dict[str, Any]) -> int:
        """Queue a raw (possibly forged) update; an update_id is assigned when missing."""
        update = copy.deepcopy(update)
        self._ensure_known(update)
        return self._enqueue(update)

    def redeliver(self, update_id: int) -> None:
        """Put an update back in the queue as if Telegram never got the confirmation.

        It is delivered again with the same update_id even though the bot's offset is past it.
        """
        if update_id not in self._issued:
            raise KeyError(f"unknown update {update_id}")
        self._queue[update_id] = self._issued[update_id]
        self._redelivered.add(update_id)
        self._notify()

    def update(self, update_id: int) -> dict[str, Any]:
        return copy.deepcopy(self._issued[update_id])

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (delivered or not), oldest first."""
        return [copy.deepcopy(self._queue[k]) for k in sorted(self._queue)]

    def is_confirmed(self, update_id: int) -> bool:
        return update_id in self._issued and update_id not in self._queue

    @property
    def confirmed_offset(self) -> int:
        """The highest getUpdates offset the bot has sent (0 before any)."""
        return self._confirmed_offset

    def _allowed(self, update: dict[str, Any], allowed: list[str] | None) -> bool:
        kind = update_type(update)
        if not allowed:
            return kind not in NOT_DEFAULT_UPDATES
        return kind in allowed

    def confirm(self, offset: int) -> None:
        """getUpdates offset semantics: updates with id < offset are forgotten.

        A negative offset keeps only the last -offset updates, as Telegram documents.
        """
        ids = sorted(self._queue)
        if offset < 0:
            drop = ids[:max(0, len(ids) + offset)]
        else:
            drop = [i for i in ids if i < offset and i not in self._redelivered]
            self._confirmed_offset = max(self._confirmed_offset, offset)
        for i in drop:
            self._queue.pop(i, None)
        if drop:
            self._notify()

    def drop_pending(self) -> None:
        self._queue.clear()
        self._redelivered.clear()
        self._notify()

    def deliverable(self, allowed: list[str] | None, limit: int = 100) -> list[dict[str, Any]]:
        """Pending updates to hand out now; updates of types not allowed are dropped, since
        Telegram would not have created them."""
        out: list[dict[str, Any]] = []
        for update_id in sorted(self._queue):
            update = self._queue[update_id]
            if not self._allowed(update, allowed):
                self._queue.pop(update_id)
                self._redelivered.discard(update_id)
                continue
            out.append(update)
            if len(out) >= limit:
                break
        return out

    def mark_delivered(self, updates: list[dict[str, Any]]) -> None:
        for update in updates:
            self._redelivered.discard(update["update_id"])

    def acknowledge(self, update_id: int) -> None:
        """A webhook answered 2xx for this update."""
        self._queue.pop(update_id, None)
        self._redelivered.discard(update_id)
        self._notify()

    # ------------------------------------------------------------------ the person's side
    def _user_message(self, user_id: int, content: dict[str, Any], *,
                      chat_id: int | None = None,
                      reply_to_message_id: int | None = None) -> int:
        user = self._user(user_id)
        cid = user_id if chat_id is None else chat_id
        if cid not in self.chats:
            raise KeyError(f"unknown chat {cid}")
        if reply_to_message_id is not None:
            replied = self._messages.get(cid, {}).get(reply_to_message_id)
            if replied is None:
                raise KeyError(f"no message {reply_to_message_id} in chat {cid}")
            content = {**content, "reply_to_message": {
                k: copy.deepcopy(v) for k, v in replied.items() if k != "reply_to_message"}}
        msg = self._new_message(cid, user, content)
        return self._enqueue({"message": copy.deepcopy(msg)})

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None,
                  reply_to_message_id: int | None = None) -> int:
        """The person types `text`; returns the update_id. "/cmd args" gets a bot_command
        entity at offset 0 like Telegram adds."""
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, content, chat_id=chat_id,
                                  reply_to_message_id=reply_to_message_id)

    def edit_text(self, user_id: int, message_id: int, text: str, *,
                  chat_id: int | None = None) -> int:
        """The person edits a text (or a caption) they sent; returns the update_id of the
        `edited_message` Telegram sends for it."""
        cid = user_id if chat_id is None else chat_id
        msg = self._messages.get(cid, {}).get(message_id)
        if msg is None or msg.get("from", {}).get("id") != user_id:
            raise KeyError(f"user {user_id} sent no message {message_id} in chat {cid}")
        field = "caption" if "caption" in msg or "photo" in msg else "text"
        if field == "text" and "text" not in msg:
            raise KeyError(f"message {message_id} has no text to edit")
        msg[field] = text
        msg.pop("entities" if field == "text" else "caption_entities", None)
        entities = command_entities(text) if field == "text" else []
        if entities:
            msg["entities"] = entities
        msg["edit_date"] = self._now()
        self._notify()
        return self._enqueue({"edited_message": copy.deepcopy(msg)})

    def send_photo(self, user_id: int, caption: str | None = None,
                   media_group_id: str | None = None, image_bytes: bytes = TINY_PNG, *,
                   chat_id: int | None = None) -> int:
        """A photo (three PhotoSizes, the bytes downloadable through getFile)."""
        content: dict[str, Any] = {"photo": self.photo_sizes(image_bytes)}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._user_message(user_id, content, chat_id=chat_id)

    def send_album(self, user_id: int, count: int = 2, caption: str | None = None, *,
                   chat_id: int | None = None) -> list[int]:
        """`count` photos sharing one media_group_id; the caption rides on the first, as
        Telegram clients do."""
        group = str(next(self._media_groups))
        return [self.send_photo(user_id, caption if i == 0 else None, group, chat_id=chat_id)
                for i in range(count)]

    def send_document(self, user_id: int, data: bytes = b"%PDF-1.4\n%emulator\n",
                      file_name: str = "report.pdf", mime_type: str = "application/pdf",
                      caption: str | None = None, *, chat_id: int | None = None) -> int:
        stored = self.store_file(data, "document", mime_type=mime_type, file_name=file_name)
        content: dict[str, Any] = {"document": {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_name": file_name, "mime_type": mime_type, "file_size": stored.size}}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id=chat_id)

    def send_sticker(self, user_id: int, emoji: str = "👍", *, chat_id: int | None = None) -> int:
        stored = self.store_file(b"RIFF\x00\x00\x00\x00WEBP", "sticker", mime_type="image/webp")
        content = {"sticker": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                               "type": "regular", "width": 512, "height": 512,
                               "is_animated": False, "is_video": False, "emoji": emoji,
                               "set_name": "EmulatorStickers", "file_size": stored.size}}
        return self._user_message(user_id, content, chat_id=chat_id)

    def send_contact(self, user_id: int, phone_number: str, first_name: str | None = None, *,
                     contact_user_id: int | None = None, chat_id: int | None = None) -> int:
        """A shared contact; by default the person's own (user_id set), as the share button
        of a reply keyboard sends it."""
        user = self._user(user_id)
        contact: dict[str, Any] = {"phone_number": phone_number,
                                   "first_name": first_name or user["first_name"],
                                   "user_id": user_id if contact_user_id is None
                                   else contact_user_id}
        return self._user_message(user_id, {"contact": contact}, chat_id=chat_id)

    def send_location(self, user_id: int, latitude: float, longitude: float, *,
                      chat_id: int | None = None) -> int:
        return self._user_message(user_id, {"location": {"latitude": latitude,
                                                         "longitude": longitude}},
                                  chat_id=chat_id)

    def send_message_fields(self, user_id: int, fields: dict[str, Any], *,
                            chat_id: int | None = None) -> int:
        """A message with arbitrary content fields (voice, video, poll …) around a valid
        message_id/from/chat/date."""
        return self._user_message(user_id, copy.deepcopy(fields), chat_id=chat_id)

    def press(self, user_id: int, message_id: int, data: str | None = None, *,
              text: str | None = None, chat_id: int | None = None,
              strict: bool = True) -> int:
        """The person presses an inline button; returns the update_id.

        Pick the button by callback `data` or by its label `text`. With strict=True the button
        must be on the message as it is now (a real client cannot press anything else); pass
        strict=False to forge presses (stale or crafted data, missing messages).
        """
        user = self._user(user_id)
        cid = user_id if chat_id is None else chat_id
        msg = self._messages.get(cid, {}).get(message_id)
        if data is None and text is None:
            raise ValueError("press() needs data= or text=")
        if msg is not None and (strict or data is None):
            buttons = self.buttons(msg)
            match = [b for b in buttons
                     if (data is None or b.get("callback_data") == data)
                     and (text is None or b.get("text") == text)]
            if not match and strict:
                labels = [(b.get("text"), b.get("callback_data")) for b in buttons]
                raise ValueError(f"no such button on message {message_id}: data={data!r} "
                                 f"text={text!r}; buttons now: {labels}")
            if match and data is None:
                data = match[0].get("callback_data")
        elif msg is None and strict:
            raise KeyError(f"no message {message_id} in chat {cid} (strict=False to forge)")
        if data is None:
            raise ValueError("the chosen button has no callback_data")
        query_id = str(next(self._callback_ids))
        query: dict[str, Any] = {"id": query_id, "from": copy.deepcopy(user),
                                 "chat_instance": str((cid * 2654435761 + self.bot_id) % 10**19),
                                 "data": data}
        if msg is not None:
            query["message"] = copy.deepcopy(msg)
        else:
            # What Telegram sends for a message the bot can no longer see.
            query["message"] = {"chat": copy.deepcopy(self.chats[cid]),
                                "message_id": message_id, "date": 0}
        update_id = self._enqueue({"callback_query": query})
        self.callback_queries[query_id] = {"update_id": update_id, "query": query,
                                           "answered": False}
        return update_id

    def callback_query_id(self, update_id: int) -> str:
        return str(self._issued[update_id]["callback_query"]["id"])

    # ------------------------------------------------------------------ reading
    def get_commands(self, scope: dict[str, Any] | None = None,
                     language_code: str = "") -> list[dict[str, Any]]:
        """Commands set with setMyCommands for that scope and language."""
        return copy.deepcopy(self.commands.get((scope_key(scope), language_code), []))

    def requests_for(self, method: str) -> list[RecordedRequest]:
        low = method.lower()
        return [r for r in self.requests if r.method.lower() == low]

    def snapshot(self) -> dict[str, Any]:
        """A JSON summary (GET /_emu/state)."""
        return {
            "bot": copy.deepcopy(self.bot_user),
            "users": list(self.users.values()),
            "chats": list(self.chats.values()),
            "pending_updates": sorted(self._queue),
            "confirmed_offset": self._confirmed_offset,
            "webhook": None if self.webhook is None else {
                "url": self.webhook.url, "has_secret": self.webhook.secret_token is not None,
                "max_connections": self.webhook.max_connections,
                "last_error_message": self.webhook.last_error_message},
            "allowed_updates": self.allowed_updates,
            "requests": len(self.requests),
            "messages": len(self._order),
            "callback_answers": len(self.callback_answers),
            "commands": [{"scope": k[0], "language_code": k[1], "commands": v}
                         for k, v in self.commands.items()],
        }

    # ------------------------------------------------------------------ waiting
    async def wait_for(self, predicate: Callable[[], _T | None],
                       timeout: float = 5.0,
                       *, what: str = "condition") -> _T:
        """Wait until predicate() is truthy and return its value; TimeoutError otherwise.

        Re-evaluated on every state change (and every 0.2 s for outside conditions).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{what} not met within {timeout}s; {self._debug_summary()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.2))

    async def wait_for_message(self, chat_id: int, contains: str | None = None,
                               timeout: float = 5.0,
                               *, after: int | None = None
                               ) -> dict[str, Any]:
        """The newest bot message in the chat whose current text/caption contains `contains`
        (any text when None) and whose message_id is greater than `after` (when given)."""
        def find() -> dict[str, Any] | None:
            # Scans the live dicts newest first and copies only the match: this runs on every
            # state change, and load runs keep thousands of messages.
            for msg in reversed(list(self._messages.get(chat_id, {}).values())):
                if after is not None and msg["message_id"] <= after:
                    break
                if self._is_bot_message(msg) and (
                        contains is None or contains in self.message_text(msg)):
                    return copy.deepcopy(msg)
            return None
        return await self.wait_for(
            find, timeout, what=f"bot message in chat {chat_id} containing {contains!r}")

    async def wait_until_confirmed(self, update_id: int,
                                   timeout: float = 5.0) -> None:
        """Until the bot acknowledged the update (offset past it, or webhook answered 2xx)."""
        await self.wait_for(lambda: self.is_confirmed(update_id), timeout,
                            what=f"confirmation of update {update_id}")

    async def wait_for_request(self, method: str,
                               predicate: Callable[[RecordedRequest], bool] | None = None,
                               timeout: float = 5.0,
                               *, start: int = 0) -> RecordedRequest:
        """The first recorded call of `method` (index >= start) matching predicate."""
        def find() -> RecordedRequest | None:
            for rec in self.requests[start:]:
                if rec.method.lower() == method.lower() and (predicate is None or predicate(rec)):
                    return rec
            return None
        return await self.wait_for(find, timeout, what=f"request {method}")

    async def wait_for_callback_answer(self, update_id: int,
                                       timeout: float = 5.0,
                                       ) -> dict[str, Any]:
        """The answerCallbackQuery for the press that produced update `update_id`."""
        def find() -> dict[str, Any] | None:
            return next((a for a in self.callback_answers if a["update_id"] == update_id), None)
        return await self.wait_for(find, timeout, what=f"callback answer to update {update_id}")

    def _debug_summary(self) -> str:
        recent = [f"{m['chat']['id']}#{m['message_id']}: {self.message_text(m)[:60]!r}"
                  for m in self.sent_messages()[-5:]]
        calls = [f"{r.method}->{r.status}" for r in self.requests[-8:]]
        return (f"pending updates {sorted(self._queue)}, offset {self._confirmed_offset}, "
                f"last bot messages {recent}, last calls {calls}")


def scope_key(scope: dict[str, Any] | None) -> str:
    """Canonical text of a BotCommandScope (default scope when None)."""
    if not scope:
        scope = {"type": "default"}
    # Clients send ids as numbers or strings; both name the same scope.
    norm = {k: (int(v) if k in ("chat_id", "user_id") and str(v).lstrip("-").isdigit() else v)
            for k, v in scope.items()}
    return json.dumps(norm, sort_keys=True, separators=(",", ":"))
