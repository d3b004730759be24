"""The connection budget: what the service may open against what the server accepts.

Every worker process has a pool of its own, up to ``DB_POOL_SIZE + DB_MAX_OVERFLOW``
connections, so ``WEB_CONCURRENCY`` workers may open workers x that. The server accepts
``max_connections`` less the slots it reserves for superusers (and, from PostgreSQL 16, for
``pg_use_reserved_connections``), and other clients hold some already: the service's own
connections are told apart by their ``application_name``, the one the measuring connection
has (every connection of an engine has the same). Behind a transaction pooler the
figure that matters is the pooler's client limit, which the server cannot tell us.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

logger = logging.getLogger(__name__)

FIGURES = text(
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int"
    " - coalesce(current_setting('reserved_connections', true)::int, 0),"
    " (SELECT count(*) FROM pg_stat_activity"
    "  WHERE backend_type = 'client backend'"
    "  AND application_name IS DISTINCT FROM current_setting('application_name'))::int"
)
POOLER_NOTE = (
    "behind a transaction pooler: the pooler's client limit applies (the server's "
    "max_connections is the pooler's concern)"
)


@dataclass(frozen=True)
class Budget:
    """The figures, and whether they fit (None: nothing to compare)."""

    workers: int
    per_worker: int | None  # DB_POOL_SIZE + DB_MAX_OVERFLOW; None for NullPool (unbounded)
    server_limit: int | None = None  # max_connections less reserved slots
    in_use_by_others: int | None = None
    note: str | None = None

    @property
    def needed(self) -> int | None:
        """The most connections the service's workers may open together."""
        return None if self.per_worker is None else self.workers * self.per_worker

    @property
    def fits(self) -> bool | None:
        """True when the workers' pools fit in what the server has left."""
        if self.needed is None or self.server_limit is None or self.in_use_by_others is None:
            return None
        return self.needed <= self.server_limit - self.in_use_by_others

    def warning(self) -> str | None:
        """What to log when the budget does not fit, naming the figures and the settings."""
        if self.fits is not False:
            return None
        return (
            f"connection budget exceeded: {self.workers} workers x {self.per_worker} "
            f"connections (DB_POOL_SIZE + DB_MAX_OVERFLOW) = {self.needed}, but the server "
            f"accepts {self.server_limit} (max_connections less reserved) and other clients "
            f"hold {self.in_use_by_others}: lower WEB_CONCURRENCY, DB_POOL_SIZE or "
            "DB_MAX_OVERFLOW (or raise max_connections, or put a pooler in between)"
        )

    def report(self) -> dict[str, Any]:
        """For ``/health/db``."""
        return {**asdict(self), "needed": self.needed, "fits": self.fits}


async def measure(
    connection: AsyncConnection,
    *,
    workers: int,
    per_worker: int | None,
    transaction_pooler: bool,
) -> Budget:
    """The budget as the server sees it now (one query; none behind a pooler)."""
    if transaction_pooler:
        return Budget(workers, per_worker, note=POOLER_NOTE)
    row = (await connection.execute(FIGURES)).one()
    note = None if per_worker is not None else "NullPool: one connection per request in flight"
    return Budget(workers, per_worker, int(row[0]), int(row[1]), note)


def log_if_exceeded(budget: Budget) -> None:
    """Log the warning when the budget does not fit."""
    warning = budget.warning()
    if warning is not None:
        logger.warning("%s", warning)
