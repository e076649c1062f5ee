"""A dreamer's photo: checked before anything is kept, stored with the diary, deleted with it.

The photo is the first scene's start frame (or the reference for key frames). It is checked in
this order, cheapest first, so a hostile file costs little: size in bytes, then the header only
(format, pixel count: a 20000x20000 "decompression bomb" is refused before it is decoded), then
animation, then a full decode. A good photo is stored re-encoded as PNG with its EXIF orientation
applied, which also drops its metadata (camera, GPS position): nothing but the pixels is kept.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from dreamreel.errors import AnimatedImage, ImageTooLarge, ImageTooManyPixels, NotAnImage

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")


@dataclass(frozen=True)
class Photo:
    """A checked photo, ready to store: PNG bytes without metadata."""

    png: bytes
    width: int
    height: int
    source_format: str


def check_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> Photo:
    """Return the photo as PNG, or raise a BadImage subclass saying what is wrong with it."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{len(data) / 2**20:.1f} MB, at most {max_bytes / 2**20:.0f} MB")
    if not data:
        raise NotAnImage("the file is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))  # reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooManyPixels(f"more than {max_pixels / 1e6:.0f} megapixels ({exc})") from None
        except (OSError, ValueError):
            raise NotAnImage("not a JPEG, PNG or WebP file") from None
        with img:
            width, height = img.size
            if width * height > max_pixels:
                raise ImageTooManyPixels(
                    f"{width}x{height}, at most {max_pixels / 1e6:.0f} megapixels"
                )
            if getattr(img, "is_animated", False) or getattr(img, "n_frames", 1) > 1:
                raise AnimatedImage(f"an animated {img.format} with {getattr(img, 'n_frames', 2)} frames")
            if img.format not in ACCEPTED_FORMATS:
                raise NotAnImage(f"{img.format or 'unknown'} files are not accepted")
            try:
                img.load()
                upright = ImageOps.exif_transpose(img).convert("RGB")
            except (OSError, ValueError, SyntaxError) as exc:
                raise NotAnImage(f"the {img.format} data is damaged: {exc}") from None
            source_format = img.format
    out = io.BytesIO()
    upright.save(out, format="PNG")
    return Photo(png=out.getvalue(), width=upright.width, height=upright.height, source_format=source_format)
