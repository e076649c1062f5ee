"""Photos for tests: a good one, and each kind of bad one the service must refuse (made here, tiny)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def good_photo(width: int = 64, height: int = 48, fmt: str = "JPEG") -> bytes:
    """A still photo: a warm gradient with a dark square (easy to find again in a frame)."""
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.stack([200 + 50 * xs / width, 120 + 60 * ys / height, np.full_like(xs, 60)], -1).astype(np.uint8)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = (20, 20, 90)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def not_an_image() -> bytes:
    return b"%PDF-1.4 this is a document, not a picture\n" * 10


def huge_file(megabytes: int = 50) -> bytes:
    """A JPEG start followed by megabytes of padding: refused by its size before anything is decoded."""
    return good_photo() + bytes(megabytes * 2**20)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def giant_dimensions(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's first bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()
