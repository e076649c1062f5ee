"""`dreamreel lora prepare | train`: from generated videos to a LoRA the service renders with.

Tiny random pipelines built at test time (tests/tiny_models), 16x16 clips of 9 frames, 30 steps.
The CLI runs in-process through `dreamreel.cli.main` with a settings file, as a user runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dreamreel import cli
from tests.helpers import cli_json
from tests.lora_training_helpers import make_sources, write_settings
from tests.tiny_models.fixtures import TinyModels, read_frames, tiny_models_fixture  # noqa: F401

FEAR_DIARY = "어젯밤 꿈에서 괴물이 나를 쫓아왔다. 너무 무서워서 계속 도망쳤다."


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["lora", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sources(tmp_path_factory.mktemp("lora_sources"))


def prepare(capsys: pytest.CaptureFixture[str], src: Path, out: Path, family: str = "wan") -> dict:
    code, stdout, err = run(
        capsys, "prepare", str(src), "--out", str(out), "--family", family,
        "--width", "16", "--height", "16", "--frames", "9", "--fps", "8", "--json",
    )  # fmt: skip
    assert code == 0, err
    return json.loads(stdout)


def test_prepare_cuts_windows_crops_the_centre_keeps_rgb_and_skips_bad_videos(
    sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = prepare(capsys, sources, tmp_path / "data")
    assert report["clips"] == 4  # night_chase: 2 windows (20 frames), b: 1, red_room: 1
    skipped = {s["source"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"broken.mp4", "short.mp4"}
    assert "shorter than 9 frames" in skipped["short.mp4"]
    assert skipped["broken.mp4"].startswith("cannot read broken.mp4: ") and "[" not in skipped["broken.mp4"]

    rows = [json.loads(line) for line in (tmp_path / "data" / "metadata.jsonl").read_text().splitlines()]
    by_source = {(r["source"], r["start"]): r for r in rows}
    assert by_source[("night_chase.mp4", 0.0)]["caption"] == "a red corridor, something green runs past"
    assert by_source[("night_chase.mp4", 1.125)]["caption"] == "a red corridor, something green runs past"
    assert by_source[("b.mp4", 0.0)]["caption"] == "red fog"  # from captions.jsonl
    assert by_source[("red_room.mp4", 0.0)]["caption"] == "red room"  # from the file name
    info = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert (info["width"], info["height"], info["frames"], info["fps"]) == (16, 16, 9, 8)

    for row in rows:
        frames = read_frames(tmp_path / "data" / row["file"])
        assert frames.shape == (9, 16, 16, 3)
        mean = frames.reshape(-1, 3).mean(axis=0)
        # Red scene stays red (RGB, not BGR); the blue side bands were outside the centre crop.
        assert mean[0] > 150, mean
        assert mean[2] < 40, mean
    # the green bar moves: consecutive frames differ
    first = read_frames(tmp_path / "data" / rows[0]["file"]).astype(int)
    assert np.abs(np.diff(first, axis=0)).mean() > 1

    # Preparing into the same folder again would mix old clips (and their cached latents) with
    # new ones: refused, and the dataset is left as it was.
    before = (tmp_path / "data" / "metadata.jsonl").read_text()
    code, _, err = run(capsys, "prepare", str(sources), "--out", str(tmp_path / "data"), "--width", "16",
                       "--height", "16", "--frames", "9", "--fps", "8")  # fmt: skip
    assert code == 2 and "already holds a prepared dataset" in err
    assert (tmp_path / "data" / "metadata.jsonl").read_text() == before


def test_the_latent_cache_key_changes_with_the_clips_and_their_captions(tmp_path: Path) -> None:
    from generation.training.cache import cache_key
    from generation.training.dataset import ClipRecord, DatasetInfo

    info = DatasetInfo(16, 16, 9, 8, "wan")
    clips = [ClipRecord("clips/000000.mp4", "red fog", "a.mp4", 0.0)]
    recaptioned = [ClipRecord("clips/000000.mp4", "blue fog", "a.mp4", 0.0)]
    key = cache_key(tmp_path, "wan", info, clips, 16, "float32")
    assert key == cache_key(tmp_path, "wan", info, list(clips), 16, "float32")
    assert key != cache_key(tmp_path, "wan", info, recaptioned, 16, "float32")
    assert key != cache_key(tmp_path, "wan", info, [*clips, *recaptioned], 16, "float32")
    assert key != cache_key(tmp_path, "wan", info, clips, 32, "float32")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty", "holds no videos"),
        ("too_short", "no usable clips"),
        ("bad_size", "width 30 is not a multiple of 16"),
        ("bad_frames", "10 frames: wan takes frame counts of the form 4k+1"),
    ],
)
def test_prepare_refuses_bad_input_with_one_message_and_exit_2(
    case: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.lora_training_helpers import write_source_video

    src = tmp_path / "src"
    src.mkdir()
    args = ["--width", "16", "--height", "16", "--frames", "9", "--fps", "8"]
    if case == "too_short":
        write_source_video(src / "a.mp4", 5)
        write_source_video(src / "b.mp4", 8)
    elif case == "bad_size":
        args[1] = "30"
    elif case == "bad_frames":
        args[5] = "10"
    code, _, err = run(capsys, "prepare", str(src), "--out", str(tmp_path / "data"), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert expected in lines[-1]
    assert len(lines) == 1, lines  # one refusal (naming each skipped video and why)
    assert not (tmp_path / "data" / "metadata.jsonl").exists()


def test_train_refuses_an_untrainable_family_and_a_dataset_of_the_wrong_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sources: Path
) -> None:
    config = tmp_path / "dreamreel.toml"
    config.write_text(
        '[presets.svd]\nfamily = "svd"\nmodel = "/nowhere/svd"\nkeyframe_model = "/nowhere/sd"\n'
        '[presets.wan]\nfamily = "wan"\nmodel = "/nowhere/wan"\nwidth = 16\nheight = 16\nnum_frames = 9\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DREAMREEL_CONFIG", str(config))
    base = ["--emotion", "fear", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--steps", "2"]
    code, out, err = run(capsys, "train", "--preset", "svd", *base, "--json")
    assert code == 2
    assert "family 'svd' cannot be trained" in err
    assert json.loads(out)["error"]["code"] == "invalid_input"
    assert json.loads(out)["error"]["message"] in err
    code, out, err = run(capsys, "train", "--preset", "wan", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "usage"
    assert "the following arguments are required: --emotion, --data, --out" in err

    # A dataset cut for AnimateDiff (multiples of 8, any frame count) does not fit Wan's rules.
    code, _, err = run(
        capsys, "prepare", str(sources), "--out", str(tmp_path / "data"), "--family", "animatediff",
        "--width", "24", "--height", "24", "--frames", "10", "--fps", "8",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "train", "--preset", "wan", *base)
    assert code == 2
    assert "width 24 is not a multiple of 16" in err and "10 frames" in err
    code, _, err = run(capsys, "train", "--preset", "wan", *base[:-2], "--epochs", "1", "--emotion", "bliss")
    assert code == 2
    assert "unknown emotion 'bliss'" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def wan_run(
    tiny_models: TinyModels, sources: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """One uninterrupted 30-step Wan run with checkpoints every 15 steps (shared by the tests below)."""
    root = tmp_path_factory.mktemp("wan_run")
    return _train_family(tiny_models, sources, root, "wan")


def _train_family(tiny: TinyModels, sources: Path, root: Path, family: str) -> dict[str, object]:
    config = write_settings(root / "dreamreel.toml", tiny, family)
    os.environ["DREAMREEL_CONFIG"] = str(config)  # module-scoped: monkeypatch is per test
    argv = ["lora", "train", "--preset", f"tiny-{family}", "--emotion", "fear", "--data", str(root / "data"),
            "--rank", "8", "--lr", "1e-2", "--steps", "30", "--batch", "2", "--grad-accum", "2",
            "--checkpoint-every", "15", "--seed", "7", "--json"]  # fmt: skip
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(
                ["lora", "prepare", str(sources), "--out", str(root / "data"), "--preset", f"tiny-{family}",
                 "--frames", "9", "--fps", "8"]
            )  # fmt: skip
        assert code == 0
        with contextlib.redirect_stdout(out):
            code = cli.main([*argv, "--out", str(root / "full")])
        assert code == 0
        result = json.loads(out.getvalue())
    finally:
        del os.environ["DREAMREEL_CONFIG"]
    return {"root": root, "config": config, "argv": argv, "result": result}


@pytest.mark.parametrize("family", ["wan", "cogvideox"])
def test_training_lowers_the_loss_and_a_resumed_run_reaches_the_same_weights(
    family: str,
    wan_run: dict,
    tiny_models: TinyModels,
    sources: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from safetensors.torch import load_file

    run_info = wan_run if family == "wan" else _train_family(tiny_models, sources, tmp_path, family)
    result, root = run_info["result"], Path(run_info["root"])
    full = root / "full"
    assert set(result) >= {"out", "steps", "first_loss", "last_loss", "seconds"}
    assert result["steps"] == 30
    assert result["last_loss"] < 0.9 * result["first_loss"], result
    log = [json.loads(line) for line in (full / "training_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == list(range(1, 31))
    assert log[-1]["lr"] < log[1]["lr"]  # cosine decay

    # Interrupted after step 15: only that checkpoint and the log so far survive; --resume finishes.
    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-000030")
    (resumed / "pytorch_lora_weights.safetensors").unlink()
    monkeypatch.setenv("DREAMREEL_CONFIG", str(run_info["config"]))
    code, out, err = run(capsys, *run_info["argv"][1:], "--out", str(resumed), "--resume")
    assert code == 0, err
    again = json.loads(out)
    assert again["resumed_from"] == 15
    assert again["last_loss"] == pytest.approx(result["last_loss"], rel=1e-6)
    want = load_file(full / "pytorch_lora_weights.safetensors")
    got = load_file(resumed / "pytorch_lora_weights.safetensors")
    assert set(want) == set(got) and len(want) > 0
    for key in want:
        np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), atol=1e-6, rtol=1e-5)
    assert (resumed / "training_log.jsonl").read_text() == (full / "training_log.jsonl").read_text()
    # and the checkpoint is not just the final weights: it differs from them
    at15 = load_file(full / "checkpoints" / "step-000015" / "pytorch_lora_weights.safetensors")
    assert any(not np.allclose(at15[k].numpy(), want[k].numpy()) for k in want)

    # Resuming with other settings, or training over a finished run, is refused.
    code, _, err = run(capsys, *run_info["argv"][1:], "--out", str(resumed), "--resume", "--lr", "1e-3")
    assert code == 2 and "started with other settings (lr: 0.01 -> 0.001)" in err
    code, _, err = run(capsys, *run_info["argv"][1:], "--out", str(resumed))
    assert code == 2 and "already holds a training run" in err


def test_the_trained_lora_loads_through_the_registry_in_a_real_job_and_changes_the_frames(
    wan_run: dict, tiny_models: TinyModels, tmp_path: Path
) -> None:
    import tomllib

    from generation.base import ClipSpec, ClipStyle
    from generation.diffusers_backend import DiffusersBackend

    lora = Path(wan_run["root"]) / "full"
    config = write_settings(tmp_path / "dreamreel.toml", tiny_models, "wan", loras={"fear": lora})
    env = {"DREAMREEL_CONFIG": str(config), "DREAMREEL_HOME": os.environ["DREAMREEL_HOME"], "HF_HUB_OFFLINE": "1"}
    # no narration: the clip is the model's 9 frames (narration would hold the last frame longer)
    code, job = cli_json("dream", FEAR_DIARY, "--segments", "1", "--no-narration", env=env)
    assert code == 0, job
    segment = job["segments"][0]
    assert segment["emotion"] == "fear"
    assert segment["lora"] == {"name": "fear", "weight": 1.0}
    clip = Path(segment["clip"])
    if not clip.is_absolute():
        clip = Path(os.environ["DREAMREEL_HOME"]) / "media" / clip
    rendered = read_frames(clip).astype(int)

    from dreamreel.settings import DEFAULT_STYLES

    style = DEFAULT_STYLES["fear"]
    # the clip the job kept (the quality gate may have rendered the scene again with another seed)
    kept = next(a for a in segment["attempts"] if a["kept"])
    spec = ClipSpec(
        index=0, prompt=kept["prompt"], caption="", emotion="fear", seed=kept["seed"],
        width=16, height=16, num_frames=9, fps=8,
        style=ClipStyle(prompt_suffix=style.prompt_suffix, negative_prompt=style.negative_prompt),
    )  # fmt: skip
    base = DiffusersBackend.from_settings("tiny-wan", tomllib.loads(config.read_text())["presets"])  # no [loras]: the base model
    base.render_clip(spec, tmp_path / "base.mp4")
    without = read_frames(tmp_path / "base.mp4").astype(int)
    assert np.abs(rendered - without).mean() > 1.0  # the LoRA changed the job's frames

    settings = tomllib.loads(config.read_text())
    styled = DiffusersBackend.from_settings("tiny-wan", settings["presets"], settings["loras"])
    styled.render_clip(spec, tmp_path / "styled.mp4")
    assert np.array_equal(read_frames(tmp_path / "styled.mp4").astype(int), rendered)


@pytest.mark.parametrize("family", ["animatediff", "ltx"])
def test_a_few_steps_on_the_other_families_give_a_lora_the_backend_loads_and_renders_with(
    family: str, tiny_models: TinyModels, sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from generation.base import ClipSpec
    from generation.diffusers_backend import DiffusersBackend

    config = write_settings(tmp_path / "dreamreel.toml", tiny_models, family)
    monkeypatch.setenv("DREAMREEL_CONFIG", str(config))
    code, _, err = run(capsys, "prepare", str(sources), "--out", str(tmp_path / "data"), "--preset",
                       f"tiny-{family}", "--frames", "9", "--fps", "8")  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, "train", "--preset", f"tiny-{family}", "--emotion", "sadness", "--data",
                         str(tmp_path / "data"), "--out", str(tmp_path / "lora"), "--steps", "2", "--lr", "1e-2",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["steps"] == 2

    table = tiny_models.preset_table(family)
    spec = ClipSpec(index=0, prompt="a grey beach", caption="", emotion="sadness", seed=3,
                    width=table["width"], height=table["height"], num_frames=9, fps=8)  # fmt: skip
    base = DiffusersBackend.from_settings("p", {"p": table}).render_frames(spec)
    styled = DiffusersBackend.from_settings(
        "p", {"p": table}, {family: {"sadness": {"path": str(tmp_path / "lora"), "weight": 1.0}}}
    )
    frames = styled.render_frames(spec)
    assert styled.switcher.loaded == ["sadness"]
    assert np.abs(frames - base).mean() > 1e-3


def test_eval_reports_own_and_other_emotion_shifts_quality_and_an_html_report(
    wan_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DREAMREEL_CONFIG", str(wan_run["config"]))
    lora = str(Path(wan_run["root"]) / "full")
    base = ["eval", "--preset", "tiny-wan", "--emotion", "fear", "--lora", lora, "--prompts", "1", "--json"]
    code, out, err = run(capsys, *base, "--out", str(tmp_path / "report"))
    assert code == 0, err
    report = json.loads(out)
    assert report["own_shift"] > 1e-3 and report["other_shift"] > 1e-3  # the LoRA changes renders
    assert report["selectivity"] == pytest.approx(report["own_shift"] / report["other_shift"])
    prompts = report["prompts"]
    assert [p["emotion"] for p in prompts] == ["fear", "sadness", "joy", "anger", "surprise", "disgust", "neutral"]
    assert report["own_shift"] == pytest.approx(prompts[0]["shift"])
    assert report["other_shift"] == pytest.approx(np.mean([p["shift"] for p in prompts[1:]]))
    quality = report["quality"]
    for which in ("base", "lora"):
        assert set(quality[which]) == {"sharpness", "temporal", "color", "overall"}
        assert all(0.0 <= v <= 1.0 for v in quality[which].values())
    assert quality["held"] == (quality["lora"]["overall"] >= quality["base"]["overall"] - 0.05)
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<img src='data:image/png;base64,") == 14  # base and LoRA frames per prompt
    assert json.loads((tmp_path / "report" / "eval.json").read_text()) == report

    # Control: at weight 0 the adapter is loaded but does nothing, so every shift is exactly 0.
    code, out, err = run(capsys, *base, "--weight", "0", "--out", str(tmp_path / "zero"))
    assert code == 0, err
    zero = json.loads(out)
    assert zero["own_shift"] == 0.0 and zero["other_shift"] == 0.0
    assert zero["quality"]["held"] is True

    code, _, err = run(capsys, *base[:-1], "--lora", str(tmp_path / "missing"))
    assert code == 2 and "no LoRA at" in err


def test_ctrl_c_during_training_says_how_to_resume_not_how_to_resume_a_job(wan_run: dict, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import REPO

    out = tmp_path / "interrupted"
    argv = [a for a in wan_run["argv"][1:] if a != "--json"]
    argv[argv.index("--steps") + 1] = "100000"
    argv[argv.index("--checkpoint-every") + 1] = "3"
    env = {**os.environ, "DREAMREEL_CONFIG": str(wan_run["config"]), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dreamreel.cli", "lora", *argv, "--out", str(out)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell runs background jobs with SIGINT ignored, and a child inherits that: Python then
        # never raises KeyboardInterrupt. A terminal's Ctrl-C is what is tested, so restore it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 240
    # Any checkpoint will do: at ~80 tiny steps a second a given one (step-000003) is rotated away
    # within milliseconds of being written, and polling for it by name missed it.
    while not any((out / "checkpoints").glob("step-*/state.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("dreamreel lora: interrupted; the same command with --resume continues"), last
    assert "jobs run" not in err


def test_epochs_become_optimizer_steps_and_every_epoch_visits_every_clip_once() -> None:
    from generation.diffusers_backend import parse_preset
    from generation.training.trainer import DataOrder, TrainConfig

    preset = parse_preset("p", {"family": "wan", "model": "/nowhere", "width": 16, "height": 16, "num_frames": 9})
    config = TrainConfig(preset=preset, emotion="fear", data=Path("d"), out=Path("o"), epochs=3, batch=2, grad_accum=2)
    assert config.total_steps(clips=10, processes=1) == 8  # ceil(3 * 10 / 4)
    assert config.total_steps(clips=10, processes=2) == 4  # two GPUs share each step's clips

    order = DataOrder(5, seed=3)
    stream = [order.at(k) for k in range(15)]
    for epoch in range(3):
        assert sorted(stream[epoch * 5 : epoch * 5 + 5]) == [0, 1, 2, 3, 4]
    assert stream[:5] != stream[5:10]  # reshuffled each epoch
    assert [DataOrder(5, seed=3).at(k) for k in range(12, 15)] == stream[12:]  # a pure function of k
    # two processes take disjoint halves of one micro-batch position
    assert order.batch(0, 0, 2, 2) + order.batch(0, 1, 2, 2) == stream[:4]


def test_prepare_names_each_skipped_video_once_on_stderr(sources: Path, tmp_path: Path) -> None:
    from tests.helpers import run_cli

    proc = run_cli("lora", "prepare", str(sources), "--out", str(tmp_path / "data"), "--width", "16",
                   "--height", "16", "--fps", "8")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.decode().strip().splitlines()
    assert sorted(lines) == [
        "dreamreel lora: skipped broken.mp4: cannot read broken.mp4: "
        "Error opening input files: Invalid data found when processing input",
        "dreamreel lora: skipped short.mp4: shorter than 9 frames at 8 fps (1.12 s)",
    ]
    assert proc.stdout.decode().strip() == f"4 clips from 3 videos in {tmp_path / 'data'}"
