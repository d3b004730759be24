"""The typed declarative base: naming conventions and a timestamp mixin."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so that migrations can drop what they created. Multi-column
# indexes and constraints are named after all their columns (``column_0_N_name``), so that
# UNIQUE (owner_id, name) and UNIQUE (owner_id, slug) do not collide; names longer than
# PostgreSQL's 63 characters are shortened by SQLAlchemy with a stable hash suffix.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """``created_at`` and ``updated_at``, timezone-aware, set by the database.

    ``eager_defaults``: INSERT and UPDATE return what the database set (RETURNING), so a
    flushed object is complete without a second query (no ``session.refresh``).
    """

    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": True}

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
