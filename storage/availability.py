"""Telling a database that cannot be reached from a fault in our own code.

A restart, fail-over or network cut shows up as the driver's connection errors (wrapped by
SQLAlchemy), or, while connecting, as the socket's or asyncpg's own errors unwrapped. Those
only *may* be an outage: `UnitOfWorkFactory.reachable()` asks the database itself.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# PostgreSQL error classes that mean "no usable connection now": 08 connection exception,
# 57P operator intervention (shutting down, starting up), 53300 too many connections.
_PG_OUTAGE_STATES = ("08", "57P", "53300")


def may_be_outage(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    if isinstance(exc, OSError | TimeoutError | sa_exc.TimeoutError):
        # sqlalchemy's TimeoutError: no pooled connection came free in time — every one
        # stuck connecting to a database that does not answer.
        return True
    if type(exc).__module__.split(".", 1)[0] == "asyncpg":
        # Not wrapped by SQLAlchemy while connecting. A wrong password or database name has
        # its own state and is not waited out.
        state = getattr(exc, "sqlstate", None)
        return state is None or str(state).startswith(_PG_OUTAGE_STATES)
    return False
