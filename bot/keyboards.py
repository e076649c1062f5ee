"""Inline keyboards and the callback data behind their buttons (aiogram `CallbackData` factories).

Callback data travels through Telegram and back, so it is parsed, never trusted: handlers check
that the person pressing owns the job (or is a moderator) before acting on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts import t
from dreamreel.views import JobView


class RateCb(CallbackData, prefix="rate"):
    job_id: int
    value: str  # "up" | "down"


class RerollCb(CallbackData, prefix="reroll"):
    job_id: int
    index: int  # -1: ask which scene


class ClipsCb(CallbackData, prefix="clips"):
    job_id: int


class HistoryCb(CallbackData, prefix="hist"):
    job_id: int


class SettingsCb(CallbackData, prefix="set"):
    name: str  # "segments" | "captions" | "narration" | "clips"
    value: str


class ReviewCb(CallbackData, prefix="review"):
    job_id: int
    action: str  # "approve" | "reject"
    lang: str = "en"  # the language the card is written in, for the outcome line


class VoiceCb(CallbackData, prefix="voice"):
    recording_id: int
    action: str  # "confirm" | "discard"


def voice_keyboard(lang: str, recording_id: int) -> InlineKeyboardMarkup:
    """Buttons under a transcript: make the video of it, or drop it."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[
            InlineKeyboardButton(text=t(lang, "voice_confirm"),
                                 callback_data=VoiceCb(recording_id=recording_id, action="confirm").pack()),
            InlineKeyboardButton(text=t(lang, "voice_discard"),
                                 callback_data=VoiceCb(recording_id=recording_id, action="discard").pack()),
        ]]
    )  # fmt: skip


def video_keyboard(lang: str, job: JobView) -> InlineKeyboardMarkup:
    """Buttons under a delivered video: rate, re-roll a scene, separate clips."""
    index = 0 if len(job.segments) == 1 else -1
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t(lang, "button_up"), callback_data=RateCb(job_id=job.job_id, value="up").pack()),
                InlineKeyboardButton(
                    text=t(lang, "button_down"), callback_data=RateCb(job_id=job.job_id, value="down").pack()
                ),
            ],
            [
                InlineKeyboardButton(
                    text=t(lang, "button_reroll"), callback_data=RerollCb(job_id=job.job_id, index=index).pack()
                ),
                InlineKeyboardButton(text=t(lang, "button_clips"), callback_data=ClipsCb(job_id=job.job_id).pack()),
            ],
        ]
    )


def reroll_keyboard(lang: str, job_id: int, scenes: int) -> InlineKeyboardMarkup:
    """One button per scene of a job."""
    buttons = [
        InlineKeyboardButton(text=t(lang, "reroll_scene", n=i + 1), callback_data=RerollCb(job_id=job_id, index=i).pack())
        for i in range(scenes)
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 3] for i in range(0, len(buttons), 3)])


def history_keyboard(lang: str, job_ids: Iterable[int]) -> InlineKeyboardMarkup | None:
    """A button to fetch each listed video again."""
    rows = [
        [InlineKeyboardButton(text=t(lang, "history_button", job_id=job_id), callback_data=HistoryCb(job_id=job_id).pack())]
        for job_id in job_ids
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def settings_keyboard(
    lang: str,
    segments: int | None,
    captions: bool,
    clips: bool,
    narration: bool = True,
    continuity: str = "none",
    modes: Sequence[str] = ("none",),
) -> InlineKeyboardMarkup:
    """Scenes 1..6 (the current one marked), captions, spoken narration, separate clips: on/off, and
    how scenes connect (pressing moves to the next of `modes`, the ones the configured model can render)."""
    scene_row = [
        InlineKeyboardButton(
            text=f"• {n}" if n == segments else str(n), callback_data=SettingsCb(name="segments", value=str(n)).pack()
        )
        for n in range(1, 7)
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[
            scene_row,
            _switch_row(lang, "captions", captions),
            _switch_row(lang, "narration", narration),
            _switch_row(lang, "clips", clips),
            *(
                [[
                    InlineKeyboardButton(
                        text=t(lang, "settings_continuity", state=t(lang, f"continuity_{continuity}")),
                        callback_data=SettingsCb(name="continuity", value=_next(modes, continuity)).pack(),
                    )
                ]]
                if len(modes) > 1
                else []
            ),
        ]
    )


def _switch_row(lang: str, name: str, on: bool) -> list[InlineKeyboardButton]:
    """One on/off setting (text `settings_<name>`): pressing turns it the other way."""
    return [
        InlineKeyboardButton(
            text=t(lang, f"settings_{name}", state=t(lang, "on" if on else "off")),
            callback_data=SettingsCb(name=name, value="off" if on else "on").pack(),
        )
    ]


def _next(modes: Sequence[str], current: str) -> str:
    return modes[(modes.index(current) + 1) % len(modes)] if current in modes else modes[0]


def review_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    """Approve / Reject under a moderator card."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(lang, "button_approve"), callback_data=ReviewCb(job_id=job_id, action="approve", lang=lang).pack()
                ),
                InlineKeyboardButton(
                    text=t(lang, "button_reject"), callback_data=ReviewCb(job_id=job_id, action="reject", lang=lang).pack()
                ),
            ]
        ]
    )
