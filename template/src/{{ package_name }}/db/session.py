"""The request's session, in two kinds.

``DbSession``, for endpoints that write: one transaction per request, committed as soon as the
endpoint returns and before the response is sent, rolled back on any error. Since FastAPI 0.118
the code after ``yield`` in a request-scoped dependency runs after the response has been sent,
so a commit there could fail after the client got a 2xx. With ``scope="function"`` the exit code
runs when the endpoint returns, and a failing commit still becomes the response (409/503/500
through the exception handlers). FastAPI shields that exit code from cancellation, so a client
that hangs up never leaves a connection checked out. A COMMIT that is never answered (the
connection lost, or ``DB_COMMAND_TIMEOUT``) is a 504 saying the outcome is unknown, never a
503 "retry later": the write may have been saved.

``ReadSession``, for endpoints that only read: no transaction at all. Each statement runs on
its own (autocommit) and sees the data committed when it starts, which is what every statement
of a READ COMMITTED transaction sees too; what is saved is the BEGIN and the COMMIT, two round
trips of three. It is read-only by the database (``db/state.py``): a write of any kind fails
and changes nothing. A flush or an ORM insert/update/delete raises ``ReadOnlyError`` before
anything is sent, and so do ORM changes left unsaved when the endpoint returns (they would be
dropped silently): a 500 either way, take ``DbSession``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session


class ReadOnlyError(RuntimeError):
    """A write through a ``ReadSession``."""


class CommitOutcomeUnknownError(RuntimeError):
    """The COMMIT was sent but never answered (connection lost, ``DB_COMMAND_TIMEOUT``): the
    transaction may or may not have been committed. Not "retry later": a blind retry may
    write twice; retry with the same ``Idempotency-Key``, or read first."""


# SQLSTATE classes that mean the connection, not the transaction, failed: a COMMIT that
# ends with one of them may have been applied before the connection went.
_CONNECTION_FAILED = ("08", "57P")


async def commit(session: AsyncSession) -> None:
    """COMMIT; raise ``CommitOutcomeUnknownError`` when the server never said how it went.

    A COMMIT the server refuses (a deferred constraint, a serialization failure) was rolled
    back: that error is raised as it is.
    """
    try:
        await session.commit()
    except DBAPIError as exc:
        code = str(getattr(exc.orig, "sqlstate", None) or "")
        if code and not code.startswith(_CONNECTION_FAILED) and not exc.connection_invalidated:
            raise
        raise CommitOutcomeUnknownError(type(exc.orig).__name__) from exc
    except (TimeoutError, OSError) as exc:
        raise CommitOutcomeUnknownError(type(exc).__name__) from exc


class ReadOnlySession(Session):
    """The session behind ``ReadSession``: flushes and ORM insert/update/delete are refused."""


READ_ONLY = "ReadSession is read-only: take DbSession in endpoints that write"


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, *_: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyError(READ_ONLY)


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyError(READ_ONLY)


def read_sessionmaker(
    bind: AsyncEngine | AsyncConnection, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """Read-only sessions on ``bind`` (the app passes its engine in autocommit)."""
    return async_sessionmaker(
        bind, expire_on_commit=False, sync_session_class=ReadOnlySession, **options
    )


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The app's session factory (tests override this dependency)."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.database.sessionmaker
    return factory


async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The app's read-only session factory (tests override this dependency)."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.database.read_sessionmaker
    return factory


async def get_session(
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the endpoint succeeds."""
    session = factory()
    try:
        yield session
        if session.in_transaction():
            await commit(session)
    finally:
        await session.close()  # rolls back whatever was not committed


async def get_read_session(
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """A read-only session without a transaction, closed when the endpoint returns."""
    session = factory()
    try:
        yield session
        if session.new or session.dirty or session.deleted:
            raise ReadOnlyError(f"{READ_ONLY} (changes left unsaved in a ReadSession)")
    finally:
        await session.close()


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""Annotate an endpoint parameter with this to get the request's session (to write)."""

ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
"""Annotate an endpoint parameter with this to get a session that only reads."""
