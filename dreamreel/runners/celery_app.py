"""Celery workers for many machines: jobs travel as ids over Redis, state lives in the database.

Start a worker (one per GPU; CPU-only machines take the CPU queue):

    celery -A dreamreel.runners.celery_app worker -Q dreamreel.gpu --pool solo --concurrency 1
    celery -A dreamreel.runners.celery_app worker -Q dreamreel.cpu

The worker reads the same settings as every other process (DREAMREEL_* environment, the TOML
file named by DREAMREEL_CONFIG): `redis_url` is the broker, `database_url` and `home` must point
at the database and media store the submitting processes use (PostgreSQL and a shared volume
when workers run on other machines).

Each worker process builds the DreamService once (models and LoRAs load once, not per job) and
runs `service.run_job(job_id)` for every task. A job's steps are idempotent, so a task delivered
twice (a worker died before acknowledging) resumes the job instead of redoing finished work.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from dreamreel.errors import NotFound
from dreamreel.settings import Settings, load_settings

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

RUN_JOB = "dreamreel.run_job"
GPU_QUEUE = "dreamreel.gpu"
CPU_QUEUE = "dreamreel.cpu"

# A render can take long; Redis re-delivers an unacknowledged task after this many seconds.
_VISIBILITY_TIMEOUT = 6 * 3600


def default_queue(settings: Settings) -> str:
    """The preview renderer runs anywhere (CPU queue); diffusers presets need a GPU worker."""
    return CPU_QUEUE if settings.video.preset == "preview" else GPU_QUEUE


def make_celery_app(settings: Settings | None = None) -> Celery:
    """A Celery app on `settings.redis_url` with the `dreamreel.run_job` task registered."""
    settings = settings or load_settings()
    app = Celery("dreamreel", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=default_queue(settings),
        task_ignore_result=True,  # the job row is the result
        task_acks_late=True,  # a worker that dies mid-job leaves the task for another worker
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # jobs are long: do not hoard them
        broker_transport_options={"visibility_timeout": _VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
    )
    app.conf.dreamreel_settings = settings

    @app.task(name=RUN_JOB, bind=True)
    def run_job(task: Any, job_id: int) -> str:
        """Run or resume job `job_id` until it rests; returns the state it rests in."""
        service = worker_service(task.app.conf.dreamreel_settings)
        try:
            view = service.run_job(int(job_id))
        except NotFound:
            log.warning("job %s does not exist; task dropped", job_id)
            return "missing"
        log.info("job %s: %s", job_id, view.status)
        return str(view.status)

    return app


# -- one service per worker process --------------------------------------------------------------

_app: Celery | None = None  # the app `celery -A dreamreel.runners.celery_app` uses
_service: DreamService | None = None
_service_lock = threading.Lock()


def worker_service(settings: Settings | None = None) -> DreamService:
    """The worker process's DreamService, built on first use (or at process start, see below)."""
    global _service
    with _service_lock:
        if _service is None:
            from dreamreel.wiring import build_service

            _service = build_service(settings or load_settings())
            log.info("worker service ready (preset %s)", _service.settings.video.preset)
        return _service


@worker_process_init.connect
def _build_service_at_process_start(**_: Any) -> None:
    # Prefork children start here: build now so the first job does not pay for loading models,
    # and so no database connection is inherited across fork.
    worker_service(_app.conf.dreamreel_settings if _app is not None else None)


@worker_process_shutdown.connect
def _close_service(**_: Any) -> None:
    global _service
    with _service_lock:
        if _service is not None:
            _service.close()
            _service = None


def __getattr__(name: str) -> Celery:
    """`celery -A dreamreel.runners.celery_app` finds `app`, built from settings on first access."""
    if name in ("app", "celery"):
        global _app
        if _app is None:
            _app = make_celery_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
