"""``DB_COMMAND_TIMEOUT``: how long a request waits for the database, in all.

A request's session starts a clock (``start``, from its factory's ``info[DEADLINE]``:
the app's factories carry ``DB_COMMAND_TIMEOUT``); every wait for the database after that
shares what is left of it: the wait for a pooled connection (also bounded by
``DB_POOL_TIMEOUT``), opening one (``DB_CONNECT_TIMEOUT``), each statement and the COMMIT.
When it runs out before something is sent, ``DatabaseDeadlineError`` is raised and nothing
is sent (a 503: nothing was saved); when it runs out while the server has not answered,
asyncpg cancels the statement and the connection is dropped (a 503, or a 504 during the
COMMIT: the change may have been saved). Outside a request (the CLI, health checks,
scripts) each statement gets the whole ``DB_COMMAND_TIMEOUT``, as asyncpg's
``command_timeout`` does.

asyncpg has no per-call timeout that SQLAlchemy passes on, so the time left is set on the
connection (its ``_config.command_timeout``, which asyncpg reads for every statement) when it
is checked out and just before each statement, COMMIT and ROLLBACK. A ROLLBACK always gets at least
``ROLLBACK_GRACE``: it frees the server's locks, and on a healthy server it takes well under
a millisecond.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ROLLBACK_GRACE = 0.25  # seconds a ROLLBACK may take after the deadline
DEADLINE = "db_command_timeout"  # key in a session factory's info: the deadline's seconds

_ends: ContextVar[float | None] = ContextVar("database_deadline", default=None)


class DatabaseDeadlineError(TimeoutError):
    """The request's ``DB_COMMAND_TIMEOUT`` ran out before this was sent: nothing was."""


def start(seconds: float | None) -> Token[float | None] | None:
    """Start a deadline ``seconds`` from now (None: none); hand what it returns to ``end``.
    An enclosing deadline that ends sooner still applies."""
    if seconds is None:
        return None
    ends = time.monotonic() + seconds
    current = _ends.get()
    return _ends.set(ends if current is None or ends < current else current)


def end(started: Token[float | None] | None) -> None:
    """End the deadline ``start`` returned."""
    if started is not None:
        _ends.reset(started)


def remaining(limit: float) -> float:
    """Seconds the next wait may take: ``limit``, or less when a deadline is near (may be
    zero or negative once it has passed)."""
    ends = _ends.get()
    return limit if ends is None else min(limit, ends - time.monotonic())


def time_left(limit: float) -> float:
    """``remaining(limit)``; ``DatabaseDeadlineError`` when nothing is left."""
    seconds = remaining(limit)
    if seconds <= 0:
        raise DatabaseDeadlineError(f"DB_COMMAND_TIMEOUT ({limit:g} s) ran out")
    return seconds


def install(engine: AsyncEngine, command_timeout: float, connect_timeout: float) -> None:
    """Bound every wait on ``engine``'s connections by the request's deadline."""
    sync_engine = engine.sync_engine
    strict = partial(_limit, command_timeout, None)
    graceful = partial(_limit, command_timeout, ROLLBACK_GRACE)
    event.listen(sync_engine, "checkout", lambda dbapi, *_: strict(dbapi))
    event.listen(sync_engine, "before_cursor_execute", lambda conn, *_: strict(_dbapi(conn)))
    event.listen(sync_engine, "commit", lambda conn: strict(_dbapi(conn)))
    event.listen(sync_engine, "rollback", lambda conn: graceful(_dbapi(conn)))
    event.listen(sync_engine, "reset", lambda dbapi, *_: graceful(dbapi))
    event.listen(sync_engine, "do_connect", partial(_limit_connect, connect_timeout))
    event.listen(sync_engine, "invalidate", _drop)


def _dbapi(connection: Connection) -> Any:
    if connection.invalidated or connection.closed:
        return None
    return connection.connection


def _limit(command_timeout: float, grace: float | None, dbapi_connection: Any) -> None:
    """Give the connection's next statement what is left of the deadline (at least
    ``grace``, when given)."""
    if grace is None:
        seconds = time_left(command_timeout)
    else:
        seconds = max(remaining(command_timeout), min(grace, command_timeout))
    if dbapi_connection is None:
        return
    driver = dbapi_connection.driver_connection
    config = driver._config  # asyncpg reads it for every statement
    if config.command_timeout != seconds:
        driver._config = config._replace(command_timeout=seconds)


def _limit_connect(
    connect_timeout: float, _dialect: Any, _record: Any, _args: Any, options: dict[str, Any]
) -> None:
    options["timeout"] = time_left(connect_timeout)


def _drop(dbapi_connection: Any, *_: Any) -> None:
    """Close an invalidated connection at once. SQLAlchemy's graceful close first waits for
    the server to answer the statement asyncpg cancelled: on a frozen server, another
    ``DB_COMMAND_TIMEOUT``."""
    if dbapi_connection is not None:
        dbapi_connection.driver_connection.terminate()
