"""Prometheus metrics (text exposition format 0.0.4): jobs by state, queue depths, render times,
clip quality scores and the quality gate's re-renders.

Jobs by state are counted by the database at each scrape (one GROUP BY over the indexed state
column), and pending reviews with one COUNT, so they are exact even when Celery workers in other
processes move the jobs. Render
seconds (from a job's first `rendering` event to its `stitching` event) and callback outcomes
come from this process's event feed, as do the clip quality scores and re-renders (one
`quality` event per kept scene clip, see dreamreel.pipeline).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from dreamreel.payloads import CallbackData, QualityData
from dreamreel.service import DreamService
from dreamreel.views import EventView, JobState

STATES: tuple[str, ...] = tuple(JobState)
QUEUED_STATES = ("received", "planned", "approved")  # waiting for the runner
RENDER_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
QUALITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class JobMetrics:
    """Keeps job states, render durations and callback outcomes; renders them as Prometheus text."""

    def __init__(self, service: DreamService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._render_started: dict[int, datetime] = {}
        self._render_counts = [0] * len(RENDER_BUCKETS)
        self._render_sum = 0.0
        self._render_total = 0
        self._callbacks: Counter[str] = Counter()
        self._quality_counts = [0] * len(QUALITY_BUCKETS)
        self._quality_sum = 0.0
        self._quality_total = 0
        self._rerolls = 0
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self.service.subscribe(self.observe)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def observe(self, event: EventView) -> None:
        """Update from one event (called from the worker thread)."""
        with self._lock:
            if event.kind == CallbackData.kind:
                self._callbacks["ok" if CallbackData.of(event).ok else "failed"] += 1
            if event.kind == QualityData.kind:
                self._observe_quality(QualityData.of(event))
            if event.kind != "state" or event.state is None:
                return
            if event.state == "rendering":
                self._render_started.setdefault(event.job_id, event.created_at)
            elif event.job_id in self._render_started and event.state in ("stitching", "failed"):
                started = self._render_started.pop(event.job_id)
                if event.state == "stitching":
                    self._observe_render((event.created_at - started).total_seconds())

    def _observe_render(self, seconds: float) -> None:
        self._render_sum += seconds
        self._render_total += 1
        for i, bound in enumerate(RENDER_BUCKETS):
            if seconds <= bound:
                self._render_counts[i] += 1

    def _observe_quality(self, kept: QualityData) -> None:
        """One kept clip (the pipeline's `quality` event): its overall score and its re-renders."""
        overall = kept.quality.get("overall")
        if isinstance(overall, int | float):
            self._quality_sum += float(overall)
            self._quality_total += 1
            for i, bound in enumerate(QUALITY_BUCKETS):
                if overall <= bound:
                    self._quality_counts[i] += 1
        self._rerolls += max(kept.rerolls, 0)

    def render(self) -> str:
        """The exposition text."""
        pending_reviews = self.service.pending_review_count()  # one COUNT, not every review loaded
        by_state = self.service.job_counts()
        with self._lock:
            lines = [
                "# HELP dreamreel_jobs Jobs by state.",
                "# TYPE dreamreel_jobs gauge",
                *(f'dreamreel_jobs{{state="{state}"}} {by_state.get(state, 0)}' for state in STATES),
                "# HELP dreamreel_queue_depth Jobs waiting for the runner (received, planned, approved).",
                "# TYPE dreamreel_queue_depth gauge",
                f"dreamreel_queue_depth {sum(by_state.get(s, 0) for s in QUEUED_STATES)}",
                "# HELP dreamreel_moderation_queue_depth Refused jobs waiting for a moderator.",
                "# TYPE dreamreel_moderation_queue_depth gauge",
                f"dreamreel_moderation_queue_depth {pending_reviews}",
                "# HELP dreamreel_render_seconds Time from the first clip render to stitching, per job.",
                "# TYPE dreamreel_render_seconds histogram",
                *(f'dreamreel_render_seconds_bucket{{le="{bound:g}"}} {count}'
                  for bound, count in zip(RENDER_BUCKETS, self._render_counts, strict=True)),
                f'dreamreel_render_seconds_bucket{{le="+Inf"}} {self._render_total}',
                f"dreamreel_render_seconds_sum {self._render_sum:.3f}",
                f"dreamreel_render_seconds_count {self._render_total}",
                "# HELP dreamreel_callbacks_total Callback delivery attempts by outcome.",
                "# TYPE dreamreel_callbacks_total counter",
                f'dreamreel_callbacks_total{{outcome="ok"}} {self._callbacks["ok"]}',
                f'dreamreel_callbacks_total{{outcome="failed"}} {self._callbacks["failed"]}',
                "# HELP dreamreel_clip_quality Overall quality score (0..1) of each kept scene clip.",
                "# TYPE dreamreel_clip_quality histogram",
                *(f'dreamreel_clip_quality_bucket{{le="{bound:g}"}} {count}'
                  for bound, count in zip(QUALITY_BUCKETS, self._quality_counts, strict=True)),
                f'dreamreel_clip_quality_bucket{{le="+Inf"}} {self._quality_total}',
                f"dreamreel_clip_quality_sum {self._quality_sum:.4f}",
                f"dreamreel_clip_quality_count {self._quality_total}",
                "# HELP dreamreel_quality_rerolls_total Scene clips rendered again by the quality gate.",
                "# TYPE dreamreel_quality_rerolls_total counter",
                f"dreamreel_quality_rerolls_total {self._rerolls}",
            ]
        return "\n".join(lines) + "\n"
