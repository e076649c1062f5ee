"""Moderator sessions held by the server, and room for the API's long user ids.

Revision ID: 0004_moderator_sessions
Revises: 0007_audio
Create Date: 2026-12-02

A moderator's sign-out must end the session even when someone kept the cookie, so the cookie
now names a row (`moderator_sessions`) that sign-out, expiry or removing the token revokes.
`users.external_id` grows from 128 to 160 characters: the API stores "<12 hex key id>:<user>"
and accepts users of up to 128 characters (PostgreSQL refused the longer ones with a 500).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_moderator_sessions"
down_revision: str | None = "0007_audio"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderator_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("moderator", sa.String(length=128), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name="pk_moderator_sessions"),
    )
    _resize_external_id(128, 160)


def _resize_external_id(old: int, new: int) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # batch mode rebuilds `users` (drop and rename); diaries point at it
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("external_id", existing_type=sa.String(length=old), type_=sa.String(length=new),
                           existing_nullable=False)
    if sqlite:
        op.execute("PRAGMA foreign_keys = ON")


def downgrade() -> None:
    _resize_external_id(160, 128)
    op.drop_table("moderator_sessions")
