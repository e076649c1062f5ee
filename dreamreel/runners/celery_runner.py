"""`CeleryRunner`: the runner that hands job ids to Celery workers over Redis."""

from __future__ import annotations

import logging

from celery import Celery

from dreamreel.runners.celery_app import RUN_JOB, make_celery_app
from dreamreel.settings import Settings

log = logging.getLogger(__name__)


class CeleryRunner:
    """Sends `dreamreel.run_job(job_id)` to a queue; a worker runs the job (see celery_app.py).

    `queue` defaults to the app's default queue (CPU for the preview renderer, GPU otherwise).
    Submitting never runs anything here: the job row is already committed, so a job whose task
    is lost can always be re-submitted (`DreamService.retry`, `recover_interrupted`).
    """

    def __init__(self, app: Celery, *, queue: str | None = None) -> None:
        self.app = app
        self.queue = queue or app.conf.task_default_queue

    @classmethod
    def from_settings(cls, settings: Settings, *, queue: str | None = None) -> CeleryRunner:
        """A runner on a Celery app built from `settings` (broker `settings.redis_url`)."""
        return cls(make_celery_app(settings), queue=queue)

    def submit(self, job_id: int) -> None:
        """Queue the job for a worker."""
        result = self.app.send_task(RUN_JOB, args=[job_id], queue=self.queue)
        log.info("job %s: queued on %s as task %s", job_id, self.queue, result.id)

    def close(self) -> None:
        """Release broker connections; queued jobs stay queued for the workers."""
        self.app.close()
