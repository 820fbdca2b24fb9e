"""Which errors may mean the database is away (waited out) and which are mistakes (not)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from storage.availability import may_be_outage


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.InterfaceError("connection is closed"),
    sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
])
def test_connection_trouble_may_be_an_outage(error: BaseException) -> None:
    assert may_be_outage(error)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.InvalidCatalogNameError('database "zhitong" does not exist'),
    asyncpg.exceptions.InvalidPasswordError("password authentication failed"),
    sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
    sa_exc.ProgrammingError("SELECT", {}, Exception('relation "tickets" does not exist')),
    ValueError("a bug"),
    KeyError("x"),
])
def test_mistakes_are_not_an_outage(error: BaseException) -> None:
    assert not may_be_outage(error)
