"""Continuity: what each scene's first frame is, so the dream flows instead of jumping at every cut.

    none      each scene is rendered from its own prompt; a dreamer's photo starts the first scene
    chain     scene i+1 starts from the last frame of scene i (the first from the photo, if any);
              scenes render in order, one at a time, and are joined by hard cuts by default
    keyframe  each scene starts from a key frame drawn by a text-to-image model with one style
              seed for the whole job and a description of the dreamer and setting that every key
              frame shares; the dreamer's photo, if any, is the reference every key frame starts from

The frame a scene starts from is saved as `clip-NNN.start.png` next to the clip and recorded on
the scene (`segments.start_frame`) before the clip renders: a job killed mid-render resumes from
the same frame, and a re-roll (🎲) renders the scene again from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal, get_args

Continuity = Literal["none", "chain", "keyframe"]
CONTINUITY_MODES: tuple[str, ...] = get_args(Continuity)
SHARED_KEYWORDS = 4  # how many of the dream's recurring words every key frame shares


def start_frame_name(index: int) -> str:
    """The file name of scene `index`'s start frame inside the job's directory."""
    return f"clip-{index:03d}.start.png"


def shared_description(keywords: Sequence[Sequence[str]]) -> str:
    """Words every key frame of a dream shares: the dreamer and the setting.

    The planner's keywords per scene, most recurring first (ties: the first scene's order), so
    the person and place the dream keeps coming back to are drawn every time.
    """
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for scene in keywords:
        for word in dict.fromkeys(w.strip().lower() for w in scene if w.strip()):
            counts[word] += 1
            order.setdefault(word, len(order))
    common = sorted(counts, key=lambda w: (-counts[w], order[w]))[:SHARED_KEYWORDS]
    setting = ", ".join(common) if common else "the same place"
    return f"one continuous dream, the same dreamer throughout, consistent setting: {setting}"


def keyframe_prompt(description: str, scene_prompt: str) -> str:
    """The prompt a scene's key frame is drawn with: the shared description, then the scene."""
    return f"{scene_prompt.strip()}, {description}" if scene_prompt.strip() else description


def scenes_from_photo(mode: str, scenes: int) -> list[int]:
    """The scenes whose first frame depends on the dreamer's photo (re-rendered when it changes)."""
    if scenes <= 0:
        return []
    return [0] if mode == "none" else list(range(scenes))
