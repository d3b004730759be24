"""Every status an endpoint can answer besides its success, for the OpenAPI document.

A client generated from the document, and the fuzz test, see each error with its body.
"""

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """An error, in words, and the ID of the request (``X-Request-ID``) for the logs."""

    detail: str
    request_id: str | None


DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8, say)",
    404: "No such resource",
    413: "The body is over MAX_REQUEST_BYTES",
    409: (
        "Conflicts with data already stored, or the Idempotency-Key was used for another "
        "request; nothing was saved"
    ),
    504: (
        "The database did not confirm the commit: the change may have been saved; retry "
        "with the same Idempotency-Key, or read before retrying"
    ),
    503: (
        "The database is unavailable, or a concurrent transaction interfered; nothing was "
        "saved: retry after Retry-After seconds"
    ),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses, each with a ``Problem`` body."""
    return {status: {"model": Problem, "description": DESCRIPTIONS[status]} for status in statuses}
