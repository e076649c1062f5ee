"""Event payloads: one model per kind, stored as exactly the fields the writer set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dreamreel.payloads import CallbackData, DeliveryData, ProgressData, StateData
from dreamreel.views import EventView


def event(kind: str, data: dict[str, object]) -> EventView:
    return EventView(id=1, job_id=2, kind=kind, state=None, progress=None, message="m", data=data,
                     created_at=datetime.now(UTC))


def test_a_payload_stores_the_fields_set_and_reads_back_typed() -> None:
    decided = StateData(moderator="web:mina", note=None)
    assert decided.dump() == {"moderator": "web:mina", "note": None}  # an explicit None is said
    assert StateData().dump() == {}
    assert ProgressData(scene=0, scenes=3, batch=[0, 2]).dump() == {"scene": 0, "scenes": 3, "batch": [0, 2]}
    read = CallbackData.of(event("callback", {"url": "https://x.test/h", "attempt": 2, "state": "done",
                                              "delivery": "d1", "ok": True, "status": 200, "error": None}))
    assert (read.ok, read.status, read.attempt) == (True, 200, 2)


def test_reading_an_event_as_another_kind_is_refused_and_unknown_fields_are_kept() -> None:
    with pytest.raises(ValueError, match="is a progress event, not delivery"):
        DeliveryData.of(event("progress", {"scene": 1}))
    newer = StateData.of(event("state", {"channel": "api", "added_later": 1}))
    assert newer.channel == "api" and newer.dump() == {"channel": "api", "added_later": 1}
