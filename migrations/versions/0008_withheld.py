"""Withheld moments: the sentences of an allowed diary that its video leaves out.

Revision ID: 0008_withheld
Revises: 0005_clip_quality
Create Date: 2026-12-07

`jobs.withheld` holds the spans (`{"start", "end", "text"}`) the safety step left out of the video:
a sexual or gory moment in an otherwise ordinary dream (content policy, docs/architecture.md). Old
jobs get an empty list. Added in batch mode for SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_withheld"
down_revision: str | None = "0005_clip_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("withheld", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("withheld")
