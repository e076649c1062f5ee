"""Post-processing real clips with the bundled ffmpeg: decoded frames, sizes and pixels are checked."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from generation import postprocess
from generation.base import ClipSpec, ClipStyle, GenerationError
from generation.captions import caption_overlay
from generation.ffmpeg import h264_output_params, open_h264_writer, run_ffmpeg
from generation.fonts import find_hangul_font
from generation.postprocess import InterpolationMode, PostProcessSpec, Upscaler, postprocess_clip
from generation.preview import PreviewRenderer
from generation.probe import probe_video

KOREAN = "어두운 숲속에서 누군가 나를 쫓아왔다"
BACKGROUND, SQUARE = 30, 230
SIDE, STEP, START = 8, 7, 4  # a square of 8 px moving 7 px a frame from x=4


def square_clip(path: Path, width: int = 64, height: int = 48, fps: int = 8, frames: int = 8) -> Path:
    """A bright square moving right over a dark background, written with the shared writer."""
    writer = open_h264_writer(path, width, height, fps)
    top = (height - SIDE) // 2
    for i in range(frames):
        frame = np.full((height, width, 3), BACKGROUND, np.uint8)
        x = START + STEP * i
        frame[top : top + SIDE, x : x + SIDE] = SQUARE
        writer.send(frame)
    writer.close()
    return path


def textured_clip(path: Path, width: int = 128, height: int = 96, fps: int = 8, frames: int = 8) -> Path:
    """Smooth moving colour gradients: content a caption can be told apart from."""
    writer = open_h264_writer(path, width, height, fps)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(frames):
        r = 128 + 90 * np.sin(xs / 17 + i / 3)
        g = 128 + 90 * np.cos(ys / 13 - i / 4)
        b = 128 + 60 * np.sin((xs + ys) / 29)
        writer.send(np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8))
    writer.close()
    return path


def decoded(path: Path) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    width, height = meta["size"]
    return np.stack([np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader]).astype(float)


def square_x(frame: np.ndarray) -> float:
    """Brightness-weighted centre of the square along x."""
    weight = np.clip(frame[..., 0] - BACKGROUND, 0, None).sum(axis=0)
    return float((weight * np.arange(frame.shape[1])).sum() / weight.sum())


# -- interpolation ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mci", "blend"])
def test_doubling_fps_doubles_frames_keeps_duration_and_puts_new_frames_between(
    tmp_path: Path, mode: InterpolationMode
) -> None:
    src = square_clip(tmp_path / "src.mp4")
    info = postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(target_fps=16, interpolation=mode))
    assert (info.frames, info.fps, info.width, info.height) == (16, 16.0, 64, 48)
    assert info.duration == pytest.approx(1.0, abs=0.01)
    probe = probe_video(tmp_path / "out.mp4")
    assert (probe.frames, probe.fps, probe.codec, probe.pix_fmt) == (16, 16.0, "h264", "yuv420p")

    frames = decoded(tmp_path / "out.mp4")
    source = decoded(src)
    for k in range(7):
        # even output frames are the source frames; odd ones fall half-way between them
        assert square_x(frames[2 * k]) == pytest.approx(square_x(source[k]), abs=0.5)
        left, middle, right = (square_x(frames[i]) for i in (2 * k, 2 * k + 1, 2 * k + 2))
        assert left < middle < right
        assert middle == pytest.approx((left + right) / 2, abs=1.0)
    full = (frames[7][..., 0] > SQUARE - 25).sum()  # pixels as bright as the square
    if mode == "mci":  # motion-compensated: one solid square at the new place
        assert full >= 0.75 * SIDE * SIDE
    else:  # blended: two half-bright ghosts of the neighbours (bright only where they overlap)
        assert full <= 0.25 * SIDE * SIDE
        assert (np.abs(frames[7][..., 0] - (BACKGROUND + SQUARE) / 2) < 25).sum() >= SIDE * SIDE


@pytest.mark.parametrize(("target", "frames"), [(12, 12), (20, 20), (6, 6)])
def test_any_target_fps_keeps_the_duration(tmp_path: Path, target: int, frames: int) -> None:
    src = square_clip(tmp_path / "src.mp4")
    info = postprocess_clip(
        src, tmp_path / "out.mp4", PostProcessSpec(target_fps=target, interpolation="blend")
    )
    assert (info.frames, info.fps) == (frames, float(target))
    assert info.duration == pytest.approx(1.0, abs=0.01)
    assert len(decoded(tmp_path / "out.mp4")) == frames


# -- upscaling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upscale", "size"),
    [(2.0, (128, 96)), ((100, 76), (100, 76)), (1.3, (84, 62)), (0.5, (32, 24))],
)
def test_upscaling_gives_the_exact_even_size(
    tmp_path: Path, upscale: float | tuple[int, int], size: tuple[int, int]
) -> None:
    src = textured_clip(tmp_path / "src.mp4", width=64, height=48)
    info = postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(upscale=upscale))
    assert (info.width, info.height, info.frames, info.fps) == (*size, 8, 8.0)
    out = decoded(tmp_path / "out.mp4")
    assert out.shape == (8, size[1], size[0], 3)
    # the picture is the source, scaled: compare with Pillow's lanczos of the decoded source
    first = decoded(src)[0].astype(np.uint8)
    expected = np.asarray(Image.fromarray(first).resize(size, Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(out[0] - expected).mean() < 4.0


def test_odd_or_silly_sizes_are_refused(tmp_path: Path) -> None:
    src = square_clip(tmp_path / "src.mp4")
    with pytest.raises(GenerationError, match="even"):
        postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(upscale=(101, 76)))
    with pytest.raises(GenerationError, match="upscale factor"):
        postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(upscale=0.0))
    with pytest.raises(GenerationError, match="target_fps"):
        postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(target_fps=0))
    with pytest.raises(GenerationError, match="interpolation"):
        postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(target_fps=16, interpolation="warp"))  # type: ignore[arg-type]
    assert not (tmp_path / "out.mp4").exists()


class NearestUpscaler:
    """A stand-in for a learned upscaler: exact pixel repetition, easy to recognise."""

    name = "nearest"

    def __init__(self, factor: int = 2, drop_last: bool = False) -> None:
        self.factor = factor
        self.drop_last = drop_last
        self.calls = 0

    def upscale(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        out = frames.repeat(self.factor, axis=1).repeat(self.factor, axis=2)
        return out[:-1] if self.drop_last else out


def test_an_upscaler_adapter_replaces_lanczos(tmp_path: Path) -> None:
    src = square_clip(tmp_path / "src.mp4", frames=12)
    upscaler = NearestUpscaler()
    assert isinstance(upscaler, Upscaler)
    info = postprocess_clip(
        src, tmp_path / "out.mp4", PostProcessSpec(upscale=2.0, target_fps=16), upscaler=upscaler
    )
    assert (info.width, info.height, info.frames, info.fps) == (128, 96, 24, 16.0)
    assert upscaler.calls == 3  # 24 frames in chunks of 8
    # the picture is the adapter's (pixel repetition), not lanczos'
    out = decoded(tmp_path / "out.mp4")[0]
    first = decoded(src)[0]
    nearest = first.repeat(2, axis=0).repeat(2, axis=1)
    lanczos = np.asarray(
        Image.fromarray(first.astype(np.uint8)).resize((128, 96), Image.Resampling.LANCZOS), float
    )
    assert np.abs(out - nearest).mean() < 0.5 * np.abs(out - lanczos).mean()

    # captions are drawn on the upscaled frames too
    captioned = postprocess_clip(
        src, tmp_path / "cap.mp4", PostProcessSpec(upscale=2.0, caption=KOREAN), upscaler=NearestUpscaler()
    )
    left, top, right, bottom = caption_box(KOREAN, captioned.width, captioned.height)
    box = decoded(tmp_path / "cap.mp4")[0][top:bottom, left:right]
    assert (box.min(axis=2) > 200).sum() > 100  # white glyphs
    assert (nearest[top:bottom, left:right].min(axis=2) > 200).sum() < 10  # none there before

    # a 2x model asked for 3x: its output is fitted to the asked size
    info3 = postprocess_clip(
        src, tmp_path / "out3.mp4", PostProcessSpec(upscale=3.0), upscaler=NearestUpscaler()
    )
    assert (info3.width, info3.height, info3.frames) == (192, 144, 12)

    with pytest.raises(
        GenerationError, match=r"^upscaler .nearest. returned shape \(7, 96, 128, 3\) for 8 frames"
    ):
        postprocess_clip(
            src, tmp_path / "bad.mp4", PostProcessSpec(upscale=2.0), upscaler=NearestUpscaler(drop_last=True)
        )


# -- captions ---------------------------------------------------------------------------------


def caption_box(text: str, width: int, height: int, position: str = "bottom") -> tuple[int, int, int, int]:
    _, box = caption_overlay(text, width, height, find_hangul_font(), language="ko", position=position)  # type: ignore[arg-type]
    assert box is not None
    return box


@pytest.mark.parametrize("position", ["bottom", "top"])
def test_a_korean_caption_changes_pixels_in_the_caption_area_only(tmp_path: Path, position: str) -> None:
    src = textured_clip(tmp_path / "src.mp4")
    spec = PostProcessSpec(caption=KOREAN, caption_language="ko", caption_position=position)  # type: ignore[arg-type]
    info = postprocess_clip(src, tmp_path / "out.mp4", spec)
    assert (info.width, info.height, info.frames) == (128, 96, 8)
    before, after = decoded(src), decoded(tmp_path / "out.mp4")
    left, top, right, bottom = caption_box(KOREAN, 128, 96, position)
    assert (top > 48) == (position == "bottom")

    inside = np.zeros((96, 128), bool)
    inside[top:bottom, left:right] = True
    near = np.zeros((96, 128), bool)  # the box and a rim where chroma subsampling and encoding blur it
    near[max(0, top - 4) : bottom + 4, max(0, left - 4) : right + 4] = True
    diff = np.abs(after - before).max(axis=3)
    assert (diff[:, inside] > 40).mean() > 0.5  # the dark backdrop and the glyphs
    # elsewhere only re-encoding noise: about what a plain re-encode of the source differs by
    plain = tmp_path / "plain.mp4"
    run_ffmpeg(["-i", str(src), *h264_output_params(8), "-f", "mp4", str(plain)], what="plain re-encode")
    noise = np.abs(decoded(plain) - before).max(axis=3)[:, ~near].mean()
    assert diff[:, ~near].mean() < 1.6 * noise + 0.5
    assert np.percentile(diff[:, ~near], 99) < 12
    # white Hangul strokes on the backdrop: near-white pixels where the gradient had none
    bright_after = (after[:, inside].min(axis=2) > 200).sum()
    bright_before = (before[:, inside].min(axis=2) > 200).sum()
    assert bright_after > 8 * 40 and bright_after > 10 * bright_before


def test_blank_caption_font_errors_are_clear(tmp_path: Path) -> None:
    src = square_clip(tmp_path / "src.mp4")
    with pytest.raises(GenerationError, match="does not exist"):
        postprocess_clip(
            src, tmp_path / "out.mp4", PostProcessSpec(caption=KOREAN, font_path=tmp_path / "none.ttf")
        )


# -- everything at once, nothing at all, broken input ---------------------------------------------


def test_all_steps_in_one_pass_match_the_shared_writer_for_stream_copy(tmp_path: Path) -> None:
    src = square_clip(tmp_path / "src.mp4")
    seen: list[float] = []
    spec = PostProcessSpec(target_fps=16, upscale=2.0, caption="I was flying over a glass city")
    info = postprocess_clip(src, tmp_path / "out.mp4", spec, progress=seen.append)
    assert (info.frames, info.fps, info.width, info.height) == (16, 16.0, 128, 96)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
    # a clip written directly by the shared writer at that size and fps can be stream-copied with it
    preview = tmp_path / "preview.mp4"
    PreviewRenderer().render_clip(
        ClipSpec(index=0, prompt="", caption="", emotion="joy", seed=1, width=128, height=96,
                 num_frames=4, fps=16, style=ClipStyle()),
        preview,
    )  # fmt: skip
    assert probe_video(tmp_path / "out.mp4").stream_key == probe_video(preview).stream_key


def test_no_op_links_the_file_unchanged(tmp_path: Path) -> None:
    src = square_clip(tmp_path / "src.mp4")
    seen: list[float] = []
    for n, spec in enumerate(
        [PostProcessSpec(), PostProcessSpec(target_fps=8, upscale=1.0, caption="  \n ")]
    ):
        out = tmp_path / f"out{n}.mp4"
        info = postprocess_clip(src, out, spec, progress=seen.append)
        assert filecmp.cmp(src, out, shallow=False)
        assert (info.path, info.frames, info.fps, info.width, info.height) == (out, 8, 8.0, 64, 48)
    assert seen == [1.0, 1.0]
    # the same path in and out: nothing to do, nothing broken
    assert postprocess_clip(src, src, PostProcessSpec()).frames == 8


def test_broken_input_raises_generation_error(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(GenerationError, match=r"broken\.mp4"):
        postprocess_clip(garbage, tmp_path / "out.mp4", PostProcessSpec(target_fps=16))
    with pytest.raises(GenerationError, match="no such file"):
        postprocess_clip(tmp_path / "missing.mp4", tmp_path / "out.mp4", PostProcessSpec())
    src = square_clip(tmp_path / "src.mp4")
    with pytest.raises(GenerationError, match="another file"):
        postprocess_clip(src, src, PostProcessSpec(target_fps=16))
    assert not (tmp_path / "out.mp4").exists()


class Cancelled(Exception):
    pass


def test_a_progress_callback_that_raises_leaves_no_ffmpeg_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error reaches the caller and the ffmpeg child is killed and reaped (no orphan, no zombie)."""
    started: list[subprocess.Popen[str]] = []

    class RecordedPopen(subprocess.Popen[str]):  # the real Popen, remembered to be looked at
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(postprocess.subprocess, "Popen", RecordedPopen)
    src = square_clip(tmp_path / "src.mp4", frames=48)
    calls: list[float] = []

    def cancel(fraction: float) -> None:
        calls.append(fraction)
        raise Cancelled("job cancelled")

    with pytest.raises(Cancelled):
        postprocess_clip(src, tmp_path / "out.mp4", PostProcessSpec(target_fps=24, interpolation="mci"), cancel)
    assert len(calls) == 1
    (proc,) = [p for p in started if "-progress" in list(p.args)]  # type: ignore[arg-type]  # probes run ffmpeg too; this is the encode
    assert proc.returncode is not None  # waited for: reaped, not a zombie
    assert not Path(f"/proc/{proc.pid}").exists()  # gone, not left running or as a zombie


def test_ffmpeg_readers_and_writers_start_without_a_preexec_fn() -> None:
    """A preexec_fn makes Python fork and run interpreter code in a render thread's child, which hung
    there for good (generation.ffmpeg.imageio_ffmpeg_lib); every reader and writer goes through it."""
    from imageio_ffmpeg._utils import _popen_kwargs

    from generation.ffmpeg import imageio_ffmpeg_lib

    imageio_ffmpeg_lib()
    assert _popen_kwargs(prevent_sigint=True)["preexec_fn"] is None
