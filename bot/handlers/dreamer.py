"""The dreamer's side: /start, /help, /lang, /history, /settings, and any text as a diary."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.delivery import Delivery
from bot.handlers.submit import start_job, within_limits
from bot.handlers.voice import correct_transcript
from bot.keyboards import HistoryCb, SettingsCb, history_keyboard, settings_keyboard
from bot.progress import ProgressTracker
from bot.sender import CHANNEL
from bot.texts import LANGUAGES, emotion_name, status_name, t
from dreamreel.settings import Settings
from dreamreel.views import JobOptions

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

HISTORY_SIZE = 10


def build_router() -> Router:
    router = Router(name="dreamer")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(set_language, Command("lang"))
    router.message.register(history, Command("history"))
    router.message.register(show_settings, Command("settings"))
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(diary, F.text)
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


def _settings_text(lang: str, prefs: dict[str, Any], settings: Settings) -> str:
    segments = prefs.get("segments")
    captions = prefs.get("captions", settings.video.captions)
    return t(
        lang,
        "settings_header",
        segments=segments if segments else t(lang, "default", n=settings.default_segments),
        captions=t(lang, "on" if captions else "off"),
        narration=t(lang, "on" if prefs.get("narration", settings.audio.narration) else "off"),
        clips=t(lang, "on" if prefs.get("clips") else "off"),
    )


def _settings_markup(lang: str, prefs: dict[str, Any], settings: Settings) -> InlineKeyboardMarkup:
    return settings_keyboard(
        lang,
        prefs.get("segments") or settings.default_segments,
        bool(prefs.get("captions", settings.video.captions)),
        bool(prefs.get("clips")),
        bool(prefs.get("narration", settings.audio.narration)),
    )


async def show_settings(message: Message, lang: str, prefs: dict[str, Any], settings: Settings) -> None:
    await message.answer(_settings_text(lang, prefs, settings), reply_markup=_settings_markup(lang, prefs, settings))


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
            _settings_text(lang, prefs, settings),
            _settings_markup(lang, prefs, settings),
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
) -> None:
    """Any text is a dream diary (or the correction of a voice diary's transcript): check limits,
    answer at once, submit, then watch the job."""
    if message.from_user is None or message.text is None:
        return
    user = str(message.from_user.id)
    chat_id = message.chat.id
    text = message.text
    if len(text) > settings.max_diary_chars:
        await message.answer(t(lang, "too_long", length=len(text), max_chars=settings.max_diary_chars))
        return
    pending = await asyncio.to_thread(service.voice.pending, CHANNEL, user)
    if pending is not None:  # a transcript waits for a yes: this text corrects it
        await correct_transcript(message, lang, service, pending.recording_id, text)
        return
    if not await within_limits(message, lang, service, settings, user):
        return
    options = JobOptions(segments=prefs.get("segments"), captions=prefs.get("captions"),
                         narration=prefs.get("narration"))  # fmt: skip
    job = await start_job(
        chat_id, lang, prefs, tracker, delivery,
        lambda: service.submit_diary(
            text, channel=CHANNEL, user=user, options=options,
            idempotency_key=f"{CHANNEL}:{chat_id}:{message.message_id}",
        ),
    )  # fmt: skip
    if job is not None:
        log.info("job %s: diary from telegram user %s (%d chars)", job.job_id, user, len(text))
