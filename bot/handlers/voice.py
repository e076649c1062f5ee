"""Voice diaries in the chat: a voice message or an audio file becomes a transcript the person
confirms (✅) or corrects (by sending the right text) before a job starts.

The recording is fetched from Telegram and handed to `service.voice`, which keeps it whatever
happens: bad audio and a missing speech model get a message in the person's language, and the
audio stays stored.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bot.delivery import Delivery
from bot.handlers.submit import job_options, start_job, within_limits
from bot.keyboards import VoiceCb, voice_keyboard
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import t
from dreamreel.errors import BadRecording, DreamReelError
from dreamreel.settings import Settings

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)


def build_router() -> Router:
    router = Router(name="voice")
    # files sent as pictures are the dreamer's photo (bot.handlers.dreamer.photo)
    router.message.register(recording, F.voice | F.audio | (F.document & ~F.document.mime_type.startswith("image/")))
    router.callback_query.register(decide, VoiceCb.filter())
    return router


async def recording(message: Message, bot: Bot, lang: str, service: DreamService, settings: Settings) -> None:
    """Fetch the file, keep it, transcribe it, and show the transcript with ✅ / 🗑."""
    media = message.voice or message.audio or message.document
    if media is None or message.from_user is None:
        return
    user = str(message.from_user.id)
    limit = settings.speech.max_bytes
    if media.file_size is not None and media.file_size > limit:  # Telegram would refuse to hand it over
        too_large = BadRecording("too_large", f"{media.file_size / 1e6:.1f} MB", limit=f"{limit / 1e6:.0f} MB")
        await message.answer(too_large.user_message(lang))
        return
    status = await message.answer(t(lang, "voice_listening"))
    try:
        buffer = io.BytesIO()
        await bot.download(media.file_id, destination=buffer)
    except TelegramAPIError as exc:
        log.warning("could not fetch file %s of user %s: %s", media.file_id, user, exc)
        await status.edit_text(t(lang, "voice_fetch_failed", error=exc.message))
        return
    filename = getattr(media, "file_name", None) or ("voice.ogg" if message.voice else None)
    try:
        heard = await asyncio.to_thread(
            service.voice.receive, buffer.getvalue(), channel=CHANNEL, user=user, filename=filename,
            mime=media.mime_type,
        )  # fmt: skip
    except DreamReelError as exc:  # bad audio or no model: said in their language, the audio kept
        await status.edit_text(exc.user_message(lang))
        return
    await status.edit_text(
        t(lang, "voice_transcript", text=heard.transcript), reply_markup=voice_keyboard(lang, heard.recording_id)
    )


async def correct_transcript(message: Message, lang: str, service: DreamService, recording_id: int, text: str) -> None:
    """The person typed what they really said: it replaces the transcript, shown again to confirm."""
    try:
        corrected = await asyncio.to_thread(service.voice.correct, recording_id, text)
    except DreamReelError as exc:
        await message.answer(exc.user_message(lang))
        return
    await message.answer(
        t(lang, "voice_transcript", text=corrected.transcript), reply_markup=voice_keyboard(lang, recording_id)
    )


async def decide(
    callback: CallbackQuery,
    callback_data: VoiceCb,
    lang: str,
    prefs: dict[str, Any],
    service: DreamService,
    settings: Settings,
    tracker: ProgressTracker,
    delivery: Delivery,
) -> None:
    """✅ makes the job from the transcript (as corrected); 🗑 drops it (the audio stays stored)."""
    user = str(callback.from_user.id)
    try:
        view = await asyncio.to_thread(service.voice.get, callback_data.recording_id)
    except DreamReelError:
        view = None
    if view is None or view.channel != CHANNEL or view.user != user:
        await callback.answer(t(lang, "not_yours"), show_alert=True)
        return
    if view.status != "transcribed":
        await callback.answer(t(lang, "voice_gone"), show_alert=True)
        return
    await callback.answer()
    chat_id = callback.message.chat.id if callback.message is not None else callback.from_user.id
    if callback_data.action == "discard":
        await asyncio.to_thread(service.voice.discard, view.recording_id)
        if callback.message is not None:
            await delivery.edit_text(chat_id, callback.message.message_id, t(lang, "voice_discarded"))
        return
    if callback.message is not None and isinstance(callback.message, Message):
        if not await within_limits(callback.message, lang, service, settings, user):
            return
        await delivery.edit_text(chat_id, callback.message.message_id, t(lang, "voice_confirmed", text=view.transcript))
    options = job_options(prefs, service, settings)
    job = await start_job(
        chat_id, lang, prefs, tracker, delivery,
        lambda: service.voice.confirm(view.recording_id, options=options,
                                      idempotency_key=f"{CHANNEL}:voice:{view.recording_id}", limited=True),
    )  # fmt: skip
    if job is not None:
        log.info("job %s: voice diary %s from telegram user %s", job.job_id, view.recording_id, user)
