"""Exception handlers: database trouble becomes JSON with the right status, never internals.

- the database cannot be reached, or the pool is exhausted: 503
- a constraint is violated (also at COMMIT): 409
- anything else: 500 with a generic body (the traceback goes to the log, not the client)
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

logger = logging.getLogger(__name__)

# Errors that mean "the database is not available right now", not "your request is wrong".
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: the caller may retry later."""
    logger.warning(
        "%s %s: database unavailable (%s)", request.method, request.url.path, type(exc).__name__
    )
    return JSONResponse(
        status_code=503,
        content={"detail": "database unavailable, retry later"},
        headers={"Retry-After": "1"},
    )


async def integrity_error(request: Request, _exc: Exception) -> JSONResponse:
    """409: the request conflicts with data already stored; nothing was saved."""
    logger.info("%s %s: integrity error", request.method, request.url.path)
    return JSONResponse(status_code=409, content={"detail": "conflict with existing data"})


# SQLSTATEs that mean the database cannot serve us now: connection exceptions (08),
# rejected login (28, e.g. pg_hba or password), too many connections, shutting down.
UNAVAILABLE_SQLSTATES = ("08", "28", "53300", "57P01", "57P02", "57P03")


def is_unavailable(exc: DBAPIError) -> bool:
    """True for a lost connection or a SQLSTATE in ``UNAVAILABLE_SQLSTATES``."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return exc.connection_invalidated or str(sqlstate or "").startswith(UNAVAILABLE_SQLSTATES)


async def dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Connection trouble is a 503; any other driver error a 500 without internals."""
    if isinstance(exc, DBAPIError) and is_unavailable(exc):
        return await database_unavailable(request, exc)
    return await unexpected_error(request, exc)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 with a generic body; the details stay in the server log."""
    logger.error(
        "%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return JSONResponse(status_code=500, content={"detail": "internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above, most specific first."""
    app.add_exception_handler(IntegrityError, integrity_error)
    for error in UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(DBAPIError, dbapi_error)
    app.add_exception_handler(Exception, unexpected_error)
