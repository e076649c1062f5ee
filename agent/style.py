"""Style choice: an emotion picks its look (LoRA, palette, motion, prompt suffix) from the settings table."""

from __future__ import annotations

import logging

from agent.schemas import Style

logger = logging.getLogger(__name__)

FALLBACK = "neutral"


def choose_style(emotion: str | None, styles: dict[str, Style]) -> Style:
    """The style for `emotion` from `styles` (settings' emotion -> Style table).

    An unknown or missing emotion falls back to the "neutral" entry, and a table without one
    to a plain `Style(name="neutral")`, so rendering never fails for want of a style.
    """
    if emotion and emotion in styles:
        return styles[emotion]
    if emotion:
        logger.warning("no style for emotion %r; using %s", emotion, FALLBACK)
    return styles.get(FALLBACK) or Style(name=FALLBACK)
