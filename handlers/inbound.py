"""What a transport hands to the desk, and what the desk hands back (DESIGN §2, §12.2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CALLBACK = "callback"
    PHOTO = "photo"
    # The person edited a text or caption they had sent (`message_id` names it).
    EDITED = "edited"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Inbound:
    update_id: int
    user_id: int
    chat_id: int
    first_name: str
    kind: Kind
    text: str = ""
    command: str | None = None
    args: str = ""
    callback_id: str | None = None
    callback_data: str | None = None
    # Callbacks: the bot's message the button sits on. Messages and edits: the person's own.
    message_id: int | None = None
    photo_file_ids: tuple[str, ...] = ()
    media_group_id: str | None = None
    # What it was, for the polite refusal of unsupported content ("sticker", "voice" …).
    content_type: str = "text"


@dataclass(frozen=True)
class Outbound:
    """The immediate answer. Messages themselves go through the outbox (DESIGN §10)."""

    callback_answer: str | None = None
    alert: bool = False
    # True when the desk wrote outbox rows the sender should deliver now.
    wake_sender: bool = True
