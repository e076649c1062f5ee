"""The quality gate's parts: retry specs, simpler prompts, more steps, and where scores are shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.simplify import SIMPLE_SUFFIX, simplify_prompt
from generation.base import ClipSpec
from generation.quality import QualityGate, Thresholds


def spec(**changes: object) -> ClipSpec:
    base = ClipSpec(
        index=1, prompt="Three wolves chasing a girl through a burning city while the sky explodes",
        caption="", emotion="fear", seed=1234, width=16, height=16, num_frames=9, fps=8,
    )  # fmt: skip
    return ClipSpec(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_simplified_prompts_keep_the_scene_with_fewer_subjects_and_less_action() -> None:
    simple = simplify_prompt("Three wolves chasing a girl through a burning city while the sky explodes")
    assert simple == f"wolves following a girl through a burning city, {SIMPLE_SUFFIX}"
    assert simplify_prompt(simple) == simple  # idempotent: a third retry does not stack suffixes
    crowd = simplify_prompt("A crowd of people running quickly in the rain; thunder and lightning")
    assert crowd == f"people walking in the rain, {SIMPLE_SUFFIX}"
    # a short first fragment keeps the next clause, so the scene is still described
    assert simplify_prompt("Night, a whale swallows me").startswith("Night a whale swallows me")
    assert simplify_prompt("") == SIMPLE_SUFFIX


def test_retries_take_a_new_seed_then_a_simpler_prompt_and_more_steps() -> None:
    gate = QualityGate(Thresholds(), max_attempts=4, retry_steps_factor=1.5)
    first = spec()
    assert gate.retry_spec(first, 1, simplify_prompt) == first
    second, third, fourth = (gate.retry_spec(first, n, simplify_prompt) for n in (2, 3, 4))
    assert second.prompt == first.prompt and second.seed != first.seed
    assert second.steps_factor == 1.5
    assert third.prompt == simplify_prompt(first.prompt) and third.seed not in (first.seed, second.seed)
    assert len({first.seed, second.seed, third.seed, fourth.seed}) == 4
    assert all(0 <= s.seed < 2**31 - 1 for s in (second, third, fourth))
    # reproducible: the same scene gets the same retries
    assert gate.retry_spec(first, 3, simplify_prompt) == third
    # neighbouring scenes' retries do not collide with each other's seeds
    other = gate.retry_spec(spec(seed=1235), 2, simplify_prompt)
    assert other.seed not in (second.seed, third.seed, fourth.seed)


def test_a_diffusers_retry_with_a_steps_factor_runs_more_denoising_steps() -> None:
    from generation.diffusers_backend import DiffusersBackend

    table = {"family": "wan", "model": "org/model", "width": 16, "height": 16, "num_frames": 9, "steps": 4}
    backend = DiffusersBackend.from_settings("w", {"w": table})
    assert backend.plan(spec()).preset.steps == 4
    assert backend.plan(spec(steps_factor=1.5)).preset.steps == 6
    assert backend.plan(spec(steps_factor=1.01)).preset.steps == 4  # rounds, never below the preset


def test_the_gate_judges_a_clip_file(tmp_path: Path) -> None:
    from tests.quality_clips import pan_frames, write_clip

    clip = write_clip(pan_frames(frames=8), tmp_path / "pan.mp4")
    quality, failures = QualityGate(Thresholds()).judge(clip, "a photograph")
    assert failures == [] and quality.clip_score is None and quality.overall > 0.8
    strict = QualityGate(Thresholds(min_sharpness=0.999, min_color=0.99))
    assert strict.judge(clip, "a photograph")[1] == ["sharpness", "color"]


def test_metrics_count_quality_scores_and_rerolls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.metrics import JobMetrics
    from dreamreel.payloads import QualityData
    from dreamreel.views import EventView
    from dreamreel.wiring import build_service

    service = build_service()
    metrics = JobMetrics(service)
    now = datetime.now(UTC)
    for n, (overall, rerolls) in enumerate([(0.85, 0), (0.42, 2), (0.95, 1)]):
        metrics.observe(
            EventView(
                id=n,
                job_id=1,
                kind="quality",
                state="rendering",
                progress=None,
                message="",
                data=QualityData(  # as the pipeline writes it
                    scene=n, scenes=3, attempts=rerolls + 1, rerolls=rerolls, kept=1, passed=overall >= 0.5,
                    failures=[] if overall >= 0.5 else ["sharpness"], quality={"overall": overall},
                ).dump(),
                created_at=now,
            )
        )
    text = metrics.render()
    assert 'dreamreel_clip_quality_bucket{le="0.5"} 1' in text
    assert 'dreamreel_clip_quality_bucket{le="0.9"} 2' in text
    assert 'dreamreel_clip_quality_bucket{le="+Inf"} 3' in text
    assert "dreamreel_clip_quality_count 3" in text
    assert "dreamreel_clip_quality_sum 2.2200" in text
    assert "dreamreel_quality_rerolls_total 3" in text
    service.close()


def test_the_bot_caption_of_a_clip_tells_its_quality_and_renders() -> None:
    from bot.delivery import clip_quality_line
    from dreamreel.views import AttemptView, JobView, QualityView, SegmentView, SpanView

    def segment(index: int, quality: QualityView | None, attempts: int) -> SegmentView:
        return SegmentView(
            index=index, text="t", span=SpanView(start=0, end=1, text="t"), prompt="p", keywords=[],
            emotion="fear", style="fear", seed=1, quality=quality,
            attempts=[AttemptView(attempt=a + 1, seed=a, prompt="p", quality=quality, kept=a == 0)
                      for a in range(attempts)] if quality else [],
        )  # fmt: skip

    good = QualityView(frames=9, fps=8, sharpness=0.9, temporal=0.9, color=0.8, overall=0.866)
    weak = QualityView(frames=9, fps=8, sharpness=0.1, temporal=0.9, color=0.8, overall=0.41, passed=False,
                       failures=["sharpness"])  # fmt: skip
    now = datetime.now(UTC)
    job = JobView(
        job_id=7, status="done", language="ko", emotion="fear", video=None, channel="telegram", user="1",
        created_at=now, updated_at=now, segments=[segment(0, good, 1), segment(1, weak, 3), segment(2, None, 0)],
    )  # fmt: skip
    assert clip_quality_line(job, 0, "en") == "🎞 quality 0.87 · 1 render(s)"
    assert (
        clip_quality_line(job, 1, "en")
        == "🎞 quality 0.41, under the bar for sharpness: the best of 3 renders"
    )
    assert clip_quality_line(job, 1, "ko") == "🎞 품질 0.41, sharpness 기준 미달: 3번 렌더링 중 가장 나은 것"
    assert clip_quality_line(job, 2, "en") is None


def test_the_bot_status_line_says_when_a_scene_is_rendered_again() -> None:
    from bot.progress import status_text
    from dreamreel.views import EventView

    def progress(data: dict[str, object]) -> EventView:
        return EventView(
            id=1, job_id=3, kind="progress", state="rendering", progress=0.5, message="", data=data,
            created_at=datetime.now(UTC),
        )  # fmt: skip

    first = progress({"scene": 1, "scenes": 3, "attempt": 1, "max_attempts": 3})
    again = progress({"scene": 1, "scenes": 3, "attempt": 2, "max_attempts": 3})
    assert status_text("en", first) == "🎬 Rendering scene 2 of 3… 50%"
    assert status_text("en", again) == "🎬 Scene 2 of 3 again, for a better clip (try 2 of 3)… 50%"
    assert status_text("ko", again) == "🎬 더 나은 영상을 위해 장면 2/3 다시 그리는 중 (2/3번째)… 50%"
