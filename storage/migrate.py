"""Schema migrations from code: `upgrade(url)`, `downgrade(url, rev)`, `current(url)`, `ensure_schema(url)`.

The Alembic `Config` is built here rather than read from an alembic.ini, so migrations run the same
from a checkout and from an installed wheel (the `migrations` package ships its revisions).

Concurrent callers are serialised: on SQLite by an exclusive file lock next to the database file,
on PostgreSQL by a session advisory lock held on the connection the migration runs through. A
caller that waited re-reads the revision and does nothing if another one already upgraded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, make_url, text
from sqlalchemy.pool import NullPool

from storage.db import make_engine

log = logging.getLogger(__name__)

# Arbitrary constant naming "DreamReel schema migration" among PostgreSQL advisory locks.
_PG_LOCK_KEY = 0x44524D52  # "DRMR"


def migrations_dir() -> Path:
    """The directory holding `env.py`, `script.py.mako` and `versions/`."""
    return Path(str(resources.files("migrations")))


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic `Config` for DreamReel; `env.py` reads `url`/`connection` from its attributes."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    if url is not None:
        cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on `path` (POSIX flock); a no-op where flock does not exist."""
    try:
        import fcntl
    except ImportError:  # Windows: single-process use is the expected case there
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _locked_connection(url: str) -> Iterator[Connection]:
    """A connection on `url` that holds the migration lock until the block ends."""
    sqlite_file = _sqlite_file(url)
    lock: AbstractContextManager[None]
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        lock = _file_lock(sqlite_file.with_name(sqlite_file.name + ".migrate.lock"))
    else:
        lock = nullcontext()
    engine = make_engine(url, poolclass=NullPool)
    try:
        with lock, engine.connect() as conn:
            is_pg = conn.dialect.name == "postgresql"
            if is_pg:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
                conn.commit()
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                if is_pg:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                    conn.commit()
    finally:
        engine.dispose()


def _current_on(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(url: str) -> str | None:
    """The revision the database at `url` is at; None for an empty (never migrated) database."""
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        return None
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _current_on(conn)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (default: the newest)."""
    with _locked_connection(url) as conn:
        log.info("upgrading database %s to %s", _safe(url), revision)
        command.upgrade(alembic_config(url, conn), revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to `revision` ("base" removes every table)."""
    with _locked_connection(url) as conn:
        log.info("downgrading database %s to %s", _safe(url), revision)
        command.downgrade(alembic_config(url, conn), revision)


def ensure_schema(url: str) -> str | None:
    """Upgrade to head unless the database is already there; returns the resulting revision.

    Safe to call from several processes at start-up: the lock makes them take turns and the
    revision is read again under the lock.
    """
    head = head_revision()
    if current(url) == head:
        return head
    with _locked_connection(url) as conn:
        found = _current_on(conn)
        if found != head:
            log.info("database %s at %s, upgrading to %s", _safe(url), found, head)
            command.upgrade(alembic_config(url, conn), "head")
        return _current_on(conn)


def _safe(url: str) -> str:
    """The URL with any password hidden, fit for a log line."""
    return make_url(url).render_as_string(hide_password=True)


__all__ = [
    "alembic_config",
    "current",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "migrations_dir",
    "upgrade",
]
