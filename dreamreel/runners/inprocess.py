"""The embedded default runner: jobs run in this process, durable through the database.

`background=False` runs the job inline in the caller (the CLI); `background=True` runs jobs one
at a time on a worker thread (the bot and API processes), so a request returns at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_STOP = -1


class InProcessRunner:
    def __init__(self, run_job: Callable[[int], object], *, background: bool = False) -> None:
        self._run_job = run_job
        self.background = background
        self._queue: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        if not self.background:
            self._safe_run(job_id)
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="dreamreel-runner", daemon=True)
                self._thread.start()
        self._queue.put(job_id)

    def pending(self) -> int:
        """Jobs waiting for the worker thread (the queue depth)."""
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id == _STOP:
                return
            self._safe_run(job_id)

    def _safe_run(self, job_id: int) -> None:
        try:
            self._run_job(job_id)
        except Exception:  # the pipeline records failures on the job; this is a last resort
            log.exception("job %s crashed outside the pipeline", job_id)
