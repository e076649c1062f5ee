"""Runners decide where a job runs: in this process (the default) or on Celery workers."""

from dreamreel.runners.base import JobRunner
from dreamreel.runners.inprocess import InProcessRunner

__all__ = ["InProcessRunner", "JobRunner"]
