"""The unit of work owns the transaction: it alone commits or rolls back (DESIGN §12.4)."""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    AccountRepo,
    DraftRepo,
    InviteRepo,
    OrgRepo,
    OutboxRepo,
    ProgressRepo,
    TicketRepo,
    UpdateRepo,
)


class UnitOfWork:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        s = self._session
        self.accounts = AccountRepo(s)
        self.org = OrgRepo(s, self.accounts)
        self.tickets = TicketRepo(s)
        self.outbox = OutboxRepo(s)
        self.updates = UpdateRepo(s)
        self.drafts = DraftRepo(s)
        self.invites = InviteRepo(s)
        self.progress = ProgressRepo(s)
        return self

    async def commit(self) -> None:
        await self.outbox.flush()
        await self.session.commit()
        self.committed = True

    async def rollback(self) -> None:
        await self.session.rollback()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Anything not committed explicitly is thrown away: nothing half-done survives.
            await self.session.rollback()
        finally:
            await self.session.close()
            self._session = None


class UnitOfWorkFactory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    async def reachable(self, timeout: float = 5.0) -> bool:
        """Does the database answer a trivial query now (on a fresh connection if the pool's
        were lost)?"""
        async def ping() -> None:
            async with self.sessionmaker() as session:
                await session.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(ping(), timeout)
        except Exception:
            return False
        return True
