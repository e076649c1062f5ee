"""Alembic environment: DreamReel's models are the target; the URL comes from the caller.

Where the database URL comes from, first match wins:
1. `config.attributes["connection"]`: an open SQLAlchemy connection (used by `storage.migrate`
   so a lock held on that connection covers the migration);
2. `config.attributes["url"]` or the `sqlalchemy.url` main option;
3. the `DREAMREEL_DATABASE_URL` environment variable;
4. DreamReel's settings (`dreamreel.settings.Settings().db_url`, the SQLite file under DREAMREEL_HOME).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.models import Base

log = logging.getLogger("migrations.env")

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    url = os.environ.get("DREAMREEL_DATABASE_URL")
    if url:
        return url
    # Imported lazily: migrations depend on storage only, the settings are a fallback for the CLI.
    from dreamreel.settings import load_settings

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings.db_url


def _configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade --sql`) without a database."""
    url = _database_url()
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(dialect_name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the caller's connection, or through a fresh engine on the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as conn:
            _run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
