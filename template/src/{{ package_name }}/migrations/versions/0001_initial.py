"""Initial revision: the baseline every later migration builds on.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """No tables yet: add models to ``models/`` and run ``alembic revision --autogenerate``."""


def downgrade() -> None:
    """Nothing to undo."""
