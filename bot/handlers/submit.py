"""Starting a job from the chat, shared by typed diaries and confirmed voice diaries: the
person's /settings as the job's options, the per-person limits, the status message answered at
once, and the watch that keeps it up to date."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiogram.types import Message

from bot.delivery import Delivery
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import t
from dreamreel.continuity import CONTINUITY_MODES
from dreamreel.errors import DreamReelError, LimitExceeded
from dreamreel.settings import Settings
from dreamreel.views import JobOptions, JobView

if TYPE_CHECKING:
    from dreamreel.service import DreamService


def continuity_modes(service: DreamService) -> list[str]:
    """The continuity modes the configured model can render (none always)."""
    return [mode for mode in CONTINUITY_MODES if service.continuity_problem(mode) is None]


def preferred_continuity(prefs: dict[str, Any], service: DreamService, settings: Settings) -> str:
    """The person's continuity choice (else the server's), when the model can render it; else none."""
    mode = prefs.get("continuity") or settings.video.continuity
    return mode if mode in continuity_modes(service) else "none"


def job_options(prefs: dict[str, Any], service: DreamService, settings: Settings) -> JobOptions:
    """A diary's options from the person's /settings, alike for a typed and a spoken one."""
    return JobOptions(
        segments=prefs.get("segments"),
        captions=prefs.get("captions"),
        narration=prefs.get("narration"),
        continuity=preferred_continuity(prefs, service, settings),  # type: ignore[arg-type]
    )


async def within_limits(message: Message, lang: str, service: DreamService, settings: Settings, user: str) -> bool:
    """False (and the person told why) when they have too many dreams in the making or this hour.
    Asked before the status message is sent; the submission (`limited=True`) checks again."""
    try:
        await asyncio.to_thread(service.check_limits, CHANNEL, user)
    except LimitExceeded as exc:
        await message.answer(limit_text(lang, exc))
        return False
    return True


def limit_text(lang: str, exc: LimitExceeded) -> str:
    """The person's answer to a limit the service enforces."""
    if exc.kind == "active":
        return t(lang, "limit_active", active=exc.count, limit=exc.limit)
    return t(lang, "limit_hourly", count=exc.count, limit=exc.limit)


async def start_job(
    chat_id: int,
    lang: str,
    prefs: dict[str, Any],
    tracker: ProgressTracker,
    delivery: Delivery,
    submit: Callable[[], JobView],
) -> JobView | None:
    """Answer at once with the status message, submit (in a thread), then watch the job from it."""
    received = t(lang, "received")
    status = await delivery.send_text(chat_id, received)
    if status is None:
        return None
    async with tracker.lock:  # the job's events wait until it is watched
        try:
            job = await asyncio.to_thread(submit)
        except LimitExceeded as exc:  # a diary racing this one took the last slot
            await delivery.edit_text(chat_id, status.message_id, limit_text(lang, exc))
            return None
        except DreamReelError as exc:
            await delivery.edit_text(chat_id, status.message_id, exc.user_message(lang))
            return None
        tracker.watch(job.job_id, chat_id, lang, status.message_id, clips=bool(prefs.get("clips")), shown=received)
    return job
