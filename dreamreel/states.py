"""The job state machine: the states, the moves allowed between them, and the one function that
moves a job and records why.

    received -> planned -> approved -> rendering -> stitching -> done
                       \\-> in_review --(moderator approves)--> approved
                       |             \\-(moderator rejects)---> rejected
                       \\-> blocked   (the same two decisions)
    any working state -> failed (error kept; running it again re-enters the state it failed in)
    done, or failed after moderation -> approved (a scene is re-rolled)

Every state write goes through `transition`, which refuses a move the table does not allow and
writes the state, `updated_at` and the `state` event row (the progress feed and the audit log) in
the caller's session; the caller publishes the row after the commit.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy.orm import Session

from dreamreel.errors import InvalidTransition
from dreamreel.payloads import StateData
from storage.models import Event, Job, utcnow
from storage.repos import add_event

log = logging.getLogger(__name__)


class JobState(StrEnum):
    RECEIVED = "received"
    PLANNED = "planned"
    APPROVED = "approved"
    IN_REVIEW = "in_review"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    RENDERING = "rendering"
    STITCHING = "stitching"
    DONE = "done"
    FAILED = "failed"


# a step of the pipeline runs from each of these; a crash leaves a job in one of them
WORKING_STATES: frozenset[JobState] = frozenset(
    {JobState.RECEIVED, JobState.PLANNED, JobState.APPROVED, JobState.RENDERING, JobState.STITCHING}
)
# refused by the content policy: the job waits for a moderator to approve or reject it
MODERATED_STATES: frozenset[JobState] = frozenset({JobState.IN_REVIEW, JobState.BLOCKED})
REFUSED_STATES = MODERATED_STATES  # what a user is told: no video unless a moderator overrides
FINAL_STATES: frozenset[JobState] = frozenset({JobState.DONE, JobState.FAILED, JobState.REJECTED})
# states in which the job stops and waits for someone (moderator, retry)
RESTING_STATES: frozenset[JobState] = FINAL_STATES | MODERATED_STATES
# states of a job whose content passed moderation: its scenes may be rendered (again)
PASSED_MODERATION: frozenset[JobState] = frozenset({JobState.APPROVED, JobState.RENDERING, JobState.STITCHING})

S = JobState
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.RECEIVED: frozenset({S.PLANNED, S.FAILED}),
    S.PLANNED: frozenset({S.APPROVED, S.IN_REVIEW, S.BLOCKED, S.FAILED}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED}),
    S.BLOCKED: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.RENDERING, S.FAILED}),
    S.RENDERING: frozenset({S.STITCHING, S.FAILED}),
    S.STITCHING: frozenset({S.DONE, S.FAILED}),
    S.DONE: frozenset({S.APPROVED}),  # re-roll a scene
    S.FAILED: WORKING_STATES | {S.APPROVED},  # retry where it failed; re-roll a scene
    S.REJECTED: frozenset(),
}
del S


def can_move(current: str, to: JobState) -> bool:
    return to in TRANSITIONS[JobState(current)]


def transition(s: Session, job: Job, to: JobState, message: str, data: StateData | None = None) -> Event:
    """Move `job` to `to` in session `s`: the state, `updated_at` and a `state` event row saying
    `message` (with `data`). Raises InvalidTransition for a move the table does not allow.
    Returns the event row; publish it after the commit."""
    if not can_move(job.state, to):
        raise InvalidTransition(f"job {job.id} is {job.state}; it cannot become {to}")
    log.info("job %s: %s -> %s (%s)", job.id, job.state, to, message)
    job.state = to
    job.updated_at = utcnow()
    return add_event(s, job.id, StateData.kind, message, state=to, data=(data or StateData()).dump())
