"""The event bus delivers each event once, whichever of the two ways reaches it first."""

from __future__ import annotations

from datetime import UTC, datetime

from dreamreel.events import EventBus
from dreamreel.views import EventView
from storage.models import Event


def test_an_event_the_relay_delivered_first_is_not_delivered_again_by_its_writer() -> None:
    # The writer commits, then publishes; a relay polling the table in between (a loaded machine)
    # delivers the row first. Subscribers must still hear of it once (one callback, one video).
    bus = EventBus()
    heard: list[int] = []
    bus.subscribe(lambda view: heard.append(view.id))
    row = Event(id=14, job_id=1, kind="state", state="done", progress=None, message="video ready", data={},
                created_at=datetime.now(UTC))
    bus.deliver_external([EventView(id=14, job_id=1, kind="state", state="done", progress=None,
                                    message="video ready", data={}, created_at=row.created_at)])
    bus.publish([row])
    assert heard == [14]
    bus.publish([row])  # and the relay's later re-read window is skipped as before
    assert heard == [14]
