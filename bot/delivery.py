"""What the bot sends about a job: the video (or a smaller rendition, or a link), the clips,
the refusal notice, the outcome of a review, and the moderator's review card.

Every send goes through `ChatSender`, so a user who blocked the bot is not written to again.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramEntityTooLarge
from aiogram.types import FSInputFile, InlineKeyboardMarkup, Message

from bot.keyboards import review_keyboard, video_keyboard
from bot.sender import CHANNEL, ChatSender
from bot.texts import emotion_name, t
from dreamreel.links import DEFAULT_TTL, link_secret, sign_media_url
from dreamreel.settings import Settings
from dreamreel.views import JobView, ReasonView, ReviewView

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

DIARY_PREVIEW_CHARS = 700
MODERATOR_LANG = "en"


class Delivery:
    """Sends job results to chats. `bind(bot)` before use (done at dispatcher start-up)."""

    def __init__(self, service: DreamService, settings: Settings, sender: ChatSender) -> None:
        self.service = service
        self.settings = settings
        self.sender = sender
        self._bot: Bot | None = None

    def bind(self, bot: Bot) -> None:
        self._bot = bot

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("Delivery.bind(bot) was not called")
        return self._bot

    # -- plain messages --------------------------------------------------------------------

    async def send_text(
        self, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        return await self.sender.call(
            chat_id, lambda: self.bot.send_message(chat_id, text, reply_markup=reply_markup)
        )

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await self.sender.call(
            chat_id,
            lambda: self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
            ),
        )

    # -- the video -------------------------------------------------------------------------

    async def send_video(self, chat_id: int, job: JobView, lang: str, *, clips: bool = False) -> None:
        """The stitched video with its caption and buttons; then the clips when asked for."""
        path = await asyncio.to_thread(self.service.video_file, job.job_id)
        if path is None or not Path(path).is_file():
            await self.send_text(chat_id, t(lang, "video_missing", job_id=job.job_id))
            return
        caption = t(
            lang, "caption", job_id=job.job_id, scenes=len(job.segments), emotion=emotion_name(lang, job.emotion)
        )
        if job.verdict is not None and job.verdict.withheld:
            caption += "\n" + t(lang, "withheld", count=len(job.verdict.withheld))
        await self._upload(chat_id, Path(path), caption, video_keyboard(lang, job), lang, job.job_id)
        if clips:
            await self.send_clips(chat_id, job, lang)

    async def send_clips(self, chat_id: int, job: JobView, lang: str) -> None:
        """One message per rendered scene clip."""
        total = len(job.segments)
        sent = 0
        for index in range(total):
            path = await asyncio.to_thread(self.service.clip_file, job.job_id, index)
            if path is None or not Path(path).is_file():
                continue
            caption = t(lang, "clips_caption", job_id=job.job_id, scene=index + 1, scenes=total)
            quality = clip_quality_line(job, index, lang)
            if quality:
                caption += "\n" + quality
            await self._upload(chat_id, Path(path), caption, None, lang, job.job_id, clip=index)
            sent += 1
        if not sent:
            await self.send_text(chat_id, t(lang, "clips_none", job_id=job.job_id))

    def upload_limit_bytes(self) -> int:
        return int(self.settings.telegram_upload_limit_mb * 1024 * 1024)

    async def _upload(
        self,
        chat_id: int,
        path: Path,
        caption: str,
        markup: InlineKeyboardMarkup | None,
        lang: str,
        job_id: int,
        *,
        clip: int | None = None,
    ) -> None:
        """Send the video (or clip `clip`) as a file; too large: a smaller rendition, else a signed link."""
        limit = self.upload_limit_bytes()
        if path.stat().st_size <= limit:
            try:
                await self._send_video_file(chat_id, path, caption, markup)
                return
            except TelegramEntityTooLarge:
                log.warning("job %s: server refused %s as too large", job_id, path.name)
        # Too large for Telegram: a smaller rendition, else a download link.
        with tempfile.TemporaryDirectory(prefix="dreamreel-bot-") as tmp:
            smaller = await asyncio.to_thread(shrink_video, path, Path(tmp), limit)
            if smaller is not None:
                try:
                    note = f"{caption}\n{t(lang, 'smaller_rendition')}"
                    await self._send_video_file(chat_id, smaller, note, markup)
                    return
                except TelegramEntityTooLarge:
                    log.warning("job %s: even the smaller rendition was refused", job_id)
        url = self.download_link(job_id, clip)
        if url is not None:
            days = DEFAULT_TTL // 86400
            await self.send_text(chat_id, f"{caption}\n{t(lang, 'too_large_link', url=url, days=days)}", markup)
        else:
            await self.send_text(chat_id, f"{caption}\n{t(lang, 'too_large')}", markup)

    def download_link(self, job_id: int, clip: int | None = None) -> str | None:
        """A signed, expiring API link to the file; None without a public URL or a link secret."""
        base, secret = self.settings.public_base_url, link_secret(self.settings)
        if not base or not secret:
            log.info("job %s: no download link (public_base_url or link_secret unset)", job_id)
            return None
        return sign_media_url(base, job_id, clip=clip, secret=secret)

    async def _send_video_file(
        self, chat_id: int, path: Path, caption: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        await self.sender.call(
            chat_id,
            lambda: self.bot.send_video(
                chat_id,
                FSInputFile(path, filename=path.name),
                caption=caption,
                reply_markup=markup,
                supports_streaming=True,
            ),
        )

    # -- refusals and reviews --------------------------------------------------------------

    async def notify_refused(self, chat_id: int, job: JobView, lang: str, status_message_id: int | None) -> None:
        """Tell the user no video will be made (their diary is kept); add support for self-harm."""
        text = t(lang, "refused")
        if status_message_id is not None:
            await self.edit_text(chat_id, status_message_id, text)
        else:
            await self.send_text(chat_id, text)
        if job.verdict is not None and job.verdict.support_message:
            await self.send_text(chat_id, t(lang, "support"))

    async def post_review(self, job_id: int) -> None:
        """Send the moderators' chat the card of a refused request, with Approve / Reject."""
        chat_id = self.settings.moderator_chat_id
        if chat_id is None:
            log.info("job %s refused; no moderator chat configured", job_id)
            return
        review = await self.pending_review(job_id)
        if review is None:
            log.warning("job %s refused but has no pending review", job_id)
            return
        await self.send_text(chat_id, review_card(review, MODERATOR_LANG), review_keyboard(MODERATOR_LANG, job_id))

    async def pending_review(self, job_id: int) -> ReviewView | None:
        job = await asyncio.to_thread(self.service.get_job, job_id, detail=True)
        pending = [r for r in job.reviews or [] if r.status == "pending"]
        return pending[-1] if pending else None


def review_card(review: ReviewView, lang: str, outcome: str | None = None) -> str:
    """The moderator's view of a refused request: diary (trimmed), verdict, reasons with spans."""
    diary = review.diary
    if len(diary) > DIARY_PREVIEW_CHARS:
        diary = diary[:DIARY_PREVIEW_CHARS].rstrip() + " …"
    lines = [
        t(lang, "card_header", job_id=review.job_id, decision=review.verdict),
        t(lang, "card_user", user=review.user, language=review.language or "?"),
        "",
        t(lang, "card_diary", diary=diary),
        "",
        t(lang, "card_reasons"),
    ]
    lines += [reason_line(lang, r) for r in review.reasons] or [t(lang, "card_no_reasons")]
    if outcome:
        lines += ["", outcome]
    return "\n".join(lines)[:4000]


def reason_line(lang: str, reason: ReasonView) -> str:
    span = f' — "{reason.span.text}" [{reason.span.start}:{reason.span.end}]' if reason.span else ""
    return t(lang, "card_reason", category=reason.category, score=reason.score, span=span)


def decision_line(lang: str, approved: bool, moderator: str, when: datetime | None = None) -> str:
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return t(lang, "card_approved" if approved else "card_rejected", moderator=moderator, when=stamp)


def shrink_video(path: Path, out_dir: Path, limit_bytes: int) -> Path | None:
    """Re-encode `path` smaller (half, then a quarter of the size) until it fits `limit_bytes`."""
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # no bundled ffmpeg: try the system one
        ffmpeg = shutil.which("ffmpeg") or ""
    if not ffmpeg:
        log.warning("no ffmpeg found; cannot make a smaller rendition of %s", path)
        return None
    for divisor, crf in ((2, 32), (4, 38)):
        out = out_dir / f"{path.stem}-small{divisor}.mp4"
        scale = f"scale=trunc(iw/{2 * divisor})*2:trunc(ih/{2 * divisor})*2"
        cmd = [
            ffmpeg, "-y", "-loglevel", "error", "-i", str(path), "-vf", scale, "-c:v", "libx264",
            "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart",
            str(out),
        ]
        result = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
        if result.returncode != 0:
            log.warning("ffmpeg failed shrinking %s: %s", path, result.stderr.decode(errors="replace")[-300:])
            return None
        if out.stat().st_size <= limit_bytes:
            return out
    return None


def user_chat(job: JobView) -> int | None:
    """The private chat of the Telegram user who sent a job (None for other channels)."""
    if job.channel != CHANNEL:
        return None
    try:
        return int(job.user)
    except ValueError:
        return None


def clip_quality_line(job: JobView, index: int, lang: str) -> str | None:
    """The scene clip's quality score and attempts, for its caption (None when it was not scored)."""
    segment = next((seg for seg in job.segments if seg.index == index), None)
    if segment is None or segment.quality is None:
        return None
    q = segment.quality
    attempts = max(len(segment.attempts), 1)
    if q.passed:
        return t(lang, "clips_quality", overall=f"{q.overall:.2f}", attempts=attempts)
    return t(lang, "clips_quality_low", overall=f"{q.overall:.2f}", attempts=attempts, failures=", ".join(q.failures))
