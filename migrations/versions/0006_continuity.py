"""Continuity: the job's mode and style seed, each scene's start frame, the diary's photo.

Revision ID: 0006_continuity
Revises: 0004_moderator_sessions
Create Date: 2026-12-02

`jobs.continuity` (none | chain | keyframe) and `jobs.style_seed` (the one seed of every key
frame), `segments.start_frame` (the image a scene's clip starts from, saved before it renders so a
resumed job or a re-roll starts from the same frame), `diaries.photo_path` (the dreamer's photo,
stored with the diary and deleted with it). Columns are added in batch mode for SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_continuity"
down_revision: str | None = "0004_moderator_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("continuity", sa.String(length=16), server_default="none", nullable=False))
        batch.add_column(sa.Column("style_seed", sa.Integer(), nullable=True))
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("start_frame", sa.String(length=1024), nullable=True))
    with op.batch_alter_table("diaries") as batch:
        batch.add_column(sa.Column("photo_path", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diaries") as batch:
        batch.drop_column("photo_path")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("start_frame")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("style_seed")
        batch.drop_column("continuity")
