"""Moderation: a job the content policy refuses waits in the moderators' queue with its reasons;
a moderator approves it (optionally with edited scene prompts) or rejects it with a note.

These functions work inside the caller's unit of work (`DreamService` opens it and publishes the
events after the commit); the pipeline's moderate step queues, the service's facade decides.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dreamreel.errors import InvalidTransition, NotFound
from dreamreel.payloads import StateData
from dreamreel.states import MODERATED_STATES, JobState, transition
from storage import repos
from storage.models import Job, ModerationReview, utcnow


def queue_for_review(s: Session, job: Job) -> None:
    """Put a refused job in the moderators' queue with its verdict and reasons."""
    s.add(ModerationReview(job_id=job.id, verdict=job.verdict, reasons=list(job.verdict_reasons), status="pending"))


def check_waiting(job: Job) -> None:
    if job.state not in MODERATED_STATES:
        raise InvalidTransition(f"job {job.id} is {job.state}, not waiting for a moderator")


def edit_prompts(s: Session, job: Job, prompts: dict[int, str]) -> None:
    """Replace the prompts of the given scenes (index -> prompt); a blank prompt keeps the old one."""
    for index, prompt in prompts.items():
        segment = repos.segment_for(s, job.id, int(index))
        if segment is None:
            raise NotFound(f"scene {index} of job {job.id}")
        if prompt.strip():
            segment.prompt = prompt.strip()


def decide(s: Session, job: Job, decision: JobState, moderator: str, note: str | None) -> None:
    """Record the moderator's decision on the job's review and move the job to `decision`
    (approved or rejected). Of two moderators deciding at once, one wins; the other gets
    InvalidTransition."""
    check_waiting(job)
    # claim the row with a conditional update first: the second decision waits for the first
    # and then finds the job decided
    if not repos.claim_state(s, job.id, MODERATED_STATES):
        raise InvalidTransition(f"job {job.id} was decided by someone else a moment ago")
    review = repos.open_review(s, job.id)
    if review is None:  # e.g. an override of a job without a pending review row
        review = ModerationReview(job_id=job.id, verdict=job.verdict or "review", reasons=[])
        s.add(review)
    review.status = decision
    review.moderator = moderator
    review.note = note
    review.decided_at = utcnow()
    transition(
        s, job, decision, f"{decision} by {moderator}" + (f": {note}" if note else ""),
        StateData(moderator=moderator, note=note),
    )
    if decision == JobState.REJECTED:
        job.finished_at = utcnow()
