"""The moderators' side: /queue, and Approve / Reject buttons under review cards.

Only Telegram user ids listed in `DREAMREEL_MODERATOR_IDS` may decide; anyone else pressing a
button gets an alert. A decision is recorded by the service (who, when), the card is edited to
show the outcome, and the user who sent the diary is told (an approved job then runs and its
video is delivered like any other).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message, User

from bot.delivery import MODERATOR_LANG, Delivery, decision_line, review_card, user_chat
from bot.keyboards import ReviewCb, review_keyboard
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import LANGUAGES, normalize_language, status_name, t
from dreamreel.errors import DreamReelError
from dreamreel.settings import Settings
from dreamreel.views import REFUSED_STATES

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

QUEUE_CARDS = 10


def build_router() -> Router:
    router = Router(name="moderator")
    router.message.register(queue, Command("queue"))
    router.callback_query.register(decide, ReviewCb.filter())
    return router


def is_moderator(user: User | None, settings: Settings) -> bool:
    return user is not None and user.id in settings.moderator_ids


def moderator_name(user: User) -> str:
    """How a decision is recorded: the Telegram id, and the @username when there is one."""
    return f"telegram:{user.id}" + (f" (@{user.username})" if user.username else "")


async def queue(message: Message, lang: str, service: DreamService, settings: Settings, delivery: Delivery) -> None:
    if not is_moderator(message.from_user, settings):
        await message.answer(t(lang, "not_moderator"))
        return
    reviews = await asyncio.to_thread(service.moderation_queue)
    if not reviews:
        await message.answer(t(lang, "queue_empty"))
        return
    await message.answer(t(lang, "queue_header", count=len(reviews)))
    for review in reviews[:QUEUE_CARDS]:
        await delivery.send_text(message.chat.id, review_card(review, lang), review_keyboard(lang, review.job_id))


async def decide(
    callback: CallbackQuery,
    callback_data: ReviewCb,
    lang: str,
    service: DreamService,
    settings: Settings,
    tracker: ProgressTracker,
    delivery: Delivery,
) -> None:
    moderator = callback.from_user
    if not is_moderator(moderator, settings):
        log.warning("user %s pressed %s on job %s but is not a moderator", moderator.id, callback_data.action, callback_data.job_id)
        await callback.answer(t(lang, "not_moderator"), show_alert=True)
        return
    if callback_data.action not in ("approve", "reject"):
        await callback.answer()
        return
    job_id = callback_data.job_id
    approve = callback_data.action == "approve"
    try:
        job = await asyncio.to_thread(service.get_job, job_id)
    except DreamReelError as exc:  # a stale card: the job was deleted (or the data forged)
        log.warning("review button on job %s, which cannot be loaded: %s", job_id, exc)
        await callback.answer(exc.user_message(lang), show_alert=True)
        await _close_card(callback, None)
        return
    chat_id = user_chat(job)
    user_lang = "en"
    if job.channel == CHANNEL:
        prefs = await asyncio.to_thread(service.user_prefs, CHANNEL, job.user)
        user_lang = normalize_language(prefs.get("language") or job.language)
    if job.status not in REFUSED_STATES:
        await callback.answer(t(lang, "card_already", status=job.status), show_alert=True)
        await _close_card(callback, None)
        return

    name = moderator_name(moderator)
    # The job's events wait on the tracker's lock, so the user hears of the decision first and
    # the progress of an approved job lands on a status message below that notice.
    async with tracker.lock:
        try:
            if approve:
                job = await asyncio.to_thread(service.approve, job_id, moderator=name)
            else:
                note = t(MODERATOR_LANG, "reject_note", moderator=name)
                job = await asyncio.to_thread(service.reject, job_id, moderator=name, note=note)
        except DreamReelError as exc:
            await callback.answer(exc.user_message(lang), show_alert=True)
            return
        if chat_id is not None:
            key = "review_approved_user" if approve else "review_rejected_user"
            await delivery.send_text(chat_id, t(user_lang, key, job_id=job_id))
            if approve:
                tracker.watch(job_id, chat_id, user_lang, None)
    log.info("job %s %s by %s in Telegram", job_id, "approved" if approve else "rejected", name)
    await callback.answer(status_name(lang, "approved" if approve else "rejected"))
    card_lang = callback_data.lang if callback_data.lang in LANGUAGES else MODERATOR_LANG
    await _close_card(callback, decision_line(card_lang, approve, name))


async def _close_card(callback: CallbackQuery, outcome: str | None) -> None:
    """Edit the review card: the outcome appended, the buttons gone."""
    message = callback.message
    if message is None or not isinstance(message, Message) or callback.bot is None:
        return
    text = message.text or ""
    if outcome:
        text = f"{text}\n\n{outcome}"
    try:
        await callback.bot.edit_message_text(
            text=text[:4096], chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
        )
    except TelegramAPIError as exc:  # the decision is recorded; the card is cosmetic
        log.warning("editing the review card failed: %s", exc)
