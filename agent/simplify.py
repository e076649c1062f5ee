"""A simpler scene prompt for a clip that keeps failing the quality gate.

Text-to-video models fail most on crowded, busy scenes; the seed work's guide to lower FVD is to
ask for fewer subjects and less action. `simplify_prompt` keeps the main clause (subject and
setting), drops counts and crowd words, slows fast verbs down, and asks for a steady camera.
The result is still the scene; it only asks the model for less at once.
"""

from __future__ import annotations

import re

SIMPLE_SUFFIX = "one main subject, simple composition, slow gentle motion, steady camera"

# Where a prompt's further clauses (more subjects, more action) begin.
_CLAUSE_BREAK = re.compile(
    r"\s*(?:[;,.]|\b(?:while|and then|then|as|whereas|but|meanwhile)\b)\s*", re.IGNORECASE
)
_CROWD = re.compile(
    r"\b(?:many|several|numerous|countless|dozens of|hundreds of|thousands of|lots of|a lot of|"
    r"(?:a |huge |large )?(?:crowd|group|swarm|horde|flock|pack|army|herd)s? of)\s+",
    re.IGNORECASE,
)
_COUNT = re.compile(r"\b(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?=\w)", re.IGNORECASE)
_HASTE = re.compile(
    r"\s*\b(?:quickly|rapidly|suddenly|wildly|frantically|violently|furiously|chaotically|fast|"
    r"at high speed|in a hurry)\b",
    re.IGNORECASE,
)
_SLOWER = {
    "running": "walking", "runs": "walks", "run": "walk", "racing": "moving", "races": "moves",
    "chasing": "following", "chases": "follows", "chased": "followed", "fighting": "facing",
    "fights": "faces", "exploding": "glowing", "explodes": "glows", "explosion": "glow",
    "crashing": "resting", "crashes": "rests", "spinning": "turning slowly", "spins": "turns slowly",
    "jumping": "standing", "jumps": "stands", "dancing": "swaying", "dances": "sways",
    "rushing": "moving", "rushes": "moves", "fleeing": "walking away", "flees": "walks away",
    "screaming": "standing still", "screams": "stands still", "flying": "floating", "flies": "floats",
    "falling": "drifting down", "falls": "drifts down",
}  # fmt: skip
_SLOWER_WORDS = re.compile(r"\b(" + "|".join(sorted(_SLOWER, key=len, reverse=True)) + r")\b", re.IGNORECASE)
MIN_CLAUSE_WORDS = 4


def simplify_prompt(prompt: str) -> str:
    """`prompt` with fewer subjects and less action, ending with SIMPLE_SUFFIX (idempotent)."""
    text = prompt.removesuffix(SIMPLE_SUFFIX).strip(" ,")
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c and c.strip()]
    kept: list[str] = []
    for clause in clauses:  # the first clause, or the first two when the first is only a fragment
        kept.append(clause.strip())
        if len(" ".join(kept).split()) >= MIN_CLAUSE_WORDS:
            break
    core = " ".join(kept) if kept else text
    core = _CROWD.sub("", core)
    core = _COUNT.sub("", core)
    core = _HASTE.sub("", core)
    core = _SLOWER_WORDS.sub(lambda m: _match_case(m.group(0), _SLOWER[m.group(0).lower()]), core)
    core = re.sub(r"\s+", " ", core).strip(" ,")
    return f"{core}, {SIMPLE_SUFFIX}" if core else SIMPLE_SUFFIX


def _match_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement
