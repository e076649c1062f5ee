"""A whole `dreamreel dream` run on a real (tiny, random) Wan pipeline with emotion LoRAs.

The settings file points at a tiny saved pipeline and tiny LoRAs; the CLI runs in a fresh process
with HF_HUB_OFFLINE=1, exactly as a user with downloaded weights would run it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dreamreel.settings import DEFAULT_STYLES
from generation.audio.base import wav_speech
from generation.base import ClipSpec, ClipStyle
from generation.diffusers_backend import DiffusersBackend
from tests.helpers import cli_json
from tests.tiny_models.fixtures import TinyModels, read_frames, tiny_models_fixture  # noqa: F401

DIARY = "어젯밤 꿈에서 괴물이 나를 쫓아왔다. 너무 무서워서 계속 도망쳤다. 그리고 엄마가 멀리 떠나서 혼자 슬프게 울었다."
EMOTIONS = ["fear", "sadness", "joy", "anger", "surprise", "disgust"]


def write_config(tiny: TinyModels, path: Path) -> None:
    lines = [
        "[video]",
        'preset = "tiny-wan"',
        "",
        "[postprocess]",  # raw model clips, so they can be compared with a direct render
        "captions_for_model_backends = false",
        "",
        "[presets.tiny-wan]",
        'family = "wan"',
        f'model = "{tiny.model("wan")}"',
        "width = 16",
        "height = 16",
        "num_frames = 9",
        "fps = 8",
        "steps = 2",
        "guidance = 2.0",
        "max_sequence_length = 16",
        "",
    ]
    for seed, emotion in enumerate(EMOTIONS, start=1):
        lines += [
            f"[loras.wan.{emotion}]",
            f'path = "{tiny.lora("wan", emotion, seed=seed)}"',
            f"weight = 0.{seed + 3}",
            f'prompt_suffix = "{emotion} style"',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def test_dream_renders_every_scene_with_the_tiny_model_and_its_emotion_lora(
    tiny_models: TinyModels, tmp_path: Path
) -> None:
    config = tmp_path / "dreamreel.toml"
    write_config(tiny_models, config)
    env = {
        "DREAMREEL_CONFIG": str(config),
        "DREAMREEL_HOME": os.environ["DREAMREEL_HOME"],
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    code, result = cli_json("dream", DIARY, "--segments", "2", env=env)
    assert code == 0, result
    assert result["status"] == "done"
    segments = result["segments"]
    assert len(segments) == 2
    weights = {e: round(0.1 * (i + 4), 1) for i, e in enumerate(EMOTIONS, start=0)}
    for seg in segments:
        assert seg["preset"] == "tiny-wan"
        emotion = seg["emotion"] if isinstance(seg["emotion"], str) else seg["emotion"]["label"]
        if emotion in weights:
            assert seg["lora"] == {"name": emotion, "weight": pytest.approx(weights[emotion])}
        else:  # neutral has no LoRA: adapters disabled
            assert seg["lora"] is None
    video = Path(result["video"])
    if not video.is_absolute():
        video = Path(os.environ["DREAMREEL_HOME"]) / "media" / video
    frames = read_frames(video)
    assert frames.shape[1:] == (16, 16, 3)
    # each 9-frame model clip holds its last frame until its scene's narration is said
    home = Path(os.environ["DREAMREEL_HOME"]) / "media"
    clips = [Path(c) if Path(c).is_absolute() else home / c for c in result["clips"]]
    held = [read_frames(c).shape[0] for c in clips]
    narrations = sorted(video.parent.glob("narration-*.wav"))
    assert len(narrations) == 2
    for count, narration in zip(held, narrations, strict=True):
        assert count > 9 and count / 8 >= wav_speech(narration).duration  # 8 fps
    assert frames.shape[0] == sum(held)  # nothing dropped by the stitcher

    # The stored seed, prompt, preset and LoRA reproduce the job's clip outside the service.
    import tomllib

    settings = tomllib.loads(config.read_text(encoding="utf-8"))
    backend = DiffusersBackend.from_settings("tiny-wan", settings["presets"], settings["loras"])
    seg = segments[0]
    clip = Path(seg["clip"])
    if not clip.is_absolute():
        clip = Path(os.environ["DREAMREEL_HOME"]) / "media" / clip
    style = DEFAULT_STYLES[seg["emotion"]]  # the style table also gives the negative prompt
    spec = ClipSpec(
        index=0, prompt=seg["prompt"], caption="", emotion=seg["emotion"], seed=seg["seed"],
        width=16, height=16, num_frames=9, fps=8,
        style=ClipStyle(prompt_suffix=style.prompt_suffix, negative_prompt=style.negative_prompt),
    )  # fmt: skip
    again = backend.render_clip(spec, tmp_path / "again.mp4")
    assert again.frames == 9
    # the model's frames are kept as rendered (the held tail is added by stream copy)
    assert np.array_equal(read_frames(tmp_path / "again.mp4"), read_frames(clip)[:9])


def test_scenes_sharing_an_emotion_render_in_one_batched_call(tiny_models: TinyModels, tmp_path: Path) -> None:
    """With max_batch > 1 the pipeline hands scenes of one emotion to `render_batch` together."""
    import json
    import sqlite3

    config = tmp_path / "dreamreel.toml"
    write_config(tiny_models, config)
    text = config.read_text(encoding="utf-8").replace(
        "max_sequence_length = 16\n", "max_sequence_length = 16\nmax_batch = 4\n"
    )
    config.write_text(text, encoding="utf-8")
    env = {"DREAMREEL_CONFIG": str(config), "DREAMREEL_HOME": os.environ["DREAMREEL_HOME"], "HF_HUB_OFFLINE": "1"}
    diary = "I was walking on a quiet beach. The sand was warm. The sea was calm and grey."
    code, result = cli_json("dream", diary, "--segments", "3", env=env)
    assert code == 0 and result["status"] == "done", result
    emotions = [seg["emotion"] for seg in result["segments"]]
    assert len(result["clips"]) == 3 and all(Path(c).is_file() for c in result["clips"])
    db = sqlite3.connect(Path(os.environ["DREAMREEL_HOME"]) / "dreamreel.db")
    batches = [
        json.loads(data)["batch"]
        for (data,) in db.execute("select data from events where kind='progress' and progress=0.0 and state='rendering'")
    ]
    # one render call per emotion: scenes of the same emotion went together
    assert sorted(len(b) for b in batches) == sorted(emotions.count(e) for e in dict.fromkeys(emotions))
    assert sorted(i for b in batches for i in b) == [0, 1, 2]
