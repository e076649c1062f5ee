"""The job pipeline and the service facade, on real SQLite, real files and real ffmpeg."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dreamreel.errors import DiaryTooLong, EmptyDiary, InvalidTransition, NotFound, NotText, UnsupportedScript
from dreamreel.service import DreamService
from dreamreel.settings import load_settings
from dreamreel.views import EventView, JobOptions
from dreamreel.wiring import build_service
from generation.base import ClipInfo, ClipSpec, ProgressFn, VideoBackend
from generation.probe import probe_video
from storage import repos
from tests.helpers import fast_env

KO_DREAM = (
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다. "
    "고래 뱃속에는 어릴 적 살던 집이 있었고, 엄마가 저녁을 차리고 계셨다."
)
BLOCKED = "In the dream I tortured my neighbor, cut off his fingers one by one and watched him bleed out."
SELF_HARM = "꿈속에서 아파트 옥상 난간에 서 있었고, 그냥 뛰어내리고 싶다는 생각이 들었다. 아래에서 누군가 내 이름을 부르는 소리에 깼다."


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Any:
    fast_env(monkeypatch)
    svc = build_service(load_settings())
    yield svc
    svc.close()


def test_korean_dream_becomes_a_stitched_video_with_every_step_recorded(service: DreamService) -> None:
    seen: list[EventView] = []
    service.subscribe(seen.append)
    job = service.submit_diary(KO_DREAM, user="u1", options=JobOptions(segments=3), run=False)
    assert job.status == "received"

    view = service.run_job(job.job_id)

    assert view.status == "done", view.error
    assert view.language == "ko"
    assert len(view.segments) == 3 and len(view.clips) == 3
    # the scenes are the diary's own words, in order, covering all of it
    assert "".join(s.text for s in view.segments).replace(" ", "") == KO_DREAM.replace(" ", "")
    for seg in view.segments:
        assert seg.prompt and seg.prompt.isascii()
        assert seg.emotion in {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
        assert Path(seg.clip or "").is_file()
    video = probe_video(Path(view.video or ""))
    clips = [probe_video(Path(c)) for c in view.clips]
    assert video.frames == sum(c.frames for c in clips)
    assert video.width == 128 and video.height == 72

    detail = service.get_job(job.job_id, detail=True)
    states = [e.state for e in detail.events or [] if e.kind == "state"]
    assert states == ["received", "planned", "approved", "rendering", "stitching", "done"]
    assert detail.diary == KO_DREAM
    # subscribers saw the same persisted rows, progress included
    assert [e.id for e in seen] == [e.id for e in detail.events or []]
    assert any(e.kind == "progress" and "scene 3 of 3" in e.message for e in seen)


def test_a_job_renders_the_dream_without_a_moment_left_out_and_says_so(service: DreamService) -> None:
    """A sexual moment in an ordinary dream is left out of the video, not the dream (tests/test_withheld.py)."""
    from tests.test_withheld import LOVE, ORDINARY, diary

    text = diary(*ORDINARY[:3], LOVE, *ORDINARY[3:])
    job = service.submit_diary(text, user="w1", options=JobOptions(segments=3), run=False)
    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    assert view.verdict is not None and view.verdict.decision == "allow"
    assert LOVE in [w.text for w in view.verdict.withheld]
    assert len(view.segments) == 3 and len(view.clips) == 3
    for seg in view.segments:
        assert "love" not in seg.text and "love" not in (seg.prompt or "").lower()
    detail = service.get_job(job.job_id, detail=True)
    assert detail.diary == text  # the diary is kept as written
    planned = [e for e in detail.events or [] if e.kind == "state" and e.state == "planned"]
    assert planned and planned[0].data.get("withheld") == 3
    assert "3 sentence(s) left out" in planned[0].message


def test_refused_diary_is_saved_queued_and_approve_turns_it_into_a_video(service: DreamService) -> None:
    job = service.submit_diary(BLOCKED, user="u2", run=False)
    view = service.run_job(job.job_id)
    assert view.status == "blocked"
    assert view.video is None and view.clips == []
    assert view.verdict and view.verdict.decision == "block"
    reason = view.verdict.reasons[0]
    assert reason.span is not None and BLOCKED[reason.span.start : reason.span.end] == reason.span.text

    queue = service.moderation_queue()
    assert [r.job_id for r in queue] == [job.job_id]
    assert queue[0].diary == BLOCKED

    view = service.approve(job.job_id, moderator="mod-1", note="fiction", prompts={0: "a quiet kitchen at night"})
    assert view.status == "done"
    assert view.segments[0].prompt == "a quiet kitchen at night"
    assert service.moderation_queue() == []
    decided = service.moderation_queue(include_decided=True)
    assert decided[0].status == "approved" and decided[0].moderator == "mod-1"
    with pytest.raises(InvalidTransition):
        service.approve(job.job_id, moderator="mod-1")


def test_self_harm_goes_to_review_and_reject_keeps_the_diary(service: DreamService) -> None:
    job = service.submit_diary(SELF_HARM, user="u3", run=False)
    view = service.run_job(job.job_id)
    assert view.status == "in_review"
    assert view.verdict and view.verdict.support_message
    with pytest.raises(Exception, match="note"):
        service.reject(job.job_id, moderator="m", note=" ")
    view = service.reject(job.job_id, moderator="m", note="needs a human conversation")
    assert view.status == "rejected"
    assert service.get_job(job.job_id, detail=True).diary == SELF_HARM


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", EmptyDiary),
        ("   \n\t ", EmptyDiary),
        ("꿈" * 100_000, DiaryTooLong),
        (b"\xff\xfe\x00\x01binary", NotText),
        ("Мне снилось, что я летаю над городом.", UnsupportedScript),
    ],
)
def test_bad_input_gets_a_clear_error_and_stores_nothing(
    service: DreamService, text: str | bytes, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        service.submit_diary(text, run=False)
    assert info.value.user_message("ko") and info.value.user_message("en")  # type: ignore[attr-defined]
    assert service.list_jobs() == []


def test_idempotency_key_returns_the_same_job(service: DreamService) -> None:
    a = service.submit_diary(KO_DREAM, user="u4", idempotency_key="k-1", run=False)
    b = service.submit_diary(KO_DREAM, user="u4", idempotency_key="k-1", run=False)
    assert a.job_id == b.job_id
    assert len(service.list_jobs()) == 1


def test_unknown_job_is_not_found(service: DreamService) -> None:
    with pytest.raises(NotFound):
        service.get_job(999)


class FlakyBackend(VideoBackend):
    """The real preview renderer, failing once on one scene (a model that crashes mid-job)."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, []
        self.name = inner.name

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        self.calls.append(spec.index)
        if spec.index == self.fail_on and self.calls.count(spec.index) == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return self.inner.render_clip(spec, out_path, progress)


def test_failure_is_kept_and_retry_resumes_without_rerendering(service: DreamService) -> None:
    flaky = FlakyBackend(service.pipeline.components.backend, fail_on=1)
    service.pipeline.components.backend = flaky
    job = service.submit_diary(KO_DREAM, user="u5", options=JobOptions(segments=3), run=False)

    view = service.run_job(job.job_id)
    assert view.status == "failed"
    assert "out of memory" in (view.error or "")
    assert len(view.clips) == 1  # scene 0 finished before the failure and is kept
    first_clip = Path(view.clips[0])
    mtime = first_clip.stat().st_mtime_ns

    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    assert flaky.calls == [0, 1, 1, 2]  # scene 0 was not rendered again
    assert first_clip.stat().st_mtime_ns == mtime
    states = [e.state for e in service.events(job.job_id) if e.kind == "state"]
    assert states[-5:] == ["rendering", "failed", "rendering", "stitching", "done"]


def test_reroll_renders_one_scene_again_and_restitches(service: DreamService) -> None:
    job = service.submit_diary(KO_DREAM, user="u6", options=JobOptions(segments=2), run=False)
    view = service.run_job(job.job_id)
    old_seed = view.segments[1].seed
    keep = Path(view.clips[0]).stat().st_mtime_ns
    view = service.reroll_segment(job.job_id, 1, seed=old_seed + 1)
    assert view.status == "done"
    assert view.segments[1].seed == old_seed + 1
    assert Path(view.clips[0]).stat().st_mtime_ns == keep


def test_background_runner_returns_at_once_and_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)
    svc = build_service(load_settings(), background=True)
    try:
        job = svc.submit_diary(KO_DREAM, user="u7")
        assert job.status in {"received", "planned", "approved", "rendering"}
        done = svc.wait(job.job_id, timeout=120)
        assert done.status == "done"
    finally:
        svc.close()


def test_first_requests_of_a_new_user_racing_create_one_user(service: DreamService) -> None:
    import threading

    errors: list[BaseException] = []

    def submit(i: int) -> None:
        try:
            service.submit_diary(f"I dreamt of a red door number {i}.", channel="api", user="racer", run=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    jobs = service.list_jobs(channel="api", user="racer")
    assert len(jobs) == 6


def test_a_dry_run_rests_after_planning_and_survives_recovery(service: DreamService) -> None:
    job = service.submit_diary(KO_DREAM, user="u8", run=False)
    assert service.plan_job(job.job_id).status == "planned"
    assert service.recover_interrupted() == []  # a restart does not render a dry run
    assert service.get_job(job.job_id).status == "planned"
    assert service.run_job(job.job_id).status == "done"  # asked to run, it goes on from its plan


def test_interrupted_jobs_are_recovered(service: DreamService) -> None:
    job = service.submit_diary(KO_DREAM, user="u9", run=False)
    assert service.recover_interrupted() == [job.job_id]
    assert service.get_job(job.job_id).status == "done"


def test_a_job_runs_in_one_process_at_a_time(service: DreamService) -> None:
    """A second runner is refused while the lease is held; a lease of a dead process is taken over."""
    import socket

    from dreamreel.errors import JobBusy
    from storage.models import Job

    job = service.submit_diary(KO_DREAM, user="u10", run=False)
    with service.db.session() as s:
        row = s.get(Job, job.job_id)
        assert row is not None
        row.lease_owner = f"{socket.gethostname()}:1:other"  # pid 1 is alive: a live holder
        row.lease_until = row.created_at.replace(year=2999)
    with pytest.raises(JobBusy, match="another process"):
        service.run_job(job.job_id)
    assert service.get_job(job.job_id).status == "received"

    with service.db.session() as s:
        row = s.get(Job, job.job_id)
        assert row is not None
        row.lease_owner = f"{socket.gethostname()}:{2**22 + 12345}:gone"  # no such process
    assert service.run_job(job.job_id).status == "done"
    with service.db.session() as s:
        row = s.get(Job, job.job_id)
        assert row is not None and row.lease_owner is None  # released when the job rests


def test_lease_bookkeeping_does_not_move_a_jobs_updated_at(service: DreamService) -> None:
    """`updated_at` is when the job last changed for its reader; claiming, renewing and releasing
    the runner's lease are not changes. (Releasing the lease after `done` bumped it, so a client
    that read the job as done saw it change again a few ms later: tests/test_api.py flaked.)"""
    from dreamreel.lease import JobLease
    from storage.models import Job

    job = service.submit_diary(KO_DREAM, user="u11", run=False)
    view = service.run_job(job.job_id)
    assert view.status == "done"
    done_at = service.get_job(job.job_id).updated_at

    lease = JobLease(service.db)
    time.sleep(0.01)
    lease.claim(job.job_id)
    with service.db.session() as s:
        lease.renew(s, job.job_id)
        row = s.get(Job, job.job_id)
        assert row is not None and row.lease_owner == lease.owner
    lease.release(job.job_id)
    with service.db.session() as s:
        row = s.get(Job, job.job_id)
        assert row is not None and row.lease_owner is None
    assert service.get_job(job.job_id).updated_at == done_at


def test_same_idempotency_key_racing_gives_one_job_and_no_error(service: DreamService) -> None:
    import threading

    results: list[int] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            results.append(service.submit_diary(KO_DREAM, user="u11", idempotency_key="same", run=False).job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 5


def test_blocked_prompts_are_stored_softened_for_a_moderator_override(service: DreamService) -> None:
    from agent.safety.rewrite import has_gore_words

    job = service.submit_diary(BLOCKED, user="u12", run=False)
    view = service.run_job(job.job_id)
    assert view.status == "blocked"
    assert not any(has_gore_words(seg.prompt) for seg in view.segments)


MINORS = "I dreamt I had sex with a 12-year-old girl in a dark classroom."


def test_an_approved_minors_block_never_reaches_the_model_as_written(service: DreamService) -> None:
    """Gore was softened for an override, sexual content next to a child was not (issue 10)."""
    from agent.safety.rewrite import has_sexual_or_minor_words

    rendered: list[str] = []
    backend = service.pipeline.components.backend
    render_batch = backend.render_batch

    def recording(specs: Any, *args: Any, **kwargs: Any) -> list[ClipInfo]:
        rendered.extend(spec.prompt for spec in specs)  # what the model is asked to draw
        return render_batch(specs, *args, **kwargs)

    backend.render_batch = recording  # type: ignore[method-assign]
    job = service.submit_diary(MINORS, user="u12m", run=False)
    view = service.run_job(job.job_id)
    assert view.status == "blocked" and {"minors", "sexual"} <= {r.category for r in view.verdict.reasons}
    assert not any(has_sexual_or_minor_words(seg.prompt) for seg in view.segments)
    assert service.renderable_prompts(view) == [seg.prompt for seg in view.segments]  # the page shows these

    # the moderator types the original scene back in: it is softened the same way
    service.approve(job.job_id, moderator="mod", prompts={0: "a naked 12-year-old girl having sex in bed"})
    done = service.run_job(job.job_id)
    assert done.status == "done", done.error
    assert rendered and not any(has_sexual_or_minor_words(prompt) for prompt in rendered), rendered
    assert "shadowy figure" in done.segments[0].prompt


def test_reroll_is_refused_for_a_job_that_never_passed_moderation(service: DreamService) -> None:
    job = service.submit_diary(BLOCKED, user="u13", run=False)
    service.run_job(job.job_id)
    with pytest.raises(InvalidTransition):
        service.reroll_segment(job.job_id, 0)


def test_a_long_lived_process_hears_of_jobs_other_processes_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot/API (background) follows events another process writes, e.g. a CLI approval."""
    fast_env(monkeypatch)
    listener = build_service(load_settings(), background=True)
    other = build_service(load_settings())  # another process: its own bus, same database
    try:
        seen: list[EventView] = []
        listener.subscribe(seen.append)
        job = other.submit_diary(KO_DREAM, user="u14", run=False)
        assert other.run_job(job.job_id).status == "done"
        deadline = time.monotonic() + 10
        while not any(e.state == "done" for e in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        states = [e.state for e in seen if e.kind == "state" and e.job_id == job.job_id]
        assert states == ["received", "planned", "approved", "rendering", "stitching", "done"]
    finally:
        listener.close()
        other.close()


def _wait_for_state(seen: list[EventView], job_id: int, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(e.job_id == job_id and e.state == state for e in seen) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_named_consumer_hears_after_a_restart_what_happened_while_it_was_stopped(
    database: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bot/API keep their place in the event feed: a job that rests while they are stopped
    is still announced when they start again; a brand-new consumer starts at the newest event."""
    fast_env(monkeypatch)
    overrides = {"database_url": request.getfixturevalue("postgres_url")} if database == "postgres" else {}
    x, y = f"x-{uuid.uuid4().hex[:8]}", f"y-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared
    other = build_service(load_settings(**overrides))  # the process that runs jobs (CLI, a worker)
    try:
        old = other.submit_diary(KO_DREAM, user="u15", run=False)  # before "x" ever started
        first = build_service(load_settings(**overrides), background=True, consumer=x)
        first.subscribe(lambda event: None)
        first.close()  # "x" is stopped while the job runs
        job = other.submit_diary(KO_DREAM, user="u15", run=False)
        assert other.run_job(job.job_id).status == "done"

        heard: dict[str, list[EventView]] = {x: [], y: []}
        again = build_service(load_settings(**overrides), background=True, consumer=x)
        fresh = build_service(load_settings(**overrides), background=True, consumer=y)
        try:
            again.subscribe(heard[x].append)
            fresh.subscribe(heard[y].append)
            _wait_for_state(heard[x], job.job_id, "done")
            states = [e.state for e in heard[x] if e.kind == "state" and e.job_id == job.job_id]
            assert states == ["received", "planned", "approved", "rendering", "stitching", "done"]
            assert not any(e.job_id == old.job_id for e in heard[x])  # from before "x" first started
            time.sleep(0.3)  # a few polls: "y" is new, so the finished job is history to it
            assert not any(e.job_id in (old.job_id, job.job_id) for e in heard[y])
        finally:
            again.close()
            fresh.close()

        with other.db.session() as s:  # each consumer's place is stored, and never moves back
            stored = repos.get_cursor(s, x)
            assert stored is not None and stored <= repos.latest_event_id(s)
            repos.advance_cursor(s, x, stored - 1)
            assert repos.get_cursor(s, x) == stored
            assert repos.get_cursor(s, "nobody") is None
    finally:
        other.close()
