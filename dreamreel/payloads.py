"""What an event's `data` holds, one pydantic model per event kind, shared by the pipeline and
service that write events and the bot and API that read them.

    state     a job moved (dreamreel.states.transition); which fields are set depends on the move
    progress  a step's progress (scene i of N, a batch, frames written)
    delivery  the bot sent a job's outcome to its chat (so it is never sent twice)
    callback  one attempt to POST a job to its callback URL
    rating    the user rated the video
    quality   the quality gate kept a scene's best attempt (docs/quality.md)
    info      something worth knowing that moves nothing (a start frame made, a photo added)

Writers pass a model; it is stored as the JSON of the fields they set (`dump`), so a row keeps
exactly what was said. Readers parse with `Kind.of(event)`. Unknown fields are kept (a row
written by a newer version still reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from dreamreel.views import EventView


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: ClassVar[str]

    @property
    def tells(self) -> str | None:
        """The resting state this event says was told to the person or app (None: it tells none)."""
        return None

    def dump(self) -> dict[str, Any]:
        """The JSON stored in the event row: the fields the writer set."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def of(cls, event: EventView) -> Self:
        """The data of `event`, which must be of this kind."""
        if event.kind != cls.kind:
            raise ValueError(f"event {event.id} is a {event.kind} event, not {cls.kind}")
        return cls.model_validate(event.data)


class StateData(EventData):
    kind = "state"

    channel: str | None = None  # received: where the diary came from
    planner: str | None = None  # planned: which planner made the plan
    support_message: bool | None = None  # planned: the user gets a support message (self-harm)
    withheld: int | None = None  # planned: this many sentences are left out of the video (content policy)
    moderator: str | None = None  # approved / rejected by a moderator
    note: str | None = None
    reroll: int | None = None  # approved again: the scene re-rolled ...
    seed: int | None = None  # ... with this seed
    failed_in: str | None = None  # failed: the state the step failed in (a retry re-enters it)
    video: str | None = None  # done: the stitched video
    photo: bool | None = None  # approved again: the dreamer's photo was added ...
    rerender: list[int] | None = None  # ... and these scenes render again from it


class InfoData(EventData):
    kind = "info"

    scene: int | None = None  # a scene's start frame was made ...
    start: str | None = None  # ... from this source (dreamreel.continuity)
    photo: bool | None = None  # the dreamer's photo was added


class ProgressData(EventData):
    kind = "progress"

    scene: int | None = None  # the (first) scene being rendered, 0-based
    scenes: int | None = None  # how many scenes the job has
    batch: list[int] | None = None  # the scenes rendered together in one backend call
    frames: int | None = None  # frames of the scene just rendered
    attempt: int | None = None  # the quality gate's attempt being rendered ...
    max_attempts: int | None = None  # ... of at most this many


class QualityData(EventData):
    kind = "quality"

    scene: int  # the scene whose clip was kept
    scenes: int
    attempts: int  # renders it took
    rerolls: int
    kept: int  # the attempt kept (the best)
    passed: bool  # it met every threshold
    failures: list[str]  # thresholds the kept attempt missed
    quality: dict[str, Any]  # its scores (docs/quality.md)


class DeliveryData(EventData):
    kind = "delivery"

    chat_id: int
    state: str  # the outcome sent
    event: int  # the resting-state event it answers

    @property
    def tells(self) -> str | None:
        return self.state


class CallbackData(EventData):
    kind = "callback"

    url: str
    attempt: int
    state: str  # the resting state the callback reports
    delivery: str  # one id for all attempts of one callback (X-DreamReel-Delivery)
    ok: bool = False
    status: int | None = None  # the receiver's HTTP status, when it answered
    error: str | None = None

    @property
    def tells(self) -> str | None:
        return self.state if self.ok else None  # told only once the receiver took it


class RatingData(EventData):
    kind = "rating"

    rating: str  # up | down
    user: str
    channel: str
