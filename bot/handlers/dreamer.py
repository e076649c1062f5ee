"""The dreamer's side: /start, /help, /lang, /history, /settings, and any text as a diary."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.delivery import Delivery
from bot.handlers.submit import continuity_modes, job_options, preferred_continuity, start_job, within_limits
from bot.handlers.voice import correct_transcript
from bot.keyboards import HistoryCb, SettingsCb, history_keyboard, settings_keyboard
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import LANGUAGES, emotion_name, status_name, t
from dreamreel.errors import AnimatedImage, BadImage, DreamReelError, ImageTooLarge, NotAnImage
from dreamreel.settings import Settings

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

HISTORY_SIZE = 10
PHOTO_WINDOW = timedelta(minutes=10)  # a photo alone belongs to a diary sent this recently


def build_router() -> Router:
    router = Router(name="dreamer")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(set_language, Command("lang"))
    router.message.register(history, Command("history"))
    router.message.register(show_settings, Command("settings"))
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(diary, F.text)
    router.message.register(photo, F.photo | F.animation | F.document.mime_type.startswith("image/"))
    router.message.register(not_text)  # stickers, photos, voice, documents, ...
    router.callback_query.register(change_setting, SettingsCb.filter())
    router.callback_query.register(history_video, HistoryCb.filter())
    return router


async def start(message: Message, lang: str) -> None:
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(t(lang, "start", name=name))


async def help_(message: Message, lang: str, settings: Settings) -> None:
    await message.answer(t(lang, "help", max_chars=settings.max_diary_chars))


async def set_language(message: Message, command: CommandObject, lang: str, service: DreamService) -> None:
    choice = (command.args or "").strip().lower()
    if choice not in LANGUAGES or message.from_user is None:
        await message.answer(t(lang, "lang_usage"))
        return
    await asyncio.to_thread(service.update_user, CHANNEL, str(message.from_user.id), language=choice)
    await message.answer(t(choice, "lang_set"))


async def history(message: Message, lang: str, service: DreamService) -> None:
    if message.from_user is None:
        return
    jobs = await asyncio.to_thread(
        service.list_jobs, channel=CHANNEL, user=str(message.from_user.id), limit=HISTORY_SIZE
    )
    if not jobs:
        await message.answer(t(lang, "history_empty"))
        return
    lines = [t(lang, "history_header")]
    for job in jobs:
        emotion = f" · {emotion_name(lang, job.emotion)}" if job.emotion else ""
        date = job.created_at.strftime("%m-%d %H:%M")
        lines.append(
            t(lang, "history_line", job_id=job.job_id, date=date, status=status_name(lang, job.status), emotion=emotion)
        )
    done = [job.job_id for job in jobs if job.status == "done"]
    await message.answer("\n".join(lines), reply_markup=history_keyboard(lang, done))


async def history_video(
    callback: CallbackQuery, callback_data: HistoryCb, lang: str, service: DreamService, delivery: Delivery
) -> None:
    job = await asyncio.to_thread(service.get_job, callback_data.job_id)
    if job.channel != CHANNEL or job.user != str(callback.from_user.id):
        await callback.answer(t(lang, "not_yours"), show_alert=True)
        return
    await callback.answer()
    await delivery.send_video(callback.from_user.id, job, lang)


def _settings_text(lang: str, prefs: dict[str, Any], settings: Settings, service: DreamService) -> str:
    segments = prefs.get("segments")
    captions = prefs.get("captions", settings.video.captions)
    return t(
        lang,
        "settings_header",
        segments=segments if segments else t(lang, "default", n=settings.default_segments),
        captions=t(lang, "on" if captions else "off"),
        narration=t(lang, "on" if prefs.get("narration", settings.audio.narration) else "off"),
        clips=t(lang, "on" if prefs.get("clips") else "off"),
        continuity=t(lang, f"continuity_{preferred_continuity(prefs, service, settings)}"),
    )


def _settings_markup(
    lang: str, prefs: dict[str, Any], settings: Settings, service: DreamService
) -> InlineKeyboardMarkup:
    return settings_keyboard(
        lang,
        prefs.get("segments") or settings.default_segments,
        bool(prefs.get("captions", settings.video.captions)),
        bool(prefs.get("clips")),
        bool(prefs.get("narration", settings.audio.narration)),
        preferred_continuity(prefs, service, settings),
        continuity_modes(service),
    )


async def show_settings(
    message: Message, lang: str, prefs: dict[str, Any], settings: Settings, service: DreamService
) -> None:
    await message.answer(
        _settings_text(lang, prefs, settings, service), reply_markup=_settings_markup(lang, prefs, settings, service)
    )


async def change_setting(
    callback: CallbackQuery,
    callback_data: SettingsCb,
    lang: str,
    prefs: dict[str, Any],
    service: DreamService,
    settings: Settings,
    delivery: Delivery,
) -> None:
    change: dict[str, Any]
    if callback_data.name == "segments" and callback_data.value.isdigit() and 1 <= int(callback_data.value) <= 6:
        change = {"segments": int(callback_data.value)}
    elif callback_data.name in ("captions", "narration", "clips") and callback_data.value in ("on", "off"):
        change = {callback_data.name: callback_data.value == "on"}
    elif callback_data.name == "continuity" and callback_data.value in continuity_modes(service):
        change = {"continuity": callback_data.value}
    else:
        await callback.answer()
        return
    await asyncio.to_thread(service.update_user, CHANNEL, str(callback.from_user.id), prefs=change)
    prefs = {**prefs, **change}
    await callback.answer()
    if callback.message is not None:  # pressing the current value changes nothing: no error
        await delivery.edit_text(
            callback.message.chat.id,
            callback.message.message_id,
            _settings_text(lang, prefs, settings, service),
            _settings_markup(lang, prefs, settings, service),
        )


async def unknown_command(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unknown_command"))


async def not_text(message: Message, lang: str) -> None:
    await message.answer(t(lang, "not_text"))


async def diary(
    message: Message,
    lang: str,
    prefs: dict[str, Any],
    service: DreamService,
    settings: Settings,
    tracker: ProgressTracker,
    delivery: Delivery,
    text: str | None = None,
    photo: bytes | None = None,
) -> None:
    """Any text is a dream diary (or the correction of a voice diary's transcript): check limits,
    answer at once, submit, then watch the job. (`text` and `photo`: a picture whose caption is the
    diary.)"""
    text = text if text is not None else message.text
    if message.from_user is None or text is None:
        return
    user = str(message.from_user.id)
    chat_id = message.chat.id
    if len(text) > settings.max_diary_chars:
        await message.answer(t(lang, "too_long", length=len(text), max_chars=settings.max_diary_chars))
        return
    pending = await asyncio.to_thread(service.voice.pending, CHANNEL, user)
    if pending is not None:  # a transcript waits for a yes: this text corrects it
        await correct_transcript(message, lang, service, pending.recording_id, text)
        return
    if not await within_limits(message, lang, service, settings, user):
        return
    options = job_options(prefs, service, settings)
    job = await start_job(
        chat_id, lang, prefs, tracker, delivery,
        lambda: service.submit_diary(
            text, channel=CHANNEL, user=user, options=options,
            idempotency_key=f"{CHANNEL}:{chat_id}:{message.message_id}", photo=photo, limited=True,
        ),
    )  # fmt: skip
    if job is not None:
        log.info("job %s: diary from telegram user %s (%d chars)", job.job_id, user, len(text))


async def photo(
    message: Message,
    lang: str,
    prefs: dict[str, Any],
    service: DreamService,
    settings: Settings,
    tracker: ProgressTracker,
    delivery: Delivery,
) -> None:
    """A picture: with a caption it is a diary with the dreamer's photo; alone it belongs to the
    diary sent just before (within PHOTO_WINDOW). A picture that cannot be used is explained in the
    user's language; the diary is saved and made without it."""
    if message.from_user is None:
        return
    user = str(message.from_user.id)
    if message.caption:
        try:
            data: bytes | None = await _download_picture(message, service, settings)
        except BadImage as exc:
            data = None
            await message.answer(t(lang, "photo_not_used", error=exc.user_message(lang)))
        await diary(message, lang, prefs, service, settings, tracker, delivery, text=message.caption, photo=data)
        return
    # a photo alone: fetched only when there is a diary it belongs to
    since = datetime.now(UTC) - PHOTO_WINDOW
    recent = await asyncio.to_thread(service.list_jobs, channel=CHANNEL, user=user, limit=1)
    if not recent or recent[0].created_at < since or recent[0].photo:
        await message.answer(t(lang, "photo_no_diary"))
        return
    try:
        data = await _download_picture(message, service, settings)
    except BadImage as exc:
        await message.answer(exc.user_message(lang))
        return
    assert data is not None
    async with tracker.lock:  # a remake's events wait until it is watched, as a new diary's do
        try:
            job = await asyncio.to_thread(service.attach_photo, recent[0].job_id, data)
        except DreamReelError as exc:
            await message.answer(exc.user_message(lang))
            return
        again = job.status not in ("done", "failed") and recent[0].status in ("done", "failed", "stitching")
        await message.answer(t(lang, "photo_added_rerender" if again else "photo_added", job_id=job.job_id))
        if again:
            received = t(lang, "received")
            status = await delivery.send_text(message.chat.id, received)
            if status is not None:
                tracker.watch(job.job_id, message.chat.id, lang, status.message_id, clips=bool(prefs.get("clips")),
                              shown=received)


async def _download_picture(message: Message, service: DreamService, settings: Settings) -> bytes:
    """The picture's bytes, checked for size before downloading and for content after."""
    if message.animation is not None:
        raise AnimatedImage("an animation")
    item = message.photo[-1] if message.photo else message.document
    if item is None or message.bot is None:
        raise NotAnImage("no picture in the message")
    limit = int(settings.max_image_mb * 2**20)
    if item.file_size is not None and item.file_size > limit:
        raise ImageTooLarge(f"{item.file_size / 2**20:.1f} MB, at most {settings.max_image_mb:.0f} MB")
    buffer = await message.bot.download(item.file_id)
    if buffer is None:
        raise NotAnImage("the file could not be fetched from Telegram")
    data = buffer.read()
    await asyncio.to_thread(service.check_photo, data)  # refuse early, in the user's language
    return data
