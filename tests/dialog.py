"""A dialog harness: people talk to the desk, the outbox is delivered to a recording transport.

Tests read as the conversation: `await d.say(han, "…")`, `await d.press(zhou, "受理")`,
`d.last(han).text`. No network: the end-to-end tests in tests/e2e do the same over HTTP.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from domain.clock import FrozenClock
from handlers.config import DeskConfig
from handlers.desk import Desk
from handlers.inbound import Inbound, Kind, Outbound
from handlers.outbox_sender import OutboxSender
from handlers.tagging import TaggerLike
from storage.uow import UnitOfWorkFactory


@dataclass
class Shown:
    """A message as the person sees it now (edits applied)."""

    message_id: int
    chat_id: int
    text: str
    buttons: list[list[list[str]]] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)

    def button(self, word: str) -> str:
        for row in self.buttons:
            for label, data in row:
                if word in label:
                    return data
        raise AssertionError(f"no button {word!r} on: {self.text[:80]!r} {self.buttons}")

    def words(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]


class RecordingTransport:
    def __init__(self) -> None:
        self.ids = itertools.count(1000)
        self.chats: dict[int, list[Shown]] = {}
        self.by_id: dict[int, Shown] = {}
        self.commands: list[dict[str, Any]] = []
        self.fail_next: list[Exception] = []

    async def deliver(self, chat_id: int, payload: dict[str, Any],
                      message_id: int | None) -> int | None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        op = payload["op"]
        if op == "commands":
            self.commands.append(payload)
            return None
        if op == "edit":
            assert message_id is not None
            shown = self.by_id[message_id]
            shown.text = payload["text"]
            shown.buttons = payload.get("buttons") or []
            return None
        mid = next(self.ids)
        shown = Shown(mid, chat_id, payload["text"], payload.get("buttons") or [],
                      payload.get("photos") or [])
        self.chats.setdefault(chat_id, []).append(shown)
        self.by_id[mid] = shown
        return mid


class Dialog:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: FrozenClock, config: DeskConfig,
                 tagger: TaggerLike) -> None:
        self.clock = clock
        self.desk = Desk(uow_factory, clock, config, tagger)
        self.transport = RecordingTransport()
        self.sender = OutboxSender(uow_factory, self.transport, clock, per_chat_interval=0,
                                   global_per_second=0)
        self.update_ids = itertools.count(1)
        self.answers: list[Outbound] = []
        # Message ids of what people send (their own side of the chat), and each one's last.
        self.sent_ids = itertools.count(1)
        self.said: dict[int, int] = {}

    async def _feed(self, inb: Inbound) -> Outbound:
        out = await self.desk.handle(inb)
        self.answers.append(out)
        while await self.sender.deliver_once():
            pass
        return out

    def _inbound(self, user: int, kind: Kind, **kw: Any) -> Inbound:
        return Inbound(update_id=next(self.update_ids), user_id=user, chat_id=user,
                       first_name=kw.pop("first_name", f"user{user}"), kind=kind, **kw)

    async def say(self, user: int, text: str, **kw: Any) -> Outbound:
        kw.setdefault("message_id", next(self.sent_ids))
        self.said[user] = kw["message_id"]
        if text.startswith("/"):
            head, _, rest = text[1:].partition(" ")
            return await self._feed(self._inbound(user, Kind.COMMAND, text=text, command=head,
                                                  args=rest.strip(), **kw))
        return await self._feed(self._inbound(user, Kind.TEXT, text=text, **kw))

    async def photo(self, user: int, caption: str = "", file_id: str = "photo-1",
                    media_group_id: str | None = None) -> Outbound:
        return await self._feed(self._inbound(user, Kind.PHOTO, text=caption,
                                              photo_file_ids=(file_id,),
                                              media_group_id=media_group_id))

    async def edit(self, user: int, message_id: int, text: str) -> Outbound:
        """The person edits a message they sent (`self.said[user]` is their last)."""
        return await self._feed(self._inbound(user, Kind.EDITED, text=text,
                                              message_id=message_id))

    async def sticker(self, user: int) -> Outbound:
        return await self._feed(self._inbound(user, Kind.UNSUPPORTED, content_type="sticker"))

    async def press(self, user: int, word: str, on: Shown | None = None) -> Outbound:
        """Press the button labelled `word` on `on` (default: the newest message that has it)."""
        target = on or self.with_button(user, word)
        data = target.button(word)
        return await self.press_data(user, data, target.message_id)

    async def press_data(self, user: int, data: str, message_id: int) -> Outbound:
        return await self._feed(self._inbound(user, Kind.CALLBACK, callback_id="cb",
                                              callback_data=data, message_id=message_id))

    def messages(self, user: int) -> list[Shown]:
        return self.transport.chats.get(user, [])

    def last(self, user: int) -> Shown:
        msgs = self.messages(user)
        assert msgs, f"user {user} got nothing"
        return msgs[-1]

    def with_button(self, user: int, word: str) -> Shown:
        for shown in reversed(self.messages(user)):
            if any(word in label for row in shown.buttons for label, _ in row):
                return shown
        raise AssertionError(f"user {user} has no message with a {word!r} button")
