"""The control interface over HTTP (/_emu/...), for test clients outside the process.

Every endpoint answers {"ok": true, "result": ...} or {"ok": false, "error": "..."} (400).
POST bodies are JSON objects whose keys are the Python method's parameters.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.emulator.body import jsonable

if TYPE_CHECKING:
    from bot.emulator.server import BotApiEmulator

_Handler = Callable[[dict[str, Any]], Any]


def _b64(body: dict[str, Any], key: str) -> bytes | None:
    value = body.get(key)
    return base64.b64decode(value) if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def add_control_routes(app: web.Application, emu: BotApiEmulator) -> None:
    def users(b: dict[str, Any]) -> Any:
        return emu.add_user(int(b["user_id"]), str(b["first_name"]), b.get("username"),
                            b.get("last_name"), b.get("language_code", "zh-hans"))

    def send_text(b: dict[str, Any]) -> Any:
        return {"update_id": emu.send_text(int(b["user_id"]), str(b["text"]),
                                           chat_id=_int_or_none(b.get("chat_id")),
                                           reply_to_message_id=_int_or_none(
                                               b.get("reply_to_message_id")))}

    def edit_text(b: dict[str, Any]) -> Any:
        return {"update_id": emu.edit_text(int(b["user_id"]), int(b["message_id"]),
                                           str(b["text"]),
                                           chat_id=_int_or_none(b.get("chat_id")))}

    def press(b: dict[str, Any]) -> Any:
        return {"update_id": emu.press(int(b["user_id"]), int(b["message_id"]), b.get("data"),
                                       text=b.get("text"),
                                       chat_id=_int_or_none(b.get("chat_id")),
                                       strict=bool(b.get("strict", True)))}

    def send_photo(b: dict[str, Any]) -> Any:
        image = _b64(b, "image_base64")
        kwargs: dict[str, Any] = {} if image is None else {"image_bytes": image}
        return {"update_id": emu.send_photo(int(b["user_id"]), b.get("caption"),
                                            b.get("media_group_id"),
                                            chat_id=_int_or_none(b.get("chat_id")), **kwargs)}

    def send_album(b: dict[str, Any]) -> Any:
        return {"update_ids": emu.send_album(int(b["user_id"]), int(b.get("count", 2)),
                                             b.get("caption"),
                                             chat_id=_int_or_none(b.get("chat_id")))}

    def send_sticker(b: dict[str, Any]) -> Any:
        return {"update_id": emu.send_sticker(int(b["user_id"]), b.get("emoji", "👍"),
                                              chat_id=_int_or_none(b.get("chat_id")))}

    def send_document(b: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        data = _b64(b, "data_base64")
        if data is not None:
            kwargs["data"] = data
        for key in ("file_name", "mime_type", "caption"):
            if key in b:
                kwargs[key] = b[key]
        return {"update_id": emu.send_document(int(b["user_id"]),
                                               chat_id=_int_or_none(b.get("chat_id")), **kwargs)}

    def send_contact(b: dict[str, Any]) -> Any:
        return {"update_id": emu.send_contact(int(b["user_id"]), str(b["phone_number"]),
                                              b.get("first_name"),
                                              chat_id=_int_or_none(b.get("chat_id")))}

    def send_message_fields(b: dict[str, Any]) -> Any:
        return {"update_id": emu.send_message_fields(int(b["user_id"]), dict(b["fields"]),
                                                     chat_id=_int_or_none(b.get("chat_id")))}

    def inject_update(b: dict[str, Any]) -> Any:
        raw = b["update"] if isinstance(b.get("update"), dict) else b
        return {"update_id": emu.inject_update(raw)}

    def redeliver(b: dict[str, Any]) -> Any:
        emu.redeliver(int(b["update_id"]))
        return True

    def fail_next(b: dict[str, Any]) -> Any:
        emu.fail_next(str(b["method"]), int(b.get("status", 429)),
                      _int_or_none(b.get("retry_after")), int(b.get("count", 1)),
                      b.get("description"), applied=bool(b.get("applied", False)),
                      delay=float(b.get("delay", 0.0)))
        return True

    def block(b: dict[str, Any]) -> Any:
        emu.block_user(int(b["user_id"]), bool(b.get("blocked", True)))
        return True

    posts: dict[str, _Handler] = {
        "users": users, "send_text": send_text, "edit_text": edit_text,
        "press": press, "send_photo": send_photo,
        "send_album": send_album, "send_sticker": send_sticker, "send_document": send_document,
        "send_contact": send_contact, "send_message_fields": send_message_fields,
        "inject_update": inject_update, "redeliver": redeliver, "fail_next": fail_next,
        "block": block,
    }

    def requests(q: dict[str, Any]) -> Any:
        since = int(q.get("since", 0))
        method = q.get("method")
        return [r.to_json() for r in emu.requests[since:]
                if method is None or r.method.lower() == str(method).lower()]

    def messages(q: dict[str, Any]) -> Any:
        chat_id = _int_or_none(q.get("chat_id"))
        if q.get("all") in ("1", "true") and chat_id is not None:
            return emu.history(chat_id)
        return emu.sent_messages(chat_id)

    gets: dict[str, _Handler] = {
        "requests": requests,
        "messages": messages,
        "state": lambda q: emu.snapshot(),
        "callback_answers": lambda q: emu.callback_answers,
        "updates": lambda q: emu.pending_updates(),
        "webhook_deliveries": lambda q: emu.webhook_deliveries,
        "commands": lambda q: [{"scope": k[0], "language_code": k[1], "commands": v}
                               for k, v in emu.commands.items()],
    }

    def wrap(fn: _Handler, from_query: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            try:
                if from_query:
                    body: dict[str, Any] = dict(request.query)
                else:
                    raw = await request.read()
                    decoded = await request.json() if raw.strip() else {}
                    if not isinstance(decoded, dict):
                        raise ValueError("JSON object expected")
                    body = decoded
                result = fn(body)
            except (KeyError, ValueError, TypeError) as exc:
                return web.json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"},
                                         status=400)
            return web.json_response({"ok": True, "result": jsonable(result)})
        return handler

    async def wait_message(request: web.Request) -> web.Response:
        q = request.query
        try:
            msg = await emu.wait_for_message(int(q["chat_id"]), q.get("contains"),
                                             float(q.get("timeout", 5.0)),
                                             after=_int_or_none(q.get("after")))
        except TimeoutError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=408)
        except (KeyError, ValueError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "result": msg})

    for name, fn in posts.items():
        app.router.add_post(f"/_emu/{name}", wrap(fn, from_query=False))
    for name, fn in gets.items():
        app.router.add_get(f"/_emu/{name}", wrap(fn, from_query=True))
    app.router.add_get("/_emu/wait_message", wait_message)
