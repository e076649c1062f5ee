"""Keep the fear, drop the gore: rewrite visual prompts of allowed nightmares.

A nightmare with a knife and a little blood is allowed (the policy blocks only graphic gore),
but the video should show dread, not wounds. Gore words are replaced by atmosphere, and the
prompt says so explicitly for models that read negatives from the positive prompt.

A diary the policy refused for sexual content, or for sexual content next to a minor, may still
be approved by a moderator. Its prompts then lose the sexual words and, for `minors`, every
mention of a child too (`soften_prompt(prompt, categories)`), so such a scene can never reach the
model as written, whatever the moderator typed.
"""

from __future__ import annotations

import re
from collections.abc import Collection

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

_SEXUAL_REWRITES: tuple[tuple[str, str], ...] = (
    (r"(?:having|had|have|has|making|made|make) (?:explicit )?(?:sex|love)", "faced"),
    (r"rap(?:e|ed|es|ing)|molest\w*|sexual(?:ly)? assault\w*|fondl\w*|grop(?:e|ed|ing)", "threatened"),
    (r"sexual intercourse|intercourse|oral sex|blowjob|sex(?:ual(?:ly)?)?|porn\w*|orgasm\w*|masturbat\w*"
     r"|genitals?|penis|vagina|erection|ejaculat\w*|erotic|aroused|horny|lewd", "tension"),
    (r"naked|nude|nudity|undressed|topless", "fully clothed"),
)
_MINOR_REWRITES: tuple[tuple[str, str], ...] = (
    (r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
     r"|sixteen|seventeen)[- ]years?[- ]old(?: (?:girl|boy|child|kid)s?)?", "shadowy figure"),
    (r"(?:little|young|small) (?:girl|boy)s?|school ?(?:girl|boy)s?|children|child|kids?|minors?|underage"
     r"|toddlers?|infants?|bab(?:y|ies)|pre-?teens?|teen(?:ager)?s?|girls?|boys?|loli", "shadowy figure"),
)
_CLOTHED_SUFFIX = "fully clothed figures, nothing sexual, no nudity"
_COMPILED_SEXUAL = tuple((re.compile(rf"\b(?:{p})\b", re.IGNORECASE), r) for p, r in _SEXUAL_REWRITES)
_COMPILED_MINOR = tuple((re.compile(rf"\b(?:{p})\b", re.IGNORECASE), r) for p, r in _MINOR_REWRITES)
# categories whose approved prompts lose sexual words; `minors` also loses every child
SEXUAL_CATEGORIES = frozenset({"sexual", "minors"})


def has_gore_words(prompt: str) -> bool:
    """True when the prompt still names gore that `soften_prompt` would rewrite."""
    return any(regex.search(prompt) for regex, _ in _COMPILED)


def _split_notes(prompt: str) -> tuple[str, str]:
    """(scene, notes): the notes added by earlier rewrites are negations ("no nudity"), not content."""
    body, notes = prompt, ""
    for note in (_CLOTHED_SUFFIX, _SAFE_SUFFIX):
        if body.endswith(f", {note}"):
            body, notes = body[: -len(note) - 2], f", {note}{notes}"
    return body, notes


def has_sexual_or_minor_words(prompt: str) -> bool:
    """True when the prompt still names sex, nudity or a child (as the rewrite for `minors` sees them)."""
    scene, _ = _split_notes(prompt)
    return any(regex.search(scene) for regex, _ in (*_COMPILED_SEXUAL, *_COMPILED_MINOR))


def _rewrite(prompt: str, table: tuple[tuple[re.Pattern[str], str], ...], suffix: str) -> str:
    body, notes = _split_notes(prompt)
    prompt, rewritten = body, body
    for regex, replacement in table:
        rewritten = regex.sub(replacement, rewritten)
    if rewritten == prompt:
        return prompt + notes
    # A replacement can repeat its neighbour ("shadows, shadows"); keep one of each.
    rewritten = re.sub(r"\b(\w+(?: \w+)?)(?:,\s*\1\b)+", r"\1", rewritten)
    rewritten = re.sub(r"\s{2,}", " ", rewritten).strip().rstrip(".")
    notes = notes if suffix in notes else f"{notes}, {suffix}"
    return rewritten + notes


def soften_prompt(prompt: str, categories: Collection[str] = ()) -> str:
    """The prompt as it may be rendered: gore replaced by suspense (always, with an explicit
    no-gore note when anything changed); for a diary refused as `sexual` or `minors` (the verdict's
    categories), sexual words and nudity replaced as well, and for `minors` every child. Idempotent."""
    softened = _rewrite(prompt, _COMPILED, _SAFE_SUFFIX)
    if SEXUAL_CATEGORIES & set(categories):
        table = _COMPILED_SEXUAL + (_COMPILED_MINOR if "minors" in categories else ())
        softened = _rewrite(softened, table, _CLOTHED_SUFFIX)
    return softened
