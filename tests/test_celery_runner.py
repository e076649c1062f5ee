"""Jobs reach `done` through a real Redis broker and a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dreamreel.runners.celery_app import CPU_QUEUE, GPU_QUEUE, RUN_JOB, default_queue, make_celery_app
from dreamreel.runners.celery_runner import CeleryRunner
from dreamreel.service import DreamService
from dreamreel.settings import load_settings
from dreamreel.views import EventView
from dreamreel.wiring import build_service
from storage.models import Job
from tests.helpers import fast_env

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parent.parent
DIARY = "I was flying over the sea at night. Then I fell into a warm lake and laughed."


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    """A queue name of this test's own, so parallel test runs on one Redis do not share tasks."""
    name = f"dreamreel.test.{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name)
    client.close()


@pytest.fixture
def service(redis_url: str, queue: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DreamService]:
    monkeypatch.setenv("DREAMREEL_REDIS_URL", redis_url)
    monkeypatch.setenv("DREAMREEL_RUNNER", "celery")
    fast_env(monkeypatch)  # tiny preview clips; the worker inherits the environment
    svc = build_service(load_settings())
    assert isinstance(svc.runner, CeleryRunner)
    svc.runner.close()
    svc.runner = CeleryRunner.from_settings(svc.settings, queue=queue)
    yield svc
    svc.close()


@pytest.fixture
def worker(service: DreamService, queue: str) -> Iterator[subprocess.Popen[str]]:
    """`celery worker` in a subprocess on the test's queue, same settings through the environment."""
    log_file = Path(os.environ["DREAMREEL_HOME"]) / "worker.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dreamreel.runners.celery_app",
            "worker",
            "-Q",
            queue,
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{queue}@%h",
            "--logfile",
            str(log_file),
        ],
        cwd=REPO,
        env=dict(os.environ),
        text=True,
    )
    proc.log_file = log_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + 90
    while "ready." not in (log_file.read_text() if log_file.exists() else ""):
        assert proc.poll() is None, f"worker exited with {proc.returncode}"
        assert time.monotonic() < deadline, "worker not ready after 90 s"
        time.sleep(0.2)
    yield proc
    proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_submit_only_queues_the_job(service: DreamService, queue: str, redis_url: str) -> None:
    """Without a worker nothing runs here: the job waits in `received`, its id is on the queue."""
    view = service.submit_diary(DIARY)
    assert view.status == "received"
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen(queue) == 1
    finally:
        client.close()
    assert service.get_job(view.job_id).status == "received"


def test_worker_runs_submitted_jobs_to_done(service: DreamService, worker: subprocess.Popen[str]) -> None:
    first = service.submit_diary(DIARY)
    second = service.submit_diary("꿈에서 하늘을 날았다. 그리고 바다에 떨어졌다.")
    done = [service.wait(v.job_id, timeout=120, poll=0.25) for v in (first, second)]
    for view in done:
        assert view.status == "done", (view.status, view.error)
        assert view.video is not None and Path(view.video).is_file()
        assert len(view.clips) == len(view.segments) >= 1
    log_text = worker.log_file.read_text()  # type: ignore[attr-defined]
    # the service (models, database engine) is built once per worker process, not once per job
    assert log_text.count("worker service ready") == 1
    assert log_text.count(f"{RUN_JOB}[") >= 2


def test_default_queue_follows_the_preset() -> None:
    preview = load_settings()
    assert default_queue(preview) == CPU_QUEUE
    gpu = load_settings(video={"preset": "wan-1.3b"})
    assert default_queue(gpu) == GPU_QUEUE
    app = make_celery_app(gpu)
    assert CeleryRunner(app).queue == GPU_QUEUE
    app.close()


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_job_survives_a_worker_process_killed_mid_render(
    service: DreamService, worker: subprocess.Popen[str]
) -> None:
    """The task is acknowledged late: a pool process killed mid-job hands it back, the job resumes."""
    view = service.submit_diary(DIARY)
    deadline = time.monotonic() + 60
    while service.get_job(view.job_id).status != "rendering":
        assert time.monotonic() < deadline, service.get_job(view.job_id).status
        time.sleep(0.02)
    children = _children(worker.pid)
    assert len(children) == 1  # --concurrency 1: the one pool process running the job
    os.kill(children[0], signal.SIGKILL)

    done = service.wait(view.job_id, timeout=120, poll=0.25)
    assert done.status == "done", (done.status, done.error)
    assert done.video is not None and Path(done.video).is_file()
    with service.db.session() as s:
        job = s.get(Job, view.job_id)
        assert job is not None and job.attempts == 2
    log_text = worker.log_file.read_text()  # type: ignore[attr-defined]
    assert "worker service ready" in log_text


def test_subscribers_see_events_a_worker_writes(service: DreamService, worker: subprocess.Popen[str]) -> None:
    """With Celery the job runs in another process; the relay follows its events from the database."""
    seen: list[EventView] = []
    service.subscribe(seen.append)
    job = service.submit_diary(DIARY)
    done = service.wait(job.job_id, timeout=120, poll=0.25)
    assert done.status == "done", done.error
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(e.state == "done" for e in seen):
        time.sleep(0.1)
    mine = [e for e in seen if e.job_id == job.job_id]
    states = [e.state for e in mine if e.kind == "state"]
    assert states == ["received", "planned", "approved", "rendering", "stitching", "done"]
    ids = [e.id for e in mine]
    assert ids == sorted(set(ids))  # each event once, in order: the local "received" is not repeated
    assert any(e.kind == "progress" for e in mine)
