"""The embedded video backend: an animated scene card per scene, no model, runs anywhere.

Each clip is a gradient in the emotion's palette, soft shapes moving the emotion's way
(`ClipStyle.motion`: drift, zoom, shake, pulse, fall, rise), the scene's caption in the diary's
own words (Hangul included) on a readable backdrop, the scene number and a visible "PREVIEW"
mark. Output is deterministic for a given seed: same spec, same pixels.

A clip with a start image (`ClipSpec.start_image`: the previous card's last frame under `chain`
continuity, a key frame, the dreamer's photo) shows that image as its first frame exactly, then
dissolves into its own card over the first second.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from generation.base import ClipInfo, ClipSpec, GenerationError, ProgressFn, VideoBackend
from generation.captions import FontT, caption_margin, draw_caption, is_korean, load_font
from generation.ffmpeg import as_uint8_frame, check_even_size, open_h264_writer
from generation.fonts import find_hangul_font
from generation.frames import save_frame
from generation.probe import probe_video

logger = logging.getLogger(__name__)

MOTIONS = ("drift", "zoom", "shake", "pulse", "fall", "rise")
PREVIEW_MARK = "PREVIEW"
DISSOLVE_SECONDS = 1.0  # from a start image into the card's own palette


@dataclass(frozen=True)
class _Shape:
    x: float  # 0..1 of width
    y: float  # 0..1 of height
    radius: float  # fraction of the shorter side
    speed: float  # fraction of the frame per second
    phase: float
    color: tuple[int, int, int]
    alpha: int


class PreviewRenderer(VideoBackend):
    """`VideoBackend` that draws animated scene cards (the offline default)."""

    name = "preview"
    any_length = True

    def __init__(self, font_path: Path | None = None) -> None:
        self._font_path = font_path

    @cached_property
    def font_path(self) -> Path:
        """The caption font (resolved on first use, so constructing the renderer is free)."""
        return find_hangul_font(self._font_path)

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        """Render `spec` to an H.264 yuv420p mp4 at `out_path` and return what was written (probed)."""
        _check_spec(spec)
        card = SceneCard(spec, self.font_path)
        writer = open_h264_writer(out_path, spec.width, spec.height, spec.fps)
        frame = None
        try:
            for i in range(spec.num_frames):
                frame = card.frame(i)
                writer.send(as_uint8_frame(frame, spec.width, spec.height))
                if progress is not None:
                    progress((i + 1) / spec.num_frames)
        finally:
            writer.close()
        if spec.end_frame is not None and frame is not None:
            save_frame(frame, spec.end_frame)
        info = probe_video(out_path)
        if info.frames != spec.num_frames:
            raise GenerationError(
                f"preview clip {out_path.name} has {info.frames} frames, expected {spec.num_frames}"
            )
        logger.info(
            "rendered preview clip %s: %d frames %dx%d", out_path.name, info.frames, info.width, info.height
        )
        return info.as_clip_info()

    def render_frame(self, spec: ClipSpec, index: int) -> np.ndarray:
        """One frame (HxWx3 uint8) of the clip `spec` describes, without writing a file."""
        _check_spec(spec)
        return SceneCard(spec, self.font_path).frame(index)

    def continuity_problem(self, mode: str) -> str | None:
        """Scene cards start from any image: every continuity mode works."""
        return None

    def draw_keyframe(self, spec: ClipSpec, out_path: Path, reference: Path | None = None) -> Path:
        """The key frame of a card: its first frame drawn with `spec.seed` (the job's style seed, so
        every scene shares one layout), over the dreamer's photo when there is a `reference`."""
        _check_spec(spec)
        frame = SceneCard(replace(spec, start_image=None), self.font_path).frame(0)
        if reference is not None:
            photo = np.asarray(load_frame(reference, spec.width, spec.height), dtype=np.float32)
            frame = np.clip(0.5 * photo + 0.5 * frame, 0, 255).astype(np.uint8)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(out_path, format="PNG")
        return out_path


def _check_spec(spec: ClipSpec) -> None:
    check_even_size(spec.width, spec.height)
    if spec.num_frames < 1 or spec.fps < 1:
        raise GenerationError(f"a clip needs at least 1 frame and 1 fps, got {spec.num_frames} at {spec.fps}")
    if spec.style.motion not in MOTIONS:
        logger.warning("unknown motion %r, drawing 'drift'; known: %s", spec.style.motion, MOTIONS)


class SceneCard:
    """The drawing of one clip: static layers made once, moving shapes per frame."""

    def __init__(self, spec: ClipSpec, font_path: Path) -> None:
        self.spec = spec
        self.w, self.h = spec.width, spec.height
        self.motion = spec.style.motion if spec.style.motion in MOTIONS else "drift"
        rng = np.random.default_rng(spec.seed)
        self.palette = [_hex_rgb(c) for c in spec.style.palette] or [(30, 30, 60), (120, 60, 120)]
        self.angle = float(rng.uniform(0, 2 * math.pi))
        self.shapes = self._make_shapes(rng)
        self.shake = rng.normal(0.0, 1.0, size=(max(spec.num_frames, 1), 2))
        self.gradient = self._make_gradient()
        self.overlay = self._make_overlay(font_path)
        self.start = (
            np.asarray(load_frame(spec.start_image, self.w, self.h), dtype=np.float32)
            if spec.start_image is not None
            else None
        )
        self.dissolve = max(1, min(spec.num_frames - 1, round(DISSOLVE_SECONDS * spec.fps)))

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as HxWx3 uint8 (frame 0 is the start image exactly, when there is one)."""
        card = self._card(index)
        if self.start is None or index >= self.dissolve:
            return card
        t = index / self.dissolve
        mix = t * t * (3 - 2 * t)  # smoothstep: the dissolve eases in and out
        return np.clip(self.start * (1 - mix) + card * mix + 0.5, 0, 255).astype(np.uint8)

    def _card(self, index: int) -> np.ndarray:
        seconds = index / self.spec.fps
        phase = index / max(self.spec.num_frames - 1, 1)
        # the gradient slides slowly along its axis: the background breathes
        shift = round(seconds * 0.08 * self.w) % (2 * self.w)
        base = Image.fromarray(self._gradient_window(shift)).convert("RGBA")
        layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        dx, dy = self._camera(index)
        for shape in self.shapes:
            x, y, r = self._place(shape, seconds, phase)
            x, y = x * self.w + dx, y * self.h + dy
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*shape.color, shape.alpha))
        base.alpha_composite(layer)
        base.alpha_composite(self.overlay)
        return np.asarray(base.convert("RGB"), dtype=np.uint8)

    # -- motion -----------------------------------------------------------------------------

    def _place(self, s: _Shape, seconds: float, phase: float) -> tuple[float, float, float]:
        side = min(self.w, self.h)
        r = s.radius * side
        x, y = s.x, s.y
        wobble = 0.03 * math.sin(2 * math.pi * (0.3 * seconds + s.phase))
        if self.motion == "drift":
            x = _wrap(s.x + s.speed * seconds * 0.6)
            y = s.y + wobble
        elif self.motion == "fall":
            y = _wrap(s.y + s.speed * seconds)
            x = s.x + wobble
        elif self.motion == "rise":
            y = _wrap(s.y - s.speed * seconds)
            x = s.x + wobble
        elif self.motion == "zoom":
            scale = 1.0 + 0.8 * phase
            x = 0.5 + (s.x - 0.5) * scale
            y = 0.5 + (s.y - 0.5) * scale
            r *= scale
        elif self.motion == "pulse":
            r *= 1.0 + 0.35 * math.sin(2 * math.pi * (1.2 * seconds + s.phase))
        elif self.motion == "shake":
            x = s.x + wobble * 0.5
        return x, y, max(r, 1.0)

    def _camera(self, index: int) -> tuple[float, float]:
        if self.motion != "shake":
            return 0.0, 0.0
        amplitude = 0.015 * min(self.w, self.h) + 1.0
        jx, jy = self.shake[index % len(self.shake)]
        return float(jx * amplitude), float(jy * amplitude)

    # -- static layers ----------------------------------------------------------------------

    def _make_shapes(self, rng: np.random.Generator) -> list[_Shape]:
        count = int(rng.integers(7, 12))
        shapes = []
        for _ in range(count):
            base = self.palette[int(rng.integers(0, len(self.palette)))]
            tint = float(rng.uniform(0.2, 0.6))
            color = tuple(int(c + (255 - c) * tint) for c in base)
            shapes.append(
                _Shape(
                    x=float(rng.uniform(0, 1)),
                    y=float(rng.uniform(0, 1)),
                    radius=float(rng.uniform(0.04, 0.16)),
                    speed=float(rng.uniform(0.08, 0.25)),
                    phase=float(rng.uniform(0, 1)),
                    color=(color[0], color[1], color[2]),
                    alpha=int(rng.integers(70, 150)),
                )
            )
        return shapes

    def _make_gradient(self) -> np.ndarray:
        """A gradient twice the frame width along a seeded direction, mirrored so it can slide."""
        w2 = 2 * self.w
        ys, xs = np.mgrid[0 : self.h, 0:w2].astype(np.float32)
        along = xs / w2 * math.cos(self.angle) * 2 + ys / self.h * math.sin(self.angle)
        along = (along - along.min()) / max(float(along.max() - along.min()), 1e-6)
        along = 1.0 - np.abs(2.0 * along - 1.0)  # mirrored: 0 -> 1 -> 0, seamless when wrapped
        stops = np.array(self.palette, dtype=np.float32)
        pos = along * (len(stops) - 1)
        lo = np.clip(np.floor(pos).astype(int), 0, len(stops) - 1)
        hi = np.clip(lo + 1, 0, len(stops) - 1)
        frac = (pos - lo)[..., None]
        rgb = stops[lo] * (1 - frac) + stops[hi] * frac
        return np.clip(rgb * 0.85, 0, 255).astype(np.uint8)  # a little darker: captions stay readable

    def _gradient_window(self, shift: int) -> np.ndarray:
        doubled = np.concatenate([self.gradient, self.gradient], axis=1)
        return np.ascontiguousarray(doubled[:, shift : shift + self.w])

    def _make_overlay(self, font_path: Path) -> Image.Image:
        """Caption with backdrop, scene number and the PREVIEW mark: drawn once per clip."""
        overlay = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        margin = caption_margin(self.w)
        small = load_font(font_path, max(8, self.h // 18))
        korean = is_korean(self.spec.caption, self.spec.language)
        label = f"장면 {self.spec.index + 1}" if korean else f"Scene {self.spec.index + 1}"
        _label(draw, (margin, margin), label, small, anchor="la")
        _label(draw, (self.w - margin, margin), PREVIEW_MARK, small, anchor="ra")
        draw_caption(draw, self.spec.caption, font_path, self.w, self.h, korean=korean, margin=margin)
        return overlay


def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: FontT, anchor: str) -> None:
    left, top, right, bottom = draw.textbbox(xy, text, font=font, anchor=anchor)
    pad = max(2, font.size // 4)
    draw.rounded_rectangle(
        (left - pad, top - pad, right + pad, bottom + pad), radius=pad, fill=(0, 0, 0, 140)
    )
    draw.text(xy, text, font=font, fill=(255, 255, 255, 230), anchor=anchor)


def load_frame(path: Path, width: int, height: int) -> Image.Image:
    """An image file as an RGB frame of the clip's size (cropped to its aspect, never stretched)."""
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise GenerationError(f"start image {path} cannot be read: {exc}") from exc
    return rgb if rgb.size == (width, height) else ImageOps.fit(rgb, (width, height), Image.Resampling.LANCZOS)


def _hex_rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError as exc:
        raise GenerationError(f"palette color {color!r} is not #rrggbb") from exc


def _wrap(value: float) -> float:
    """Positions leave one edge and come back at the other, with room for the radius."""
    return (value + 0.2) % 1.4 - 0.2
