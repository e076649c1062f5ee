"""Subtitles in the diary's own words: one cue per scene, timed inside the scene's span.

Neighbouring scenes overlap during a crossfade; a scene's cue ends where the next scene starts,
so cues never overlap and each stays within its own scene. `.srt` (SubRip) and `.vtt` (WebVTT)
hold the same cues; the mp4 carries them as a soft `mov_text` track (see `generation.audio.mix`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# ISO 639-2 codes for the mp4 track's language tag ("mixed" diaries are Korean with English words)
TRACK_LANGUAGES = {"ko": "kor", "en": "eng", "mixed": "kor"}


@dataclass(frozen=True)
class Cue:
    start: float  # seconds on the video's timeline
    end: float
    text: str


def scene_cues(spans: Sequence[tuple[float, float]], texts: Sequence[str]) -> list[Cue]:
    """One cue per scene with text: from the scene's start to the next scene's start (or its end)."""
    if len(spans) != len(texts):
        raise ValueError(f"{len(spans)} scene spans for {len(texts)} texts")
    cues = []
    for i, ((start, end), text) in enumerate(zip(spans, texts, strict=True)):
        words = " ".join(text.split())
        if not words:
            continue
        stop = min(end, spans[i + 1][0]) if i + 1 < len(spans) else end
        cues.append(Cue(start=start, end=max(start, stop), text=words))
    return cues


def _stamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def srt_text(cues: Sequence[Cue]) -> str:
    """SubRip: numbered blocks `1\\n00:00:00,000 --> 00:00:03,000\\ntext\\n\\n`."""
    blocks = [f"{n}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n" for n, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def vtt_text(cues: Sequence[Cue]) -> str:
    """WebVTT: a `WEBVTT` header, then blocks with `.` before the milliseconds."""
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{_vtt_escape(c.text)}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # "-->" would end the timing line's meaning inside a cue; & and < start entities and tags
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "--&gt;")


def write_subtitles(cues: Sequence[Cue], srt_path: Path, vtt_path: Path) -> None:
    """Write the cues as .srt and .vtt (UTF-8)."""
    srt_path.write_text(srt_text(cues), encoding="utf-8")
    vtt_path.write_text(vtt_text(cues), encoding="utf-8")
