"""The facade's global views: jobs counted by state, the event feed over all jobs, and the
Prometheus metrics built on them (real service, real SQLite, real preview renderer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.metrics import JobMetrics
from dreamreel.service import DreamService
from dreamreel.settings import load_settings
from dreamreel.wiring import build_service
from tests.helpers import fast_env

CALM = "I dreamt I was flying over a quiet sea at sunset. Then I landed in my old school garden."
BLOCKED = "In the dream I tortured my neighbor, cut off his fingers one by one and watched him bleed out."


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[DreamService]:
    fast_env(monkeypatch)
    svc = build_service(load_settings(default_segments=2))
    try:
        yield svc
    finally:
        svc.close()


def test_job_counts_group_jobs_by_state(service: DreamService) -> None:
    assert service.job_counts() == {}
    done = service.submit_diary(CALM, user="a", run=False).job_id
    service.run_job(done)
    service.run_job(service.submit_diary(BLOCKED, user="b", run=False).job_id)
    for user in ("c", "d"):
        service.submit_diary(CALM, user=user, run=False)
    assert service.job_counts() == {"done": 1, "blocked": 1, "received": 2}
    listed = [job.status for job in service.list_jobs()]
    assert sum(service.job_counts().values()) == len(listed) == 4


def test_events_since_is_one_feed_over_all_jobs_in_pages(service: DreamService) -> None:
    first = service.submit_diary(CALM, user="a", run=False).job_id
    second = service.submit_diary(CALM, user="b", run=False).job_id
    service.run_job(first)
    service.run_job(second)
    per_job = sorted(service.events(first) + service.events(second), key=lambda e: e.id)
    assert len(per_job) > 6

    feed = service.events_since(0)
    assert [e.id for e in feed] == [e.id for e in per_job]
    assert {e.job_id for e in feed} == {first, second}

    pages, after = [], 0
    while page := service.events_since(after, limit=3):
        assert len(page) <= 3
        pages.append(page)
        after = page[-1].id
    assert [e for page in pages for e in page] == feed
    assert service.events_since(feed[-1].id) == []
    middle = feed[len(feed) // 2].id
    assert [e.id for e in service.events_since(middle)] == [e.id for e in feed if e.id > middle]


def test_metrics_count_jobs_that_existed_before_the_api_started(service: DreamService) -> None:
    service.run_job(service.submit_diary(CALM, user="a", run=False).job_id)
    for user in ("b", "c"):
        service.submit_diary(CALM, user=user, run=False)
    metrics = JobMetrics(service)
    metrics.start()
    try:
        lines = metrics.render().splitlines()
        assert 'dreamreel_jobs{state="done"} 1' in lines
        assert 'dreamreel_jobs{state="received"} 2' in lines
        assert 'dreamreel_jobs{state="failed"} 0' in lines
        assert "dreamreel_queue_depth 2" in lines
        # jobs moved after start-up are counted where they are now
        service.run_job(service.list_jobs(user="b")[0].job_id)
        lines = metrics.render().splitlines()
        assert 'dreamreel_jobs{state="done"} 2' in lines and "dreamreel_queue_depth 1" in lines
        assert "dreamreel_render_seconds_count 1" in lines  # rendered while subscribed
    finally:
        metrics.stop()


@pytest.mark.postgres
def test_counts_and_feed_on_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same queries on PostgreSQL, whose test database other tests share (so: differences)."""
    fast_env(monkeypatch)
    svc = build_service(load_settings(database_url=postgres_url))
    try:
        first = svc.submit_diary(CALM, user="feed-a", run=False).job_id
        after = svc.events(first)[-1].id
        before = svc.job_counts()
        second = svc.submit_diary(CALM, user="feed-b", run=False).job_id
        counts = svc.job_counts()
        assert sum(counts.values()) >= sum(before.values()) + 1 and counts.get("received", 0) >= 1
        assert all(v > 0 for v in counts.values())
        feed = svc.events_since(after, limit=1000)
        assert all(e.id > after for e in feed) and [e.id for e in feed] == sorted(e.id for e in feed)
        assert [e for e in feed if e.job_id == second] == svc.events(second)
        assert first not in {e.job_id for e in feed}
    finally:
        svc.close()
