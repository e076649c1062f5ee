"""Initial schema: users, diaries, jobs, segments, clips, videos, reviews, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Generated with autogenerate against an empty SQLite database, then reviewed by hand:
- every constraint and index carries the name the models' naming convention gives it, so later
  revisions can drop or alter them by name on SQLite (batch mode) and PostgreSQL alike;
- JSON columns are `sa.JSON` (json on PostgreSQL, text on SQLite), as in the models;
- timestamps are `DateTime(timezone=True)` (timestamptz on PostgreSQL);
- no server defaults: the models set defaults in Python, and the comparison test checks the
  migrated schema equals the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _job_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["job_id"], ["jobs.id"], name=f"fk_{table}_job_id_jobs", ondelete="CASCADE"
    )


def _media_columns() -> list[sa.Column]:
    """Columns clips and videos share (storage.models._MediaColumns)."""
    return [
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        _timestamp("created_at"),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("blocked_bot", sa.Boolean(), nullable=False),
        sa.Column("prefs", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),
    )

    op.create_table(
        "diaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_diaries_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_diaries"),
    )
    op.create_index("ix_diaries_user_id", "diaries", ["user_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("diary_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failed_in", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("planner", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("emotion", sa.String(length=16), nullable=True),
        sa.Column("emotion_scores", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("verdict_reasons", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["diary_id"], ["diaries.id"], name="fk_jobs_diary_id_diaries"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("idempotency_key", name="uq_jobs_idempotency_key"),
    )
    op.create_index("ix_jobs_diary_id", "jobs", ["diary_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])

    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("emotion", sa.String(length=16), nullable=True),
        sa.Column("emotion_scores", sa.JSON(), nullable=False),
        sa.Column("style", sa.String(length=32), nullable=True),
        sa.Column("lora_name", sa.String(length=256), nullable=True),
        sa.Column("lora_weight", sa.Float(), nullable=True),
        sa.Column("preset", sa.String(length=64), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        _job_fk("segments"),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("job_id", "index", name="uq_segments_job_id_index"),
    )

    op.create_table(
        "clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("segment_index", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        *_media_columns(),
        _job_fk("clips"),
        sa.PrimaryKeyConstraint("id", name="pk_clips"),
        sa.UniqueConstraint("job_id", "segment_index", name="uq_clips_job_id_segment_index"),
    )

    op.create_table(
        "videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        *_media_columns(),
        _job_fk("videos"),
        sa.PrimaryKeyConstraint("id", name="pk_videos"),
        sa.UniqueConstraint("job_id", name="uq_videos_job_id"),
    )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("moderator", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("decided_at", nullable=True),
        _job_fk("reviews"),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_job_id", "reviews", ["job_id"])
    op.create_index("ix_reviews_status", "reviews", ["status"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _job_fk("events"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_job_id", "events", ["job_id"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes on SQLite and PostgreSQL.
    for table in ("events", "reviews", "videos", "clips", "segments", "jobs", "diaries", "users"):
        op.drop_table(table)
