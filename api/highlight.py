"""Cut a diary into plain and highlighted pieces from the verdict's reason spans."""

from __future__ import annotations

from dataclasses import dataclass

from dreamreel.views import ReasonView


@dataclass(frozen=True)
class Piece:
    text: str
    marked: bool = False
    note: str = ""  # categories and scores of a highlighted piece


def _locate(diary: str, reason: ReasonView) -> tuple[int, int] | None:
    span = reason.span
    if span is None:
        return None
    start, end = max(0, span.start), min(len(diary), span.end)
    if start < end and (not span.text or diary[start:end] == span.text):
        return start, end
    if span.text:  # offsets of a text that was trimmed differently: find the words instead
        found = diary.find(span.text)
        if found >= 0:
            return found, found + len(span.text)
    return None


def highlight(diary: str, reasons: list[ReasonView]) -> list[Piece]:
    """Pieces that concatenate to `diary`; overlapping spans merge into one highlighted piece."""
    ranges: list[tuple[int, int, str]] = []
    for reason in reasons:
        where = _locate(diary, reason)
        if where is not None:
            ranges.append((*where, f"{reason.category} {reason.score:.2f}"))
    ranges.sort()
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, note in ranges:
        if merged and start <= merged[-1][1]:
            last_start, last_end, notes = merged[-1]
            merged[-1] = (last_start, max(last_end, end), [*notes, note])
        else:
            merged.append((start, end, [note]))
    pieces: list[Piece] = []
    cursor = 0
    for start, end, notes in merged:
        if start > cursor:
            pieces.append(Piece(diary[cursor:start]))
        pieces.append(Piece(diary[start:end], marked=True, note=", ".join(dict.fromkeys(notes))))
        cursor = end
    if cursor < len(diary):
        pieces.append(Piece(diary[cursor:]))
    return pieces
