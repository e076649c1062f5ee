"""Scene captions in the diary's own words, drawn with Pillow (Hangul included).

One drawing shared by the preview renderer (captions inside its scene cards) and the
post-processing step (captions burnt onto model clips): a centred block of at most
`MAX_CAPTION_LINES` lines in white on a rounded translucent backdrop, shrunk until it fits,
Korean wrapped by syllable and English by word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

MAX_CAPTION_LINES = 3

FontT = ImageFont.FreeTypeFont
CaptionPosition = Literal["bottom", "top"]
Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)


def caption_margin(width: int) -> int:
    """The spacing unit of captions and labels: a fortieth of the frame width, at least 4 px."""
    return max(4, width // 40)


def is_korean(text: str, language: str = "en") -> bool:
    """True when captions should follow Korean rules: language 'ko' or any Hangul in `text`."""
    if language == "ko":
        return True
    return any("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in text)


def draw_caption(
    draw: ImageDraw.ImageDraw,
    text: str,
    font_path: Path,
    width: int,
    height: int,
    *,
    korean: bool,
    position: CaptionPosition = "bottom",
    margin: int | None = None,
) -> Box | None:
    """Draw `text` as a caption block on `draw` (an RGBA canvas of `width` x `height`).

    Whitespace is collapsed; the font shrinks (down to about 1/24 of the height) until the
    text fits in three lines, and a longer text is cut with an ellipsis. Returns the box the
    caption covers, or None when `text` is blank (nothing drawn).
    """
    caption = " ".join(text.split())
    if not caption:
        return None
    margin = caption_margin(width) if margin is None else margin
    max_width = width - 4 * margin
    size = max(10, height // 13)
    min_size = max(8, height // 24)
    while True:
        font = load_font(font_path, size)
        lines = wrap_caption(caption, font, max_width, korean=korean)
        if len(lines) <= MAX_CAPTION_LINES or size <= min_size:
            break
        size = max(min_size, int(size * 0.88))
    if len(lines) > MAX_CAPTION_LINES:
        lines = lines[:MAX_CAPTION_LINES]
        lines[-1] = _ellipsize(lines[-1], font, max_width)
    line_h = int(font.size * 1.3)
    block_h = line_h * len(lines)
    widest = max(int(font.getlength(line)) for line in lines)
    if position == "top":
        top = 2 * margin
        box_top, box_bottom = top - margin // 2, top + block_h + margin
    else:
        top = height - margin - block_h - margin
        box_top, box_bottom = top - margin // 2, height - margin
    box = ((width - widest) // 2 - margin, box_top, (width + widest) // 2 + margin, box_bottom)
    draw.rounded_rectangle(box, radius=margin, fill=(0, 0, 0, 165))
    for n, line in enumerate(lines):
        y = top + n * line_h + line_h // 2
        draw.text((width / 2, y), line, font=font, fill=(255, 255, 255, 255), anchor="mm")
    return box[0], box[1], box[2] + 1, box[3] + 1


def caption_overlay(
    text: str,
    width: int,
    height: int,
    font_path: Path,
    *,
    language: str = "en",
    position: CaptionPosition = "bottom",
) -> tuple[Image.Image, Box | None]:
    """A transparent RGBA `width` x `height` image holding only the caption, and its box."""
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    box = draw_caption(
        ImageDraw.Draw(overlay),
        text,
        font_path,
        width,
        height,
        korean=is_korean(text, language),
        position=position,
    )
    return overlay, box


def wrap_caption(text: str, font: FontT, max_width: int, *, korean: bool) -> list[str]:
    """Greedy wrap to `max_width` pixels: English by word, Korean by character.

    Korean may break between any two syllables; a break at a space is preferred when one is
    near the end of the line, so words stay whole where that costs little width. Words longer
    than a line are broken by character in either language.
    """
    lines: list[str] = []
    if not korean:
        current = ""
        for word in text.split():
            trial = f"{current} {word}" if current else word
            if font.getlength(trial) <= max_width:
                current = trial
                continue
            if current:
                lines.append(current)
            current = word
            while font.getlength(current) > max_width and len(current) > 1:
                head, current = _fit_chars(current, font, max_width)
                lines.append(head)
        if current:
            lines.append(current)
        return lines
    rest = text
    while rest:
        if font.getlength(rest) <= max_width:
            lines.append(rest)
            break
        head, tail = _fit_chars(rest, font, max_width)
        space = head.rfind(" ")
        if space >= len(head) * 0.6 and not tail.startswith(" "):
            head, tail = head[:space], head[space + 1 :] + tail
        lines.append(head.rstrip())
        rest = tail.lstrip()
    return lines


def _fit_chars(text: str, font: FontT, max_width: int) -> tuple[str, str]:
    """Split `text` after the most characters that fit (at least one)."""
    n = 1
    while n < len(text) and font.getlength(text[: n + 1]) <= max_width:
        n += 1
    return text[:n], text[n:]


def _ellipsize(line: str, font: FontT, max_width: int) -> str:
    while line and font.getlength(line + "…") > max_width:
        line = line[:-1]
    return line.rstrip() + "…"


def load_font(path: Path, size: int) -> FontT:
    """The TrueType font at `path` in `size` pixels."""
    return ImageFont.truetype(str(path), size)
