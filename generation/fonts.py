"""Finding a font that can draw Hangul, for captions in the diary's language.

Order: a font path configured by the caller (`PreviewSettings.font_path`), NanumGothic shipped
by the koreanize-matplotlib package (a core dependency; located without importing it, because
importing it imports matplotlib), then any system font fontconfig lists for Korean.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import subprocess
from functools import cache
from pathlib import Path

from generation.base import GenerationError

logger = logging.getLogger(__name__)

FONT_PACKAGE = "koreanize_matplotlib"
FONT_FILE = "fonts/NanumGothic.ttf"
INSTALL_HINT = "pip install koreanize-matplotlib (ships NanumGothic) or apt-get install fonts-nanum"


def find_hangul_font(configured: Path | None = None) -> Path:
    """Path of a TTF/OTF that can draw Hangul.

    `configured` wins when given; a configured path that does not exist or cannot draw Hangul
    is an error (a typo should not silently fall back). Raises GenerationError with an install
    hint when nothing is found.
    """
    if configured is not None:
        configured = Path(configured).expanduser()
        if not configured.is_file():
            raise GenerationError(f"configured caption font {configured} does not exist")
        if not font_draws_hangul(configured):
            raise GenerationError(f"configured caption font {configured} has no Hangul glyphs")
        return configured
    found = _packaged_font(FONT_FILE)
    if found is None:
        found = _system_hangul_font()
    if found is None:
        raise GenerationError(f"no font with Hangul glyphs found for captions: {INSTALL_HINT}")
    return found


def _packaged_font(relative: str) -> Path | None:
    # find_spec on a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


@cache
def _system_hangul_font() -> Path | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=ko", "file"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in sorted(out.splitlines()):
        candidate = Path(line.split(":", 1)[0].strip())
        if candidate.suffix.lower() in {".ttf", ".otf", ".ttc"} and candidate.is_file():
            logger.info("using system font %s for Hangul captions", candidate)
            return candidate
    return None


@cache
def font_draws_hangul(path: Path) -> bool:
    """True when the font renders '가' as something other than its missing-glyph box."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(path), 32)
    except OSError:
        return False

    def render(text: str) -> bytes:
        image = Image.new("L", (48, 48))
        ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
        return image.tobytes()

    hangul = render("가")
    missing = render("\uffff")  # a noncharacter: always drawn as the .notdef glyph
    return any(hangul) and hangul != missing
