"""PTB's polling loop on its own, against a bot object that answers as a proxy would."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.error import Conflict

from bot.ptb_adapter import poll

WEBHOOK_409 = ("Conflict: can't use getUpdates method while webhook is active; use "
               "deleteWebhook to delete the webhook first")


class ProxyBot:
    """getUpdates refused because a webhook is set; deleteWebhook answered by a proxy with
    200 and its own error ({"ok": false, ...}): PTB's request raises KeyError('result')."""

    def __init__(self) -> None:
        self.deletes = 0

    async def get_raw_updates(self, *a: Any) -> list[dict[str, Any]]:
        raise Conflict(WEBHOOK_409)

    async def delete_webhook(self) -> bool:
        self.deletes += 1
        raise KeyError("result")


async def test_ptb_polling_outlives_a_delete_webhook_answer_without_result() -> None:
    # A proxy answers deleteWebhook with 200 and its own error: polling goes on (before, the
    # task ended and the process stayed up, deaf).
    bot = ProxyBot()
    stop = asyncio.Event()
    task = asyncio.create_task(poll(bot, None, lambda: None, stop, None))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    try:
        ended = task.done() and task.exception()
        assert not task.done(), f"polling ended for good (process stays up, deaf): {ended!r}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 3) if not task.done() else None
