"""`dreamreel quality score` and `dreamreel quality eval`, run as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.helpers import FAST_PREVIEW, run_cli
from tests.lora_training_helpers import write_settings
from tests.quality_clips import pan_frames, write_clip
from tests.tiny_models.fixtures import TinyModels, tiny_models_fixture  # noqa: F401
from tests.tiny_models.quality import build_clip, build_videomae

SCORE_KEYS = {"frames", "fps", "sharpness", "temporal", "color", "clip_score", "overall"}


def benchmark_prompts() -> Path:
    """The benchmark prompts kept in the repository's data/ (a missing file fails the test)."""
    path = DATA / "t2v_prompts.jsonl"
    assert path.is_file(), f"{path} is missing (data/README.md)"
    return path


def env(**extra: str) -> dict[str, str]:
    return {**FAST_PREVIEW, "DREAMREEL_HOME": os.environ["DREAMREEL_HOME"], "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def quality_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quality-cli-models")
    return {"clip": build_clip(root), "videomae": build_videomae(root)}


def test_score_prints_the_scores_of_a_clip(tmp_path: Path, quality_models: dict[str, Path]) -> None:
    clip = write_clip(pan_frames(frames=12), tmp_path / "pan.mp4")
    proc = run_cli("quality", "score", str(clip), "--json", env=env())
    assert proc.returncode == 0, proc.stderr.decode()
    row = json.loads(proc.stdout)
    assert set(row) == SCORE_KEYS
    assert row["frames"] == 12 and row["clip_score"] is None and row["overall"] > 0.8

    with_clip = env(DREAMREEL_QUALITY__CLIP_MODEL=str(quality_models["clip"]))
    proc = run_cli("quality", "score", str(clip), "--prompt", "a woman in uniform", "--json", env=with_clip)
    assert proc.returncode == 0, proc.stderr.decode()
    scored = json.loads(proc.stdout)
    assert -1.0 <= scored["clip_score"] <= 1.0
    assert scored["overall"] == pytest.approx(row["overall"])

    proc = run_cli("quality", "score", str(clip), env=env())  # the human-readable form
    assert proc.returncode == 0 and b"overall" in proc.stdout and b"pass" in proc.stdout


def test_score_of_a_missing_or_broken_file_is_a_clear_usage_error(tmp_path: Path) -> None:
    proc = run_cli("quality", "score", str(tmp_path / "nope.mp4"), env=env())
    assert proc.returncode == 2 and b"no such file" in proc.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    proc = run_cli("quality", "score", str(junk), env=env())
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr


def test_eval_on_five_benchmark_prompts_writes_both_reports(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    proc = run_cli(
        "quality", "eval", "--prompts", str(benchmark_prompts()), "--limit", "5", "--out", str(out), env=env()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"5/5" in proc.stderr  # the progress bar reached the end
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    (base,) = report["sets"]
    assert report["preset"] == "preview" and report["count"] == 5
    assert base["summary"]["clips"] == 5 and len(base["clips"]) == 5
    prompts = [json.loads(line)["prompt"] for line in benchmark_prompts().read_text().splitlines()[:5]]
    assert [c["prompt"] for c in base["clips"]] == prompts
    for clip in base["clips"]:
        assert Path(clip["clip"]).is_file()
        assert (
            set(clip["quality"]) == SCORE_KEYS and clip["passed"] is True
        )  # preview cards pass the defaults
    assert base["summary"]["passed"] == 5 and base["summary"]["clipsim"] is None
    assert html.count('class=strip alt="frames of clip') == 5  # a thumbnail strip per prompt
    assert html.count("<svg") == 4  # sharpness, temporal, colour, overall (no CLIP score)
    assert "A storm trooper vacuuming the beach." in html or prompts[0] in html


def test_eval_with_clip_and_a_reference_set_reports_clipsim_and_fvd(
    tmp_path: Path, quality_models: dict[str, Path]
) -> None:
    reference = tmp_path / "reference"
    for i in range(3):
        write_clip(pan_frames(step=2 + i, frames=8), reference / f"ref-{i}.mp4")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(json.dumps({"prompt": p}) for p in ("a whale in the sky", "a red door", "rain"))
    )
    models = env(
        DREAMREEL_QUALITY__CLIP_MODEL=str(quality_models["clip"]),
        DREAMREEL_QUALITY__FVD_MODEL=str(quality_models["videomae"]),
        DREAMREEL_QUALITY__MIN_CLIP_SCORE="1.0",  # no clip can reach it: every clip fails, by name
    )
    out = tmp_path / "eval"
    proc = run_cli(
        "quality",
        "eval",
        "--prompts",
        str(prompts),
        "--reference",
        str(reference),
        "--out",
        str(out),
        "--json",
        "-q",
        env=models,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"rendering" not in proc.stderr  # -q: no progress bar
    report = json.loads(proc.stdout)
    assert report == json.loads((out / "report.json").read_text(encoding="utf-8"))
    summary = report["sets"][0]["summary"]
    scores = [c["quality"]["clip_score"] for c in report["sets"][0]["clips"]]
    assert summary["clipsim"] == pytest.approx(sum(scores) / 3, abs=1e-4)
    assert summary["fvd"] is not None and summary["fvd"] > 0
    assert "VideoMAE" in report["models"]["fvd_features"]
    assert summary["passed"] == 0
    assert all(c["failures"][0] == "clip_score" for c in report["sets"][0]["clips"])
    assert 'class="fail"' in (out / "report.html").read_text(encoding="utf-8")


def test_eval_rejects_bad_prompts_and_options_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{"text": "no prompt key"}\n')
    out = str(tmp_path / "out")
    proc = run_cli("quality", "eval", "--prompts", str(bad), "--out", out, env=env())
    assert proc.returncode == 2 and b"bad.jsonl:2" in proc.stderr
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "fine"}\n')
    proc = run_cli("quality", "eval", "--prompts", str(good), "--out", out, "--lora", "fear=/x", env=env())
    assert proc.returncode == 2 and b"diffusers preset" in proc.stderr
    proc = run_cli(
        "quality", "eval", "--prompts", str(good), "--out", out, "--reference", str(tmp_path), env=env()
    )
    assert proc.returncode == 1 and b"quality.fvd_model" in proc.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_eval_compares_the_same_prompts_and_seeds_with_and_without_a_lora(
    tiny_models: TinyModels, tmp_path: Path
) -> None:
    config = write_settings(tmp_path / "dreamreel.toml", tiny_models, "wan")  # [video] preset = "tiny-wan"
    lora = tiny_models.lora("wan", "fear", seed=5)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "a dark forest"}\n{"prompt": "a falling man"}\n')
    out = tmp_path / "eval"
    proc = run_cli(
        "quality", "eval", "--prompts", str(prompts), "--out", str(out), "--lora", f"fear={lora}", "--json",
        env=env(DREAMREEL_CONFIG=str(config)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    base, with_lora = report["sets"]
    assert with_lora["lora"] == {"emotion": "fear", "path": str(lora)}
    assert [c["seed"] for c in base["clips"]] == [c["seed"] for c in with_lora["clips"]] == [1000, 1001]
    assert [c["prompt"] for c in base["clips"]] == [c["prompt"] for c in with_lora["clips"]]
    # the adapter changes the pixels (same seeds): the comparison is of two different videos
    from tests.tiny_models.fixtures import read_frames

    a, b = (read_frames(Path(s["clips"][0]["clip"])) for s in (base, with_lora))
    assert a.shape == b.shape == (9, 16, 16, 3) and (a != b).any()
    delta = with_lora["summary"]["mean"]["overall"] - base["summary"]["mean"]["overall"]
    assert report["comparison"]["overall_delta"] == pytest.approx(delta, abs=1e-3)
    assert "lora fear minus base" in (out / "report.html").read_text(encoding="utf-8")
