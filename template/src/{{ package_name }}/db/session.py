"""The request-scoped session: commit on success, roll back on error, before the response.

Since FastAPI 0.118 the code after ``yield`` in a request-scoped dependency runs after the
response has been sent, so a commit there could fail after the client got a 2xx. With
``scope="function"`` the exit code runs as soon as the endpoint returns, and a failing
commit still becomes the response (409/503/500 through the exception handlers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The app's session factory (tests override this dependency)."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.database.sessionmaker
    return factory


async def get_session(
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the endpoint succeeds."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""Annotate an endpoint parameter with this to get the request's session."""
