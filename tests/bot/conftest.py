"""Fixtures for the command-line tests of bot/."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from bot.emulator import BotApiEmulator

EMULATED_TOKEN = "123456:REVIEW"
EMULATED_BOT = "county_desk_real_bot"


@pytest.fixture
def emulator_in_thread() -> Iterator[BotApiEmulator]:
    """The Bot API emulator on its own loop in a thread, so that a CLI command (which runs
    asyncio.run itself) can talk to it from the test's thread."""
    loop = asyncio.new_event_loop()
    emu = BotApiEmulator(token=EMULATED_TOKEN, username=EMULATED_BOT)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield emu
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
