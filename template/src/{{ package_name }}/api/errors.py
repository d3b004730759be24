"""Exception handlers: database trouble becomes JSON with the right status, never internals.

- the database cannot be reached, or the pool is exhausted: 503
- the transaction lost a serialization race or a deadlock (SQLSTATE 40001, 40P01): 503
  with ``Retry-After``; nothing was saved and the same request may well succeed
- a constraint is violated (also at COMMIT): 409
- the database refuses a value (SQLSTATE class 22: out of range, bad encoding, ...): 422,
  in the same body as any other invalid input; the schemas should have refused it first
- a method the path does not have: 405 with ``Allow`` listing every method it has
- anything else: 500 with a generic body (the traceback goes to the log, not the client)

Every error body has the request's ID (``request_id``, as in the ``X-Request-ID`` header and
on the log lines), so that a user's report leads to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sized
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

REQUEST_ID = "X-Request-ID"  # the header of the request's ID (see middleware.py)

# Errors that mean "the database is not available right now", not "your request is wrong".
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def problem(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error response: ``detail`` and the request's ID."""
    body = {"detail": detail, "request_id": correlation_id.get()}
    return JSONResponse(status_code=status, content=jsonable_encoder(body), headers=headers)


async def http_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's HTTP errors (404, 405, ...) with the request ID in the body."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code in {204, 304}:  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem(exc.status_code, exc.detail, exc.headers)


ECHO_LIMIT = 120  # characters of the input a 422 quotes, at most


def echo(value: Any) -> Any:
    """What a 422 quotes of an input: a small JSON value as it is, anything else as text of
    at most ``ECHO_LIMIT`` characters (undecodable bytes replaced): a body is never sent
    back whole, and the answer always encodes."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        text = value
    elif isinstance(value, Sized) and len(value) > ECHO_LIMIT:
        return f"({type(value).__name__} of {len(value)} items)"
    else:
        try:
            text = json.dumps(jsonable_encoder(value))
        except (TypeError, ValueError):
            text = repr(value)
        else:
            if len(text) <= ECHO_LIMIT:
                return value
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}..."


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 for invalid input, as FastAPI words it (the input quoted, not echoed), with the
    request ID."""
    if not isinstance(exc, RequestValidationError):  # registered for it only
        raise exc
    errors = [
        {**error, "input": echo(error["input"])} if "input" in error else error
        for error in exc.errors()
    ]
    return problem(422, errors)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: the caller may retry later."""
    logger.warning(
        "%s %s: database unavailable (%s)", request.method, request.url.path, type(exc).__name__
    )
    return problem(503, "database unavailable, retry later", {"Retry-After": "1"})


async def integrity_error(request: Request, _exc: Exception) -> JSONResponse:
    """409: the request conflicts with data already stored; nothing was saved."""
    logger.info("%s %s: integrity error", request.method, request.url.path)
    return problem(409, "conflict with existing data")


# SQLSTATEs whose transaction was rolled back for a race with another: retrying may succeed.
RETRYABLE_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock detected
READ_ONLY_TRANSACTION = "25006"  # a write on a read-only connection: a ReadSession's
# SQLSTATEs that mean the database cannot serve us now: connection exceptions (08),
# rejected login (28, e.g. pg_hba or password), too many connections, shutting down.
UNAVAILABLE_SQLSTATES = ("08", "28", "53300", "57P01", "57P02", "57P03")
FOREIGN_KEY_VIOLATION = "23503"  # the row a foreign key names does not exist


def sqlstate(exc: DBAPIError) -> str:
    """The SQLSTATE of a driver error ("" when it has none)."""
    return str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")


def is_unavailable(exc: DBAPIError) -> bool:
    """True for a lost connection or a SQLSTATE in ``UNAVAILABLE_SQLSTATES``."""
    return exc.connection_invalidated or sqlstate(exc).startswith(UNAVAILABLE_SQLSTATES)


def is_retryable(exc: DBAPIError) -> bool:
    """True when the transaction lost a race (40001, 40P01): it was rolled back, retry it."""
    return sqlstate(exc) in RETRYABLE_SQLSTATES


async def dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Connection trouble and lost races are a 503, a refused value a 422; else a 500."""
    if isinstance(exc, DBAPIError) and is_unavailable(exc):
        return await database_unavailable(request, exc)
    if isinstance(exc, DBAPIError) and is_retryable(exc):
        logger.warning("%s %s: %s, rolled back", request.method, request.url.path, sqlstate(exc))
        detail = "a concurrent transaction interfered; nothing was saved, retry"
        return problem(503, detail, {"Retry-After": "1"})
    if isinstance(exc, DBAPIError) and sqlstate(exc) == READ_ONLY_TRANSACTION:
        logger.error(
            "%s %s: a write through ReadSession, refused by the database: take DbSession",
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return problem(500, "internal server error")
    if isinstance(exc, DBAPIError) and sqlstate(exc).startswith("22"):
        logger.info("%s %s: data exception %s", request.method, request.url.path, sqlstate(exc))
        refused = {"loc": ["body"], "type": "value_error", "msg": "value refused by the database"}
        return problem(422, [refused])
    return await unexpected_error(request, exc)


def _matches(template: str, path: str) -> bool:
    """``/users/{user_id}`` matches ``/users/42``: segment by segment, a ``{...}`` any one."""
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and bool(g)) for w, g in zip(want, got, strict=True)
    )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document has for ``path`` (HEAD with GET, as Starlette does)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        if _matches(template, path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """405 whose ``Allow`` lists every method of the path: FastAPI's names one route's only
    (``GET /users/{id}`` and ``PATCH /users/{id}`` are two routes)."""
    if not isinstance(exc, HTTPException):  # registered for 405 only
        return await unexpected_error(request, exc)
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    allow = ", ".join(allowed_methods(request.app, path))
    return problem(405, exc.detail, {**(exc.headers or {}), "Allow": allow})


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 with a generic body; the details stay in the server log."""
    logger.error(
        "%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return problem(500, "internal server error")


async def last_resort(request: Request, exc: Exception) -> JSONResponse:
    """``unexpected_error`` as Starlette's outermost handler, outside the request-ID
    middleware: the response needs the ``X-Request-ID`` header added here (only here, or
    the handlers inside the middleware would send it twice)."""
    response = await unexpected_error(request, exc)
    if request_id := correlation_id.get():
        response.headers[REQUEST_ID] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above, most specific first."""
    app.add_exception_handler(IntegrityError, integrity_error)
    for error in UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(DBAPIError, dbapi_error)
    app.add_exception_handler(Exception, last_resort)
    app.add_exception_handler(405, method_not_allowed)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
