"""A unit-of-work factory whose database can be switched off, for outage tests."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from storage.uow import UnitOfWork, UnitOfWorkFactory


class _Refused:
    def __init__(self, hang: float = 0.0) -> None:
        self.hang = hang

    async def __aenter__(self) -> UnitOfWork:
        if self.hang:  # a dead connection: the call hangs before it fails
            await asyncio.sleep(self.hang)
            raise ConnectionResetError(104, "Connection reset by peer")
        raise ConnectionRefusedError(111, "Connect call failed")

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        return None


class Switchable:
    """A UnitOfWorkFactory whose database can be switched off, or made to fail `fail` times."""

    def __init__(self, real: UnitOfWorkFactory) -> None:
        self.real = real
        self.down = False
        self.fail: list[BaseException] = []
        self.attempts = 0
        # Seconds the next call made while down hangs before it fails (then back to refusing
        # at once).
        self.hang_once = 0.0

    def __call__(self) -> Any:
        self.attempts += 1
        if self.fail:
            raise self.fail.pop(0)
        if not self.down:
            return self.real()
        hang, self.hang_once = self.hang_once, 0.0
        return _Refused(hang)

    async def reachable(self, timeout: float = 5.0) -> bool:
        return not self.down and await self.real.reachable(timeout)
