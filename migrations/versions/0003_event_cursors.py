"""Event cursors: how far each long-lived consumer has delivered the events table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

The bot and the API follow events other processes write. A job that came to rest while one of
them was stopped must still be announced when it starts again, so each keeps its place
(`last_event_id`, everything up to it delivered) under its consumer name. A new table needs no
batch mode on SQLite (nothing is altered in place).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_cursors"),
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
