"""Events are the progress feed and the audit log: every row is persisted, then published to
in-process subscribers (the bot's status message, the API's server-sent events and callbacks)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from dreamreel.payloads import EventData
from dreamreel.views import EventView, event_view
from storage import repos
from storage.db import Database
from storage.models import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[EventView], None]
_RECENT_MAX = 10_000
_REREAD_WINDOW = 200  # event ids below the newest seen that are read again (late commits)
_CATCH_UP = 100  # a poll that found this many new events reads again without waiting


class EventBus:
    """Writes event rows and calls subscribers after the rows are committed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._recent: deque[int] = deque()  # ids published here, so the relay does not repeat them
        self._recent_ids: set[int] = set()

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
        message: str,
        data: EventData,
        *,
        state: str | None = None,
        progress: float | None = None,
    ) -> Event:
        """Add an event row of `data`'s kind to the session; `publish` it after the commit."""
        return repos.add_event(s, job_id, data.kind, message, state=state, progress=progress, data=data.dump())

    def take(self, s: Session) -> list[Event]:
        """The rows added through this session so far (publish them once it has committed)."""
        return repos.take_new_events(s)

    def publish(self, rows: list[Event]) -> None:
        """Deliver committed rows written by this process, each once: the relay may have read a
        row from the table between the commit and this call, and delivered it already."""
        views = [event_view(row) for row in rows]
        with self._lock:
            if self._subscribers:  # heard by nobody yet (start-up): the relay may deliver them later
                views = [v for v in views if v.id not in self._recent_ids]
                self._remember(views)
        self.deliver(views)

    def deliver_external(self, views: list[EventView]) -> None:
        """Deliver rows other processes wrote, each once; rows already delivered are skipped."""
        with self._lock:
            fresh = [v for v in views if v.id not in self._recent_ids]
            self._remember(fresh)
        self.deliver(fresh)

    def _remember(self, views: list[EventView]) -> None:
        for view in views:
            self._recent.append(view.id)
            self._recent_ids.add(view.id)
        while len(self._recent) > _RECENT_MAX:
            self._recent_ids.discard(self._recent.popleft())

    def deliver(self, views: list[EventView]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for view in views:
            for callback in subscribers:
                try:
                    callback(view)
                except Exception:  # a broken listener must never break a job
                    log.exception("event subscriber failed for job %s", view.job_id)


class EventRelay:
    """Delivers events that other processes wrote (jobs run by Celery workers) to this
    process's subscribers, by following the events table. Started on first use; one thread.

    With `save`, the relay is a durable consumer: after each delivery it saves the id up to which
    everything has been delivered (the newest id seen less the re-read window, so a late commit is
    not skipped), and a restarted process starts after it. Events in that window are delivered
    again after a restart: consumers skip what they already did (at least once, never lost)."""

    def __init__(
        self,
        fetch: Callable[[int], list[EventView]],
        bus: EventBus,
        start_after: int,
        interval: float = 0.5,
        save: Callable[[int], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._bus = bus
        self._last_id = start_after
        self._floor = start_after
        self._saved = start_after
        self._save = save
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="dreamreel-event-relay", daemon=True)
            self._thread.start()

    def poll_once(self) -> int:
        """Deliver every event not delivered yet; returns how many new ids it saw.

        Ids are handed out at insert but transactions commit in any order (PostgreSQL), so a
        trailing window below the newest id is read again; the bus delivers each id once.
        """
        after = max(self._floor, self._last_id - _REREAD_WINDOW)  # nothing from before start-up
        views = self._fetch(after)
        newest = max((v.id for v in views), default=self._last_id)
        fresh = newest - self._last_id if newest > self._last_id else 0
        self._last_id = max(self._last_id, newest)
        self._bus.deliver_external(views)
        cursor = max(self._floor, self._last_id - _REREAD_WINDOW)
        if self._save is not None and cursor > self._saved:
            self._save(cursor)
            self._saved = cursor
        return fresh

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                # at once again only while behind; otherwise wait: re-reading the late-commit window
                # in a tight loop took a quarter of a busy API process's CPU (bench_api)
                while self.poll_once() >= _CATCH_UP:
                    pass
            except Exception:  # the database may be briefly unavailable; keep following
                log.exception("event relay could not read new events")
            self._stop.wait(self._interval)


@contextmanager
def publishing(db: Database, bus: EventBus) -> Iterator[Session]:
    """A unit of work: a session that commits on success, after which the event rows added
    through it are published (subscribers never hear of a change that was rolled back)."""
    with db.session() as s:
        yield s
        rows = bus.take(s)
    bus.publish(rows)
