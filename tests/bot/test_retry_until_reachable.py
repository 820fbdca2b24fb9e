"""bot.app.retry_until_reachable: the start-up calls (getMe, deleteWebhook) that wait for the
Bot API, and Telegram's flood control (429 with retry_after) on both runtimes."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import cast

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import GetMe
from telegram.error import NetworkError, RetryAfter

from bot.app import retry_until_reachable

FLOOD = 0.3  # seconds Telegram asks for (fractions keep the test short)


def aiogram_flood(seconds: float = FLOOD) -> BaseException:
    # aiogram types retry_after as int; a fraction passes through unchanged.
    return TelegramRetryAfter(GetMe(), "Too Many Requests", retry_after=cast(int, seconds))


def ptb_flood(seconds: float = FLOOD) -> BaseException:
    return RetryAfter(dt.timedelta(seconds=seconds))


TRANSIENT = (TelegramNetworkError, TelegramRetryAfter, NetworkError, RetryAfter)


@pytest.mark.parametrize("flood, timedelta_on", [
    pytest.param(aiogram_flood, False, id="aiogram"),
    pytest.param(ptb_flood, False, id="ptb-seconds"),
    pytest.param(ptb_flood, True, id="ptb-timedelta"),
])
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_flood_wait_is_waited_out_before_the_next_try(
        flood: Callable[[float], BaseException], timedelta_on: bool,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # The back-off alone would try again after every_seconds; Telegram said FLOOD seconds,
    # and asking sooner only earns another 429. (PTB_TIMEDELTA: PTB's retry_after becomes a
    # timedelta.)
    if timedelta_on:
        monkeypatch.setenv("PTB_TIMEDELTA", "1")
    calls: list[float] = []

    async def call() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise flood(FLOOD)
        return "me"

    caplog.set_level(logging.WARNING, logger="bot.app")
    assert await retry_until_reachable(call, asyncio.Event(), TRANSIENT,
                                       every_seconds=0.01) == "me"
    assert len(calls) == 2
    assert calls[1] - calls[0] >= FLOOD
    assert any("0.3" in r.getMessage() for r in caplog.records)


async def test_the_back_off_goes_on_after_other_faults() -> None:
    calls: list[float] = []

    async def call() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TelegramNetworkError(GetMe(), "connection refused")
        return "me"

    assert await retry_until_reachable(call, asyncio.Event(), TRANSIENT,
                                       every_seconds=0.02) == "me"
    assert calls[2] - calls[0] < FLOOD


@pytest.mark.parametrize("flood", [aiogram_flood, ptb_flood])
async def test_stop_ends_a_flood_wait_at_once(flood: Callable[[float], BaseException]) -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise flood(30)

    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await retry_until_reachable(call, stop, TRANSIENT, every_seconds=0.01) is None
    assert time.monotonic() - started < 1.0
    assert calls == 1
