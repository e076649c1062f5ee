"""Keep the fear, drop the gore: rewrite visual prompts of allowed nightmares.

A nightmare with a knife and a little blood is allowed (the policy blocks only graphic gore),
but the video should show dread, not wounds. Gore words are replaced by atmosphere, and the
prompt says so explicitly for models that read negatives from the positive prompt.
"""

from __future__ import annotations

import re

# (pattern, replacement); replacements keep the suspense of the scene.
_GORE_REWRITES: tuple[tuple[str, str], ...] = (
    (r"pools? of blood|blood[- ]?(?:soaked|stained|covered|splattered)|covered in blood", "dark stain"),
    (r"bloody|bloodied|blood|gore|gory|bleed(?:s|ing)?(?: out)?|bled(?: out)?", "shadows"),
    (r"dead bod(?:y|ies)|corpses?|cadavers?|carcass(?:es)?", "still silhouette"),
    (r"dismember(?:ed|ing|s)?|decapitat(?:ed|ing|e|es|ion)|beheaded|mutilat(?:ed|ing|e|ion)", "menacing"),
    (r"disembowel(?:ed|ing)?|entrails|guts|intestines|organs|severed|flesh", "unseen horror"),
    (r"stab(?:s|bed|bing)?|slash(?:es|ed|ing)?|butcher(?:ed|ing)?|slaughter(?:ed|ing)?", "threatening"),
    (r"murder(?:s|ed|ing|er)?|kill(?:s|ed|ing|er)?|tortur(?:e|ed|es|ing)", "menacing"),
    (r"wounds?|wounded|injur(?:y|ies|ed)", "fear"),
)
# "(?<!no )": the safe suffix ("no gore, no blood") is a negation, not gore.
_COMPILED = tuple((re.compile(rf"(?<!no )\b(?:{p})\b", re.IGNORECASE), r) for p, r in _GORE_REWRITES)
_SAFE_SUFFIX = "ominous suspense, implied danger, no gore, no blood"


def has_gore_words(prompt: str) -> bool:
    """True when the prompt still names gore that `soften_prompt` would rewrite."""
    return any(regex.search(prompt) for regex, _ in _COMPILED)


def soften_prompt(prompt: str) -> str:
    """Replace gore words with suspense; add an explicit no-gore note when anything changed."""
    softened = prompt
    for regex, replacement in _COMPILED:
        softened = regex.sub(replacement, softened)
    if softened == prompt:
        return prompt
    # A replacement can repeat its neighbour ("shadows, shadows"); keep one of each.
    softened = re.sub(r"\b(\w+(?: \w+)?)(?:,\s*\1\b)+", r"\1", softened)
    softened = re.sub(r"\s{2,}", " ", softened).strip().rstrip(".")
    return f"{softened}, {_SAFE_SUFFIX}"
