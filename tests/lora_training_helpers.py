"""Source videos and settings files for the LoRA training tests (made at test time, no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from generation.ffmpeg import open_h264_writer
from tests.tiny_models.fixtures import TinyModels


def write_source_video(path: Path, frames: int, *, width: int = 48, height: int = 32, fps: int = 8) -> None:
    """A red scene with a green bar sliding right, and blue bands on the outer left and right
    eighths: centre-cropping to a square must cut the blue away; a BGR mix-up turns red to blue."""
    writer = open_h264_writer(path, width, height, fps)
    band = width // 6
    for i in range(frames):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[..., 0] = 210
        x = band + (i * 2) % (width - 3 * band)
        frame[:, x : x + 6, 1] = 255
        frame[:, :band] = (0, 0, 230)
        frame[:, -band:] = (0, 0, 230)
        writer.send(frame)
    writer.close()


def make_sources(root: Path) -> Path:
    """Three usable videos (captions: .txt, captions.jsonl, file name), a broken one, a short one."""
    src = root / "src"
    src.mkdir(parents=True)
    write_source_video(src / "night_chase.mp4", 20)  # 2 windows of 9 frames at 8 fps
    (src / "night_chase.txt").write_text("a red corridor, something green runs past\n", encoding="utf-8")
    write_source_video(src / "b.mp4", 9)
    (src / "captions.jsonl").write_text(json.dumps({"file": "b.mp4", "caption": "red fog"}) + "\n", encoding="utf-8")
    write_source_video(src / "red_room.mp4", 10)
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 20)
    write_source_video(src / "short.mp4", 4)
    return src


def write_settings(path: Path, tiny: TinyModels, family: str, loras: dict[str, Path] | None = None) -> Path:
    """A settings file with the tiny preset `tiny-FAMILY` (and `[loras.FAMILY.EMOTION]` entries)."""
    table = tiny.preset_table(family)
    lines = ["[video]", f'preset = "tiny-{family}"', "", "[postprocess]", "captions_for_model_backends = false", ""]
    lines.append(f"[presets.tiny-{family}]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    for emotion, lora in (loras or {}).items():
        lines += ["", f"[loras.{family}.{emotion}]", f"path = {json.dumps(str(lora))}", "weight = 1.0"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
