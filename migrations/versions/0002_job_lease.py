"""Job lease: which process is running a job, until when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Two processes sharing a database (the bot and the API recovering interrupted jobs, a CLI
`jobs run` next to a worker, a redelivered Celery task) must not run one job at once. A runner
claims the job by setting `lease_owner` ("host:pid:token") and `lease_until`, renews it as it
makes progress, and clears it when the job rests.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
