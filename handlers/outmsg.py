"""Neutral message descriptions stored in the outbox; each transport renders them."""

from __future__ import annotations

from typing import Any

Buttons = list[list[tuple[str, str]]]


def send(text: str, buttons: Buttons | None = None, *, photos: list[str] | None = None,
         document: dict[str, str] | None = None,
         photo_path: str | None = None) -> dict[str, Any]:
    """`photos` are Telegram file ids; `photo_path` is a local image uploaded with `text` as
    its caption (≤ 1024 characters); `document` is a local file {"path", "filename"}."""
    payload: dict[str, Any] = {"op": "send", "text": text}
    if photo_path:
        payload["photo_path"] = photo_path
    if buttons:
        payload["buttons"] = [[list(b) for b in row] for row in buttons]
    if photos:
        payload["photos"] = list(photos)
    if document:
        payload["document"] = document
    return payload


def edit(text: str, buttons: Buttons | None = None, *, message_id: int | None = None,
         edit_of: int | None = None) -> dict[str, Any]:
    """Edit a message we know (`message_id`) or the one an outbox row sent (`edit_of`)."""
    payload: dict[str, Any] = {"op": "edit", "text": text, "buttons": [
        [list(b) for b in row] for row in (buttons or [])
    ]}
    if message_id is not None:
        payload["message_id"] = message_id
    if edit_of is not None:
        payload["edit_of"] = edit_of
    return payload


def commands(items: list[tuple[str, str]], *, scope_chat: int | None = None) -> dict[str, Any]:
    return {"op": "commands", "commands": [list(i) for i in items], "scope_chat": scope_chat}
