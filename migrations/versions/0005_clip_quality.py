"""Clip quality: the scores of each clip and every attempt the quality gate rendered.

Revision ID: 0005_clip_quality
Revises: 0006_continuity
Create Date: 2026-12-02

`clips.quality` holds the kept clip's scores (sharpness, temporal consistency, colour, overall,
CLIP score, pass/fail); `clip_attempts` one row per render of a scene (seed, prompt, steps
factor, scores, whether it was kept), so a re-rolled or re-rendered scene can be explained.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_clip_quality"
down_revision: str | None = "0006_continuity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("quality", sa.JSON(), nullable=True))
    op.create_table(
        "clip_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("segment_index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("steps_factor", sa.Float(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_clip_attempts_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clip_attempts"),
        sa.UniqueConstraint(
            "job_id", "segment_index", "attempt", name="uq_clip_attempts_job_id_segment_index_attempt"
        ),
    )


def downgrade() -> None:
    op.drop_table("clip_attempts")
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("quality")
