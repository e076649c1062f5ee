"""The runner interface: hand a job id to whatever runs jobs. Workers take ids, not payloads."""

from __future__ import annotations

from typing import Protocol


class JobRunner(Protocol):
    def submit(self, job_id: int) -> None:
        """Arrange for the job to run (now, in a thread, or on a worker). Never raises for job errors."""
        ...

    def close(self) -> None:
        """Stop accepting work and let running work finish."""
        ...
