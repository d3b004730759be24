"""What a pooled connection carries from one request to the next: nothing but its role.

Two promises, kept by PostgreSQL rather than by SQLAlchemy alone:

- **A ``ReadSession`` is read-only by the server.** Its connection runs with
  ``default_transaction_read_only = on``, so every write (ORM, Core, ``text()``, a
  data-modifying CTE, DDL) fails with SQLSTATE 25006 and changes nothing. The setting is
  switched only when a connection changes role (a reader after a writer, or back), so reads
  in a row cost no round trip. Through a transaction pooler a session setting would reach
  other clients' server connections, so there a ``ReadSession`` is a ``BEGIN READ ONLY``
  transaction instead, rolled back at its end (``read_only_bind``).
- **Session state never reaches the next request.** A connection that ran anything but a
  SELECT/INSERT/UPDATE/DELETE (a ``SET``, ``set_config()``, an advisory lock, a temporary
  table, ``LISTEN``, a cursor) is reset when it goes back to the pool: asyncpg's reset
  query (advisory locks, cursors, ``LISTEN``, ``RESET ALL``) and ``DISCARD TEMP``, one
  round trip. ``SET LOCAL`` inside a ``DbSession`` needs none. Through a transaction pooler
  the pooler owns the server sessions: use ``SET LOCAL`` there.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.util import await_only

READ_ONLY = "read_only_session"  # execution option of ReadSession's bind; key in conn.info
DIRTY = "session_state_changed"  # key in conn.info: reset before the next checkout

# Statements whose only effect is on data, not on the session (built or written as text)...
_PLAIN = re.compile(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE|MERGE|VALUES|TABLE)\b", re.I)
# ...unless they call a function that changes the session or make a temporary table.
_STATEFUL = re.compile(r"set_config|advisory_lock|dblink|\bINTO\s+TEMP", re.I)


def read_only_bind(engine: AsyncEngine, *, transaction_pooler: bool) -> AsyncEngine:
    """The engine ``ReadSession`` runs on: the same pool, read-only by the server.

    Directly: autocommit (one round trip a statement) on connections switched to
    ``default_transaction_read_only``. Through a transaction pooler: ``BEGIN READ ONLY``.
    """
    if transaction_pooler:
        return engine.execution_options(postgresql_readonly=True)
    return engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})


def install(engine: AsyncEngine, *, transaction_pooler: bool) -> None:
    """Keep both promises on ``engine``'s connections (see the module's docstring)."""
    if transaction_pooler:
        return
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "engine_connect", _take_role)
    event.listen(sync_engine, "before_cursor_execute", _note_session_state)
    event.listen(sync_engine, "reset", _reset_session_state)


def _take_role(connection: Connection) -> None:
    """Switch the connection to read-only for a ReadSession, back for anything else."""
    read_only = bool(connection.get_execution_options().get(READ_ONLY, False))
    info = connection.info
    if info.get(READ_ONLY, False) != read_only:
        setting = "on" if read_only else "off"
        statement = f"SET default_transaction_read_only = {setting}"
        driver: Any = connection.connection.driver_connection
        try:
            await_only(driver.execute(statement))
        except Exception as exc:
            connection.invalidate(exc)
            raise OperationalError(statement, None, exc) from exc  # a 503, as any lost link
        info[READ_ONLY] = read_only


def _note_session_state(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if not _PLAIN.match(statement) or _STATEFUL.search(statement):
        connection.info[DIRTY] = True


def _reset_session_state(
    dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    if not record.info.pop(DIRTY, False) or state.terminate_only or not state.asyncio_safe:
        return
    if not state.transaction_was_reset:
        dbapi_connection.rollback()  # RESET ALL cannot run in a failed transaction
    driver = dbapi_connection.driver_connection
    await_only(driver.execute(f"{driver.get_reset_query()}\nDISCARD TEMP;"))
    record.info[READ_ONLY] = False  # RESET ALL restored the server's default
