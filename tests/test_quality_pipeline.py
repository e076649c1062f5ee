"""The quality gate in real jobs: re-renders, the best attempt kept, scores wherever people look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.simplify import SIMPLE_SUFFIX
from dreamreel.service import DreamService
from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service
from tests.helpers import fast_env

KO_DREAM = (
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다. "
    "고래 뱃속에는 어릴 적 살던 집이 있었고, 엄마가 저녁을 차리고 계셨다."
)
UNREACHABLE = {"DREAMREEL_QUALITY__MIN_SHARPNESS": "1.0"}  # v / (v + 60) never reaches 1


def service_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> DreamService:
    fast_env(monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return build_service(load_settings())


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Any:
    svc = service_with(monkeypatch, **UNREACHABLE)
    yield svc
    svc.close()


def test_a_clip_no_render_can_pass_is_tried_max_attempts_times_and_the_job_still_finishes(
    strict: DreamService,
) -> None:
    job = strict.submit_diary(KO_DREAM, user="q1", options=JobOptions(segments=2), run=False)
    view = strict.run_job(job.job_id)
    assert view.status == "done", view.error
    assert view.video and Path(view.video).is_file()
    for seg in view.segments:
        assert [a.attempt for a in seg.attempts] == [1, 2, 3]
        assert len({a.seed for a in seg.attempts}) == 3 and seg.attempts[0].seed == seg.seed
        assert seg.attempts[0].prompt == seg.attempts[1].prompt == seg.prompt
        assert seg.attempts[2].prompt.endswith(SIMPLE_SUFFIX)  # the second retry asks for less
        kept = [a for a in seg.attempts if a.kept]
        assert len(kept) == 1
        # the kept attempt is the best one (all fail sharpness alone: the highest overall wins)
        assert kept[0].quality.overall == max(a.quality.overall for a in seg.attempts)
        assert seg.quality is not None and seg.quality.overall == kept[0].quality.overall
        assert seg.quality.passed is False and seg.quality.failures == ["sharpness"]
        assert all(a.quality.failures == ["sharpness"] for a in seg.attempts)
        clip = Path(seg.clip or "")
        assert clip.is_file() and not list(clip.parent.glob("*.attempt-*"))  # the losers are gone
    events = strict.events(job.job_id)
    retries = [e.message for e in events if e.kind == "progress" and "attempt" in e.message]
    assert any("attempt 2 of 3 (sharpness under the bar): new seed" in m for m in retries), retries
    assert any("attempt 3 of 3 (sharpness under the bar): new seed, simpler prompt" in m for m in retries)
    told = [e for e in events if e.kind == "quality"]
    assert len(told) == 2 and all("kept the best of 3 renders" in e.message for e in told)
    assert all(e.data["rerolls"] == 2 and e.data["passed"] is False for e in told)


def test_with_the_gate_off_the_first_render_is_kept_and_still_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service_with(monkeypatch, DREAMREEL_QUALITY__GATE="false", **UNREACHABLE)
    try:
        job = svc.submit_diary(KO_DREAM, user="q2", options=JobOptions(segments=1), run=False)
        view = svc.run_job(job.job_id)
    finally:
        svc.close()
    assert view.status == "done"
    (seg,) = view.segments
    assert [(a.attempt, a.kept) for a in seg.attempts] == [(1, True)]
    assert seg.quality is not None and seg.quality.failures == ["sharpness"]


def test_a_reroll_forgets_the_scene_s_attempts_and_is_judged_afresh(strict: DreamService) -> None:
    job = strict.submit_diary(KO_DREAM, user="q3", options=JobOptions(segments=2), run=False)
    strict.run_job(job.job_id)
    view = strict.reroll_segment(job.job_id, 1, seed=4242)
    assert view.status == "done"
    assert view.segments[1].attempts[0].seed == 4242
    assert len(view.segments[1].attempts) == 3
    assert len(view.segments[0].attempts) == 3  # the other scene keeps its record


def test_scores_show_in_the_api_the_metrics_and_the_moderator_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_api_moderation import signed_in
    from tests.test_api_support import CALM_DIARY, api_env, running_api

    api_env(monkeypatch, **UNREACHABLE, DREAMREEL_QUALITY__MAX_ATTEMPTS="2")
    with running_api() as api, api.client() as client:
        posted = client.post(
            "/v1/diaries", json={"text": CALM_DIARY, "user": "q5", "segments": 1}
        )
        assert posted.status_code == 202, posted.text
        job_id = posted.json()["job_id"]
        assert api.service.wait(job_id, 120).status == "done"
        job = client.get(f"/v1/jobs/{job_id}").json()
        (seg,) = job["segments"]
        assert seg["quality"]["passed"] is False and seg["quality"]["failures"] == ["sharpness"]
        assert [a["attempt"] for a in seg["attempts"]] == [1, 2]
        assert sum(a["kept"] for a in seg["attempts"]) == 1
        metrics = client.get("/metrics").text
        assert 'dreamreel_clip_quality_bucket{le="+Inf"} 1' in metrics
        assert "dreamreel_quality_rerolls_total 1" in metrics
        with signed_in(api) as browser:
            page = browser.get(f"/moderation/jobs/{job_id}").text
        assert f"{seg['quality']['overall']:.2f}" in page
        assert "below threshold: sharpness" in page
