"""Events are the progress feed and the audit log: every row is persisted, then published to
in-process subscribers (the bot's status message, the API's server-sent events and callbacks)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from dreamreel.views import EventView
from storage.models import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[EventView], None]
_PENDING = "dreamreel.pending_events"


def event_view(row: Event) -> EventView:
    return EventView(
        id=row.id,
        job_id=row.job_id,
        kind=row.kind,
        state=row.state,
        progress=row.progress,
        message=row.message,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


class EventBus:
    """Writes event rows and calls subscribers after the rows are committed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def add(
        self,
        s: Session,
        job_id: int,
        kind: str,
        message: str,
        *,
        state: str | None = None,
        progress: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        """Add an event row to the session; `publish` it after the commit."""
        row = Event(job_id=job_id, kind=kind, state=state, progress=progress, message=message, data=data or {})
        s.add(row)
        s.info.setdefault(_PENDING, []).append(row)
        return row

    def take(self, s: Session) -> list[Event]:
        """The rows added through this session so far (publish them once it has committed)."""
        rows: list[Event] = s.info.pop(_PENDING, [])
        return rows

    def publish(self, rows: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for row in rows:
            view = event_view(row)
            for callback in subscribers:
                try:
                    callback(view)
                except Exception:  # a broken listener must never break a job
                    log.exception("event subscriber failed for job %s", view.job_id)
