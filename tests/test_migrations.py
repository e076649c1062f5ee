"""The Alembic revisions build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, select, text

from storage import migrate
from storage.db import Database
from storage.models import Base, Diary, Event, Job, User

REPO = Path(__file__).resolve().parent.parent
HEAD = "0008_withheld"  # the newest revision: one line of history, this at its end


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A throwaway database next to the one `postgres_url` names, dropped afterwards."""
    name = f"dreamreel_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'dreamreel.db'}"
    return str(request.getfixturevalue("pg_database"))


def _schema_diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_equals_models_and_downgrade_removes_everything(db_url: str) -> None:
    head = migrate.head_revision()
    assert head == HEAD
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url)
    assert migrate.current(db_url) == head
    assert _tables(db_url) == set(Base.metadata.tables)
    assert _schema_diff(db_url) == []

    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    assert _tables(db_url) == set()

    migrate.upgrade(db_url)
    assert migrate.current(db_url) == head
    assert _schema_diff(db_url) == []


def test_a_fresh_database_differs_from_the_models(db_url: str) -> None:
    """The comparison used above does see a missing schema (so an empty diff means something)."""
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    diff = _schema_diff(db_url)
    added = {item[1].name for item in diff if isinstance(item, tuple) and item[0] == "add_table"}
    assert added == set(Base.metadata.tables)


def test_migrated_schema_stores_json_and_cascades_deletes(db_url: str) -> None:
    migrate.ensure_schema(db_url)
    db = Database(db_url)
    try:
        with db.session() as s:
            user = User(channel="cli", external_id="u1", prefs={"lang": "ko"})
            diary = Diary(user=user, text="바다 위를 날았다", channel="cli")
            job = Job(diary=diary, options={"segments": 2}, emotion_scores={"joy": 0.9})
            s.add(job)
            s.flush()
            s.add(Event(job_id=job.id, kind="state", state="received", data={"k": [1, "두"]}))
            job_id = job.id
        with db.session() as s:
            loaded = s.get(Job, job_id)
            assert loaded is not None
            assert loaded.options == {"segments": 2}
            assert loaded.events[0].data == {"k": [1, "두"]}
            assert loaded.created_at is not None
            # ON DELETE CASCADE in the database itself, not only in the ORM
            s.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": job_id})
        with db.session() as s:
            assert s.scalars(select(Event).where(Event.job_id == job_id)).all() == []
    finally:
        db.dispose()


def test_ensure_schema_from_concurrent_processes(db_url: str) -> None:
    code = "import sys; from storage.migrate import ensure_schema; print(ensure_schema(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == HEAD
    assert migrate.current(db_url) == HEAD
    assert _schema_diff(db_url) == []


def test_ensure_schema_is_a_no_op_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert migrate.ensure_schema(url) == HEAD
    db = Database(url)
    try:
        with db.session() as s:
            s.add(User(channel="cli", external_id="kept"))
    finally:
        db.dispose()
    assert migrate.ensure_schema(url) == HEAD
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT external_id FROM users")).scalars().all() == ["kept"]
    engine.dispose()


def test_revisions_ship_with_the_package() -> None:
    from setuptools import find_packages

    directory = migrate.migrations_dir()
    assert (directory / "env.py").is_file()
    assert (directory / "script.py.mako").is_file()
    assert (directory / "versions" / "0001_initial.py").is_file()
    packages = find_packages(where=str(REPO), include=["migrations*"])
    assert "migrations.versions" in packages


def test_env_falls_back_to_environment_then_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain `alembic` use (no URL passed) reads DREAMREEL_DATABASE_URL, then the settings' SQLite file."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DREAMREEL_DATABASE_URL", url)
    command.upgrade(migrate.alembic_config(), "head")
    assert migrate.current(url) == HEAD

    monkeypatch.delenv("DREAMREEL_DATABASE_URL")
    home = tmp_path / "home"  # conftest points DREAMREEL_HOME here
    command.upgrade(migrate.alembic_config(), "head")
    assert migrate.current(f"sqlite:///{(home / 'dreamreel.db').resolve()}") == HEAD



def test_upgrading_a_used_database_keeps_its_rows_and_takes_long_api_users(db_url: str) -> None:
    """0004 widens users.external_id in place (a table rebuild on SQLite, with foreign keys on)."""
    migrate.upgrade(db_url, "0007_audio")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (channel, external_id, blocked_bot, prefs, created_at) "
                              "VALUES ('api', 'abc:u1', false, '{}', CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO diaries (user_id, text, channel, created_at) "
                              "SELECT id, 'a dream', 'api', CURRENT_TIMESTAMP FROM users"))
    finally:
        engine.dispose()
    migrate.upgrade(db_url)
    assert _schema_diff(db_url) == []
    db = Database(db_url)
    try:
        long_user = "0123456789ab:" + "u" * 128  # what the API stores for a 128-character user
        with db.session() as s:
            assert s.scalars(select(Diary.text)).all() == ["a dream"]
            s.add(User(channel="api", external_id=long_user))
        with db.session() as s:
            assert s.scalars(select(User.external_id).order_by(User.id)).all() == ["abc:u1", long_user]
    finally:
        db.dispose()
