"""Dream-scene prompts per emotion, the fixed set `lora eval` renders with and without a LoRA.

Written like the planner's English scene prompts (subject, place, light), four per emotion, so a
style check sees the kind of text the service really sends. The emotion names are the service's
seven (generation does not import agent/, so they are listed here).
"""

from __future__ import annotations

from generation.training.base import TrainingError

EVAL_PROMPTS: dict[str, tuple[str, ...]] = {
    "fear": (
        "a dark forest at night, something unseen chasing me between the trees",
        "an endless hospital corridor with flickering lights and a door slowly opening",
        "a giant shadow rising over a silent city street",
        "falling from a high tower into black water",
    ),
    "sadness": (
        "an empty train platform in the rain, a figure waving goodbye",
        "my childhood house with the furniture gone, dust in the afternoon light",
        "a grey beach in winter, footprints washed away by the tide",
        "a funeral of flowers floating down a quiet river",
    ),
    "joy": (
        "flying over a sunny meadow full of flowers",
        "a birthday party in a garden with lanterns and friends laughing",
        "swimming with dolphins in clear turquoise water",
        "a golden field at sunrise with kites in the sky",
    ),
    "anger": (
        "a crowded street where everyone pushes and shouts",
        "a storm breaking windows of an office, papers flying",
        "a red sky over a burning wheat field",
        "slamming doors in a maze of narrow hallways",
    ),
    "surprise": (
        "a whale rising out of a city swimming pool",
        "opening a closet door onto a vast starry sky",
        "the classroom floor turning into a sea of balloons",
        "a train bursting out of a painting in a museum",
    ),
    "disgust": (
        "a kitchen table covered with rotten fruit and buzzing flies",
        "wading through a swamp of thick grey mud",
        "a crowded bus with sticky seats and stale air",
        "worms crawling out of a loaf of bread",
    ),
    "neutral": (
        "walking along a quiet road through green fields",
        "a library with tall shelves and soft daylight",
        "sitting on a bench in a park watching people pass",
        "a calm lake with a small wooden boat",
    ),
}
EMOTIONS: tuple[str, ...] = tuple(EVAL_PROMPTS)


def check_emotion(emotion: str) -> None:
    if emotion not in EVAL_PROMPTS:
        raise TrainingError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")


def prompts_for(emotion: str, count: int) -> list[str]:
    """The first `count` prompts of an emotion (cycling when more are asked than there are)."""
    bank = EVAL_PROMPTS[emotion]
    return [bank[i % len(bank)] for i in range(count)]
