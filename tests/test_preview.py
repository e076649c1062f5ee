"""The preview renderer writes real, deterministic H.264 clips with readable Hangul captions."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import ImageFont

from generation.base import ClipSpec, ClipStyle, GenerationError, VideoBackend
from generation.captions import wrap_caption
from generation.fonts import find_hangul_font, font_draws_hangul
from generation.preview import MOTIONS, PreviewRenderer
from generation.probe import probe_video

KOREAN = "어두운 숲속에서 누군가 나를 쫓아왔는데 아무리 달려도 발이 움직이지 않았다"


def spec(**overrides: object) -> ClipSpec:
    values: dict[str, object] = dict(
        index=0,
        prompt="a dark forest at night",
        caption=KOREAN,
        emotion="fear",
        seed=7,
        width=96,
        height=64,
        num_frames=6,
        fps=12,
        style=ClipStyle(name="fear", palette=("#0b090a", "#3d0a0a", "#6a040f"), motion="shake"),
        language="ko",
    )
    values.update(overrides)
    return ClipSpec(**values)  # type: ignore[arg-type]


def decoded_frames(path: Path) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    width, height = meta["size"]
    return np.stack([np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader])


def test_is_a_video_backend() -> None:
    renderer = PreviewRenderer()
    assert isinstance(renderer, VideoBackend)
    assert renderer.name == "preview"


def test_render_clip_writes_h264_with_the_asked_frames_and_reports_progress(tmp_path: Path) -> None:
    seen: list[float] = []
    out = tmp_path / "clip.mp4"
    info = PreviewRenderer().render_clip(spec(), out, progress=seen.append)
    probe = probe_video(out)
    assert (info.frames, info.width, info.height, info.fps) == (6, 96, 64, 12.0)
    assert info.duration == pytest.approx(0.5, abs=0.02)
    assert (probe.codec, probe.pix_fmt, probe.frames) == ("h264", "yuv420p", 6)
    assert len(seen) == 6 and seen == sorted(seen) and seen[-1] == 1.0


def test_same_seed_same_frames_other_seed_other_frames(tmp_path: Path) -> None:
    renderer = PreviewRenderer()
    a, b, c = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    renderer.render_clip(spec(seed=1), a)
    renderer.render_clip(spec(seed=1), b)
    renderer.render_clip(spec(seed=2), c)
    frames_a, frames_b, frames_c = decoded_frames(a), decoded_frames(b), decoded_frames(c)
    assert np.array_equal(frames_a, frames_b)
    assert np.abs(frames_a.astype(int) - frames_c.astype(int)).mean() > 2.0


def test_frames_move_for_every_motion() -> None:
    renderer = PreviewRenderer()
    for motion in MOTIONS:
        clip = spec(style=ClipStyle(motion=motion), caption="", num_frames=12)
        first, last = renderer.render_frame(clip, 0), renderer.render_frame(clip, 11)
        assert first.dtype == np.uint8 and first.shape == (64, 96, 3)
        assert np.abs(first.astype(int) - last.astype(int)).mean() > 1.0, motion


def test_korean_caption_draws_pixels_in_the_caption_area(tmp_path: Path) -> None:
    renderer = PreviewRenderer()
    wide = dict(width=320, height=180)
    with_caption = renderer.render_frame(spec(**wide), 0).astype(int)
    without = renderer.render_frame(spec(**wide, caption=""), 0).astype(int)
    caption_area = (slice(110, 175), slice(20, 300))
    changed = np.abs(with_caption[caption_area] - without[caption_area]).max(axis=2) > 60
    assert changed.mean() > 0.05  # backdrop and glyphs
    # white glyph strokes on the dark backdrop: many near-white pixels where there were none
    bright = (with_caption[caption_area].min(axis=2) > 200).sum()
    assert bright > 100
    assert (without[caption_area].min(axis=2) > 200).sum() < bright / 10
    # and the encoded clip keeps them
    out = tmp_path / "ko.mp4"
    renderer.render_clip(spec(**wide), out)
    decoded = decoded_frames(out)[0].astype(int)
    assert (decoded[caption_area].min(axis=2) > 200).sum() > bright / 2


def test_wrap_korean_by_character_english_by_word() -> None:
    font = ImageFont.truetype(str(find_hangul_font()), 16)
    ko = wrap_caption(KOREAN, font, 150, korean=True)
    assert len(ko) > 1 and all(font.getlength(line) <= 150 for line in ko)
    assert "".join(ko).replace(" ", "") == KOREAN.replace(" ", "")
    en_text = "I was flying over a city made of glass and everyone waved"
    en = wrap_caption(en_text, font, 150, korean=False)
    assert len(en) > 1 and all(font.getlength(line) <= 150 for line in en)
    assert " ".join(en) == en_text  # words are never split


def test_hangul_font_is_found_and_a_latin_only_font_is_refused(tmp_path: Path) -> None:
    font = find_hangul_font()
    assert font.is_file() and font_draws_hangul(font)
    with pytest.raises(GenerationError, match="does not exist"):
        find_hangul_font(tmp_path / "missing.ttf")
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.is_file():
        with pytest.raises(GenerationError, match="no Hangul"):
            find_hangul_font(latin)


def test_odd_sizes_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="even"):
        PreviewRenderer().render_clip(spec(width=95), tmp_path / "odd.mp4")


def test_no_hangul_font_anywhere_names_the_install_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    import generation.fonts as fonts

    monkeypatch.setattr(fonts, "FONT_PACKAGE", "no_such_font_package")
    monkeypatch.setattr(fonts, "_system_hangul_font", lambda: None)
    with pytest.raises(
        GenerationError, match=r"pip install koreanize-matplotlib.*apt-get install fonts-nanum"
    ):
        fonts.find_hangul_font()
