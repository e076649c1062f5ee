"""Buttons under a delivered video: rate it, re-roll one scene, get the separate clips."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.delivery import Delivery
from bot.keyboards import ClipsCb, RateCb, RerollCb, reroll_keyboard
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import t
from dreamreel.errors import DreamReelError
from dreamreel.payloads import RatingData
from dreamreel.views import JobView

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)


def build_router() -> Router:
    router = Router(name="video")
    router.callback_query.register(rate, RateCb.filter())
    router.callback_query.register(reroll, RerollCb.filter())
    router.callback_query.register(clips, ClipsCb.filter())
    return router


async def _own_job(callback: CallbackQuery, job_id: int, lang: str, service: DreamService) -> JobView | None:
    """The job, if the person pressing the button sent it; otherwise an alert and None."""
    try:
        job = await asyncio.to_thread(service.get_job, job_id)
    except DreamReelError as exc:
        await callback.answer(exc.user_message(lang), show_alert=True)
        return None
    if job.channel != CHANNEL or job.user != str(callback.from_user.id):
        await callback.answer(t(lang, "not_yours"), show_alert=True)
        return None
    return job


async def rate(callback: CallbackQuery, callback_data: RateCb, lang: str, service: DreamService) -> None:
    job = await _own_job(callback, callback_data.job_id, lang, service)
    if job is None or callback_data.value not in ("up", "down"):
        return
    data = RatingData(rating=callback_data.value, user=job.user, channel=CHANNEL)
    await asyncio.to_thread(service.record_event, job.job_id, f"rated {callback_data.value} in Telegram", data)
    await callback.answer(t(lang, "rated"))


async def reroll(
    callback: CallbackQuery,
    callback_data: RerollCb,
    lang: str,
    prefs: dict[str, Any],
    service: DreamService,
    tracker: ProgressTracker,
    delivery: Delivery,
) -> None:
    job = await _own_job(callback, callback_data.job_id, lang, service)
    if job is None:
        return
    chat_id = callback.from_user.id
    index = callback_data.index
    if index < 0:  # ask which scene first
        await callback.answer()
        await delivery.send_text(chat_id, t(lang, "reroll_choose"), reroll_keyboard(lang, job.job_id, len(job.segments)))
        return
    await callback.answer()
    started = t(lang, "reroll_started", scene=index + 1, job_id=job.job_id)
    status = await delivery.send_text(chat_id, started)
    if status is None:
        return
    # watch before asking: the re-roll's events then all land on this status message
    async with tracker.lock:
        tracker.watch(job.job_id, chat_id, lang, status.message_id, clips=bool(prefs.get("clips")), shown=started)
    try:
        await asyncio.to_thread(service.reroll_segment, job.job_id, index)
    except DreamReelError as exc:
        tracker.unwatch(job.job_id)
        await delivery.edit_text(chat_id, status.message_id, t(lang, "reroll_failed", error=exc.user_message(lang)))


async def clips(
    callback: CallbackQuery, callback_data: ClipsCb, lang: str, service: DreamService, delivery: Delivery
) -> None:
    job = await _own_job(callback, callback_data.job_id, lang, service)
    if job is None:
        return
    await callback.answer()
    await delivery.send_clips(callback.from_user.id, job, lang)
