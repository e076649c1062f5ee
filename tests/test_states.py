"""The job state machine: the table, `transition`, and that nothing else writes a job's state."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from dreamreel.errors import InvalidTransition
from dreamreel.payloads import StateData
from dreamreel.states import (
    MODERATED_STATES,
    RESTING_STATES,
    TRANSITIONS,
    WORKING_STATES,
    JobState,
    can_move,
    transition,
)
from storage import repos
from storage.db import Database
from storage.migrate import ensure_schema
from storage.models import Diary, Event, Job, User
from tests.helpers import REPO


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'states.db'}"
    ensure_schema(url)
    database = Database(url)
    yield database
    database.dispose()


def _new_job(db: Database, state: JobState) -> int:
    with db.session() as s:
        user = User(channel="cli", external_id="u", prefs={})
        job = Job(diary=Diary(user=user, text="a dream", language="en", channel="cli"), state=state)
        s.add(job)
        s.flush()
        return job.id


def test_every_state_has_a_row_and_resting_states_leave_only_by_a_person() -> None:
    assert set(TRANSITIONS) == set(JobState)
    assert TRANSITIONS[JobState.REJECTED] == frozenset()  # final for good
    # a working state moves on or fails; nothing skips moderation
    for state in WORKING_STATES:
        assert JobState.FAILED in TRANSITIONS[state]
        assert JobState.DONE not in TRANSITIONS[state] or state == JobState.STITCHING
    assert not can_move(JobState.RECEIVED, JobState.APPROVED)
    assert not can_move(JobState.PLANNED, JobState.RENDERING)
    for state in MODERATED_STATES:
        assert TRANSITIONS[state] == {JobState.APPROVED, JobState.REJECTED}
    assert MODERATED_STATES < RESTING_STATES


def test_transition_writes_state_updated_at_and_one_event_row(db: Database) -> None:
    job_id = _new_job(db, JobState.PLANNED)
    with db.session() as s:
        before = s.get(Job, job_id).updated_at  # type: ignore[union-attr]
    with db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        row = transition(s, job, JobState.IN_REVIEW, "waiting for a moderator", StateData(note="test"))
        assert repos.take_new_events(s) == [row]  # handed to the caller to publish after commit
    with db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state == "in_review"
        assert job.updated_at > before
        events = list(s.query(Event).filter_by(job_id=job_id))
        assert [(e.kind, e.state, e.message, e.data) for e in events] == [
            ("state", "in_review", "waiting for a moderator", {"note": "test"})
        ]


def test_a_move_the_table_does_not_allow_is_refused_and_writes_nothing(db: Database) -> None:
    job_id = _new_job(db, JobState.BLOCKED)
    with pytest.raises(InvalidTransition, match="blocked; it cannot become rendering"), db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        transition(s, job, JobState.RENDERING, "skipping the moderator")
    with db.session() as s:
        assert s.get(Job, job_id).state == "blocked"  # type: ignore[union-attr]
        assert s.query(Event).filter_by(job_id=job_id).count() == 0


def _state_writes(path: Path) -> list[int]:
    """Lines of `path` that assign to a `.state` attribute (job.state = ..., values(state=...))."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.AnnAssign) else []
        lines += [t.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr == "state"]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            lines += [k.value.lineno for k in node.keywords if k.arg == "state"]
    return lines


def test_only_the_state_machine_writes_a_jobs_state() -> None:
    writers = {
        str(path.relative_to(REPO)): lines
        for package in ("dreamreel", "storage", "api", "bot")
        for path in sorted((REPO / package).rglob("*.py"))
        if (lines := _state_writes(path))
    }
    assert writers == {"dreamreel/states.py": writers.get("dreamreel/states.py", [])}
    assert writers["dreamreel/states.py"]  # the check finds the one write there is


@pytest.mark.parametrize("decisions", [(JobState.APPROVED, JobState.REJECTED), (JobState.REJECTED, JobState.REJECTED)])
def test_of_two_moderators_deciding_at_once_one_wins_on_postgresql(
    postgres_url: str, decisions: tuple[JobState, JobState]
) -> None:
    import threading
    import uuid

    from dreamreel import moderation

    ensure_schema(postgres_url)
    dbs = [Database(postgres_url), Database(postgres_url)]
    try:
        with dbs[0].session() as s:
            user = User(channel="cli", external_id=f"mods-{uuid.uuid4().hex[:8]}", prefs={})
            job = Job(diary=Diary(user=user, text="a dream", language="en", channel="cli"), state=JobState.BLOCKED)
            s.add(job)
            s.flush()
            job_id = job.id
        loaded = threading.Barrier(2)
        outcomes: list[str] = []

        def decide(db: Database, decision: JobState, moderator: str) -> None:
            try:
                with db.session() as s:
                    job = repos.load_job(s, job_id)
                    assert job is not None
                    loaded.wait(10)  # both saw the job blocked before either decides
                    moderation.decide(s, job, decision, moderator, "a note")
                outcomes.append(moderator)
            except InvalidTransition:
                outcomes.append("refused")

        threads = [threading.Thread(target=decide, args=(db, d, f"m{i}")) for i, (db, d) in
                   enumerate(zip(dbs, decisions, strict=True))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes)[-1] == "refused" and len(outcomes) == 2
        with dbs[0].session() as s:
            events = list(s.query(Event).filter_by(job_id=job_id, kind="state"))
            assert len(events) == 1  # one decision recorded, the loser's rolled back
            winner = next(o for o in outcomes if o != "refused")
            assert events[0].data["moderator"] == winner
            assert s.get(Job, job_id).state == decisions[int(winner[1])]  # type: ignore[union-attr]
    finally:
        for db in dbs:
            db.dispose()
