"""`lora prepare`: a folder of videos becomes a training set of fixed-size N-frame clips.

    DATASET/
      dataset.json      {"width", "height", "frames", "fps", "family", "clips", "skipped": [...]}
      metadata.jsonl    one line per clip: {"file", "caption", "source", "start"}
      clips/000000.mp4  H.264 RGB clips of exactly `frames` frames at `fps`, `width`x`height`

The bundled ffmpeg resamples to the target fps, scales so the frame covers the size bucket and
crops the centre, and hands over rgb24 frames (never BGR). Each video is cut into consecutive,
non-overlapping windows of N frames. Captions come from a same-named `.txt` next to the video,
else from `captions.jsonl` (`{"file": "a.mp4", "caption": "..."}`), else from the file name.
A broken or too-short video is reported in `skipped` and left out; it never stops the run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from generation.base import GenerationError
from generation.ffmpeg import write_h264
from generation.training.base import TrainingError, check_shape

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")


@dataclass(frozen=True)
class ClipRecord:
    """One training clip: its file (relative to the dataset), caption, source video, start second."""

    file: str
    caption: str
    source: str
    start: float


@dataclass
class PrepareReport:
    """What `prepare_dataset` made and what it left out (and why)."""

    out: Path
    clips: list[ClipRecord] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"source", "reason"}

    def to_json(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "clips": len(self.clips),
            "sources": len({c.source for c in self.clips}),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """The shape every clip of a prepared dataset has."""

    width: int
    height: int
    frames: int
    fps: int
    family: str

    @classmethod
    def read(cls, root: Path) -> DatasetInfo:
        path = root / "dataset.json"
        if not path.is_file():
            raise TrainingError(f"{root} is not a prepared dataset (no dataset.json); run `dreamreel lora prepare`")
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(raw["width"]), int(raw["height"]), int(raw["frames"]), int(raw["fps"]), str(raw["family"]))


def _captions_file(src: Path) -> dict[str, str]:
    path = src / "captions.jsonl"
    if not path.is_file():
        return {}
    captions: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            captions[str(row["file"])] = str(row["caption"]).strip()
        except (ValueError, KeyError, TypeError) as err:
            raise TrainingError(f"{path}:{n}: expected {{\"file\": ..., \"caption\": ...}} ({err})") from None
    return captions


def caption_for(video: Path, src: Path, captions: dict[str, str]) -> str:
    """The `.txt` next to the video, else its captions.jsonl entry, else words from its file name."""
    txt = video.with_suffix(".txt")
    if txt.is_file():
        text = txt.read_text(encoding="utf-8").strip()
        if text:
            return text
    rel = str(video.relative_to(src))
    if rel in captions:
        return captions[rel]
    if video.name in captions:
        return captions[video.name]
    return video.stem.replace("_", " ").replace("-", " ").strip()


def read_resized(video: Path, *, fps: int, width: int, height: int) -> Iterator[np.ndarray]:
    """RGB uint8 frames (height, width, 3) at `fps`, scaled to cover the size and centre-cropped."""
    from generation.ffmpeg import imageio_ffmpeg_lib

    imageio_ffmpeg = imageio_ffmpeg_lib()
    # imageio-ffmpeg warns whenever output and source sizes differ, which is the point here.
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    vf = (
        f"fps={fps},scale={width}:{height}:force_original_aspect_ratio=increase:flags=area,"
        f"crop={width}:{height},setsar=1"
    )
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24", output_params=["-vf", vf])
    try:
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration, ValueError, AttributeError, IndexError) as err:
        lines = str(err).strip().splitlines()  # ffmpeg's last line says what is wrong
        raise GenerationError(f"cannot read {video.name}: {lines[-1] if lines else type(err).__name__}") from err
    if tuple(meta["size"]) != (width, height):  # pragma: no cover - ffmpeg honours the filter
        raise GenerationError(f"{video.name}: ffmpeg gave {meta['size']}, expected {width}x{height}")
    try:
        for raw in reader:
            yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    except (RuntimeError, OSError) as err:
        raise GenerationError(f"{video.name} is broken mid-stream: {err}") from err


def find_videos(src: Path) -> list[Path]:
    if not src.is_dir():
        raise TrainingError(f"{src} is not a folder of videos")
    videos = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise TrainingError(f"{src} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    return videos


def prepare_dataset(
    src: Path, out: Path, *, family: str, width: int, height: int, frames: int, fps: int
) -> PrepareReport:
    """Cut every video under `src` into `frames`-frame clips at `fps` and `width`x`height` in `out`.

    Raises TrainingError for a shape the family refuses, an empty folder, or when no video
    yields a single clip (every skipped video is named with its reason).
    """
    check_shape(family, width, height, frames)
    if (out / "dataset.json").exists():
        raise TrainingError(f"{out} already holds a prepared dataset; choose another --out or delete it")
    videos = find_videos(src)
    captions = _captions_file(src)
    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    report = PrepareReport(out)
    for video in videos:
        source = str(video.relative_to(src))
        caption = caption_for(video, src, captions)
        made = 0
        window: list[np.ndarray] = []
        try:
            for frame in read_resized(video, fps=fps, width=width, height=height):
                window.append(frame)
                if len(window) == frames:
                    name = f"clips/{len(report.clips):06d}.mp4"
                    write_h264(window, out / name, fps)
                    report.clips.append(ClipRecord(name, caption, source, round(made * frames / fps, 3)))
                    made += 1
                    window = []
        except GenerationError as err:
            report.skipped.append({"source": source, "reason": str(err)})
            logger.info("skipped %s: %s", source, err)
            continue
        if made == 0:
            seconds = frames / fps
            reason = f"shorter than {frames} frames at {fps} fps ({seconds:.2f} s)"
            report.skipped.append({"source": source, "reason": reason})
            logger.info("skipped %s: %s", source, reason)
    if not report.clips:
        why = "; ".join(f"{s['source']}: {s['reason']}" for s in report.skipped)
        raise TrainingError(f"no usable clips in {src} ({why})")
    with (out / "metadata.jsonl").open("w", encoding="utf-8") as meta:
        for clip in report.clips:
            meta.write(json.dumps(asdict(clip), ensure_ascii=False) + "\n")
    info = {"width": width, "height": height, "frames": frames, "fps": fps, "family": family}
    (out / "dataset.json").write_text(
        json.dumps({**info, "clips": len(report.clips), "skipped": report.skipped}, indent=1), encoding="utf-8"
    )
    return report


def load_records(root: Path) -> list[ClipRecord]:
    """The clips of a prepared dataset, in order."""
    path = root / "metadata.jsonl"
    if not path.is_file():
        raise TrainingError(f"{root} is not a prepared dataset (no metadata.jsonl); run `dreamreel lora prepare`")
    records = [ClipRecord(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise TrainingError(f"{root}/metadata.jsonl lists no clips")
    return records
