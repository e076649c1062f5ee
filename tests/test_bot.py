"""End-to-end conversations: the real aiogram bot (Dispatcher + long polling) talks HTTP to a Bot
API server on 127.0.0.1 (tests/fakes/telegram_server.py), backed by the real DreamService with
tiny preview settings. The tests play the dreamer, a moderator and a stranger.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import CONSUMER, build_bot, build_dispatcher
from bot.delivery import clip_quality_line
from bot.texts import t
from dreamreel.settings import Settings, load_settings
from dreamreel.wiring import build_service
from tests.fakes.telegram_server import FakeTelegramServer, button_data
from tests.helpers import FAST_PREVIEW, REPO, fast_env

DREAMER = 1001
STRANGER = 1002
MODERATOR = 9001
MOD_CHAT = -100555

KO_DREAM = (
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다. "
    "고래 뱃속에는 어릴 적 살던 집이 있었고, 엄마가 저녁을 차리고 계셨다."
)
SELF_HARM_DREAM = "꿈속에서 너무 지쳐서 그냥 죽고 싶다고 생각했다. 아무도 나를 찾지 않았다."
LINK_SECRET = "link-secret-0123456789abcdef"
WITHHELD_DREAM = (
    "할머니 집에 놀러 갔다. 부엌에서 같이 국수를 먹었다. 그날 밤 다락방에서 애인과 성관계를 했다. "
    "저녁에는 등대까지 해변을 걸었다. 바다는 초록색이었고 조용했다. 갈색 개 한 마리가 집까지 따라왔다."
)
GORE_DREAM = "꿈에서 나는 칼로 룸메이트를 여러 번 찔러 살해했다. 바닥에 피가 흥건했고 나는 시체를 숨기려고 했다."

pytestmark = pytest.mark.timeout(120)


@dataclass
class Harness:
    server: FakeTelegramServer
    service: Any
    settings: Settings

    def status_message(self, chat_id: int, text: str) -> dict[str, Any] | None:
        return self.server.last_message(chat_id, lambda m: m.get("text") == text)


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, status_interval: float = 0.3, consumer: str | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    server = FakeTelegramServer()
    base = await server.start()
    values: dict[str, Any] = {
        "telegram_token": server.token,
        "telegram_api_base": base,
        "moderator_ids": [MODERATOR],
        "moderator_chat_id": MOD_CHAT,
        "default_segments": 2,
    }
    values.update(overrides)
    settings = load_settings(**values)
    service = build_service(settings, background=True, consumer=consumer)
    bot = build_bot(settings)
    dp = build_dispatcher(service, settings, status_interval=status_interval)
    polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False))
    try:
        await server.wait_for(lambda: server.calls_to("getUpdates"), what="polling to start")
        yield Harness(server, service, settings)
    finally:
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        await asyncio.wait_for(polling, 10)
        await asyncio.to_thread(service.close)
        await server.stop()
        (tmp_path / "transcript.txt").write_text("\n".join(server.transcript) + "\n", encoding="utf-8")
        print("\n--- transcript ---\n" + "\n".join(server.transcript))


@pytest.fixture(autouse=True)
def _fast_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)


async def open_settings(h: Harness, user: dict[str, Any]) -> dict[str, Any]:
    """`user` sends /settings; the panel the bot answers with."""
    s = h.server
    s.send_text(user, "/settings")
    return await s.wait_for(lambda: s.last_message(user["id"], lambda m: "reply_markup" in m), what="settings")


async def press_setting(h: Harness, user: dict[str, Any], panel: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """Press the panel's button that sets `name` to `value`, wait until it is saved; the panel as it is then."""
    s = h.server
    button = "on" if value is True else "off" if value is False else str(value)
    s.press(user, panel, button_data(panel, f"set:{name}:{button}")[0])

    def saved() -> bool:
        stored = h.service.user_prefs("telegram", str(user["id"])).get(name)
        return stored is value if isinstance(value, bool) else stored == value

    await s.wait_for(saved, what=f"{name} saved")
    return s.messages[(user["id"], panel["message_id"])]


def _is_mp4(data: bytes) -> bool:
    return len(data) > 32 and data[4:8] == b"ftyp"


async def _job_of(h: Harness, user: int, index: int = 0) -> Any:
    jobs = await h.server.wait_for(
        lambda: h.service.list_jobs(channel="telegram", user=str(user)), what=f"a job of user {user}"
    )
    return sorted(jobs, key=lambda j: j.job_id)[index]


STAGE_ORDER = ["received", "stage_planning", "stage_approved", "stage_rendering", "stage_stitching", "stage_done"]


def _stage(text: str) -> int:
    """The position of a Korean status line in the order of stages."""
    for i, key in enumerate(STAGE_ORDER):
        template = t("ko", key)
        prefix = template.split("{")[0] if "{" in template else template
        if text.startswith(prefix):
            return i
    raise AssertionError(f"not a status line: {text!r}")


async def test_korean_dream_becomes_a_delivered_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 24 frames a scene: rendering lasts long enough for the status message to show it
    monkeypatch.setenv("DREAMREEL_PREVIEW__FPS", "8")
    monkeypatch.setenv("DREAMREEL_PREVIEW__SECONDS_PER_SCENE", "3")
    async with running_bot(tmp_path, status_interval=0.05) as h:
        s = h.server
        dreamer = s.user(DREAMER, first_name="지민", language_code="ko")
        s.send_text(dreamer, "/start")
        await s.wait_for(lambda: any("DreamReel" in x for x in s.texts_to(DREAMER)), what="greeting")
        assert "안녕하세요 지민님" in s.texts_to(DREAMER)[0]  # Korean, from the user's language_code

        s.send_text(dreamer, KO_DREAM)
        video = await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video")
        job = await _job_of(h, DREAMER)
        assert job.status == "done"

        # ONE status message, answered at once, then edited through the stages up to "done"
        received = [c for c in s.calls_to("sendMessage", DREAMER) if c.text == t("ko", "received")]
        assert len(received) == 1
        status = h.status_message(DREAMER, t("ko", "stage_done"))
        assert status is not None
        edits = [c for c in s.calls_to("editMessageText", DREAMER, ok=True)
                 if int(c.params["message_id"]) == status["message_id"]]
        texts = [c.text for c in edits]
        stages = [_stage(x) for x in texts]
        assert texts[-1] == t("ko", "stage_done")
        assert stages == sorted(stages), texts  # the message only ever moves forward
        assert STAGE_ORDER.index("stage_rendering") in stages, texts  # e.g. "🎬 장면 1/2 그리는 중… 40%"
        # throttled: edits of one chat at least status_interval apart (1 s by default; see test_bot_units)
        gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
        assert all(g >= 0.045 for g in gaps), gaps

        # the video: real mp4 bytes, caption with scene count and emotion, buttons under it
        upload = video[0]
        assert _is_mp4(upload.files["video"])
        assert upload.files["video"] == Path(h.service.video_file(job.job_id)).read_bytes()
        assert f"꿈 #{job.job_id}" in upload.text and f"장면 {len(job.segments)}개" in upload.text
        assert "감정:" in upload.text
        sent = s.last_message(DREAMER, lambda m: "video" in m)
        assert sent is not None
        assert button_data(sent, "rate:") and button_data(sent, "reroll:") and button_data(sent, "clips:")

        # 👍 is stored as an event on the job
        s.press(dreamer, sent, f"rate:{job.job_id}:up")
        await s.wait_for(lambda: s.calls_to("answerCallbackQuery"), what="rating answered")
        ratings = [e for e in h.service.events(job.job_id) if e.kind == "rating"]
        assert ratings and ratings[-1].data["rating"] == "up"


async def test_a_dream_with_a_moment_left_out_is_delivered_and_the_caption_says_so(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, first_name="지민", language_code="ko")
        s.send_text(dreamer, WITHHELD_DREAM)
        video = await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video")
        job = await _job_of(h, DREAMER)
        assert job.status == "done" and job.verdict is not None
        assert "그날 밤 다락방에서 애인과 성관계를 했다." in [w.text for w in job.verdict.withheld]
        assert t("ko", "withheld", count=len(job.verdict.withheld)) in video[0].text
        assert t("ko", "refused") not in s.texts_to(DREAMER)
        assert all("성관계" not in seg.text for seg in job.segments)


async def test_refused_dream_waits_for_a_moderator_who_approves(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        stranger = s.user(STRANGER, first_name="Eve", language_code="en")
        moderator = s.user(MODERATOR, first_name="Mina", language_code="ko", username="mina_mod")

        s.send_text(dreamer, SELF_HARM_DREAM)
        card = await s.wait_for(lambda: s.last_message(MOD_CHAT), what="the moderator card")
        job = await _job_of(h, DREAMER)
        assert job.status == "in_review"

        # the user: no video, diary saved, a person will look; plus a support message
        await s.wait_for(lambda: t("ko", "support") in s.texts_to(DREAMER), what="support message")
        refusal = h.status_message(DREAMER, t("ko", "refused"))
        assert refusal is not None  # the status message itself now says so
        assert not s.calls_to("sendVideo", DREAMER)

        # the card: diary, verdict, category with score, the offending span, two buttons
        assert "죽고 싶다" in card["text"] and "self_harm" in card["text"] and "review" in card["text"]
        approve = button_data(card, "review:")
        assert len(approve) == 2

        # a stranger presses Approve: an alert, nothing decided
        s.press(stranger, card, button_data(card, f"review:{job.job_id}:approve")[0])
        await s.wait_for(lambda: s.calls_to("answerCallbackQuery"), what="stranger answered")
        alert = s.calls_to("answerCallbackQuery")[-1]
        assert alert.params.get("show_alert") in ("true", True)
        assert alert.params["text"] == t("en", "not_moderator")
        assert h.service.get_job(job.job_id).status == "in_review"

        # the moderator approves: card edited, user told, the video follows
        s.press(moderator, card, button_data(card, f"review:{job.job_id}:approve")[0])
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="video after approval")
        assert t("ko", "review_approved_user", job_id=job.job_id) in s.texts_to(DREAMER)
        edited = s.messages[(MOD_CHAT, card["message_id"])]
        await s.wait_for(lambda: "Approved by" in edited["text"], what="card shows the outcome")
        assert "Approved by telegram:9001 (@mina_mod)" in edited["text"]
        assert "reply_markup" not in edited  # buttons gone
        detail = h.service.get_job(job.job_id, detail=True)
        assert detail.status == "done"
        assert detail.reviews[-1].status == "approved"
        assert detail.reviews[-1].moderator == "telegram:9001 (@mina_mod)"
        assert detail.reviews[-1].decided_at is not None


async def test_moderator_rejects_and_queue_lists_pending(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="en")
        moderator = s.user(MODERATOR, first_name="Mina", language_code="en")

        s.send_text(dreamer, GORE_DREAM)
        await s.wait_for(lambda: s.last_message(MOD_CHAT), what="the moderator card")
        job = await _job_of(h, DREAMER)
        assert job.status == "blocked"
        assert h.status_message(DREAMER, t("en", "refused")) is not None
        assert t("en", "support") not in s.texts_to(DREAMER)  # not a self-harm case

        # /queue in the moderator's private chat lists it with buttons
        s.send_text(moderator, "/queue")
        card = await s.wait_for(lambda: s.last_message(MODERATOR, lambda m: "reply_markup" in m), what="queue card")
        assert t("en", "queue_header", count=1) in s.texts_to(MODERATOR)
        assert f"#{job.job_id}" in card["text"]

        s.press(moderator, card, button_data(card, f"review:{job.job_id}:reject")[0])
        await s.wait_for(lambda: t("en", "review_rejected_user", job_id=job.job_id) in s.texts_to(DREAMER),
                         what="user told of the rejection")
        assert h.service.get_job(job.job_id).status == "rejected"
        await s.wait_for(lambda: "Rejected by telegram:9001" in s.messages[(MODERATOR, card["message_id"])]["text"],
                         what="card shows the outcome")
        # pressing again on the original card: already decided
        original = s.last_message(MOD_CHAT)
        assert original is not None
        s.press(moderator, original, button_data(original, f"review:{job.job_id}:approve")[0])
        await s.wait_for(
            lambda: any("Already decided" in c.text for c in s.calls_to("answerCallbackQuery")), what="already"
        )
        assert not s.calls_to("sendVideo", DREAMER)


async def test_a_review_card_of_a_missing_job_answers_with_an_alert(tmp_path: Path) -> None:
    """A stale card (the job deleted, or forged callback data) is answered, not left to spin."""
    async with running_bot(tmp_path) as h:
        s = h.server
        moderator = s.user(MODERATOR, first_name="Mina", language_code="en")
        s.send_text(moderator, "/queue")
        reply = await s.wait_for(lambda: s.last_message(MODERATOR), what="the queue reply")
        s.press(moderator, reply, "review:424242:approve:en")
        answers = await s.wait_for(lambda: s.calls_to("answerCallbackQuery", ok=True), what="the answer")
        assert answers[-1].params.get("show_alert") in ("true", True)
        assert answers[-1].params["text"].startswith("Not found") and "424242" in answers[-1].params["text"]
        # the bot goes on serving: the next command is answered
        s.send_text(moderator, "/queue")
        await s.wait_for(lambda: s.texts_to(MODERATOR).count(t("en", "queue_empty")) == 2, what="second reply")


async def test_flood_control_waits_retry_after_then_sends(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        s.fail_next("sendMessage", 429, retry_after=1)
        s.send_text(s.user(DREAMER, language_code="en"), "/help")
        await s.wait_for(lambda: s.calls_to("sendMessage", DREAMER, ok=True), what="the retried reply")
        refused, sent = s.calls_to("sendMessage", DREAMER)
        assert refused.status == 429 and sent.status == 200
        assert sent.at - refused.at >= 0.95  # waited the retry_after the server gave
        assert sent.text.startswith("Send any text message")


async def test_user_who_blocked_the_bot_is_marked_and_left_alone(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="en")
        s.send_text(dreamer, "I dreamt of a quiet library where the books whispered my name.")
        await s.wait_for(lambda: s.calls_to("sendMessage", DREAMER, ok=True), what="the status message")
        s.block(DREAMER)  # the user blocks the bot while the video is being made
        job = await _job_of(h, DREAMER)
        await asyncio.to_thread(h.service.wait, job.job_id, 60)
        await s.wait_for(lambda: h.service.user_prefs("telegram", str(DREAMER)).get("blocked_bot"), what="marked")
        await asyncio.sleep(1.5)  # anything still queued for the chat would be tried now
        refused = [c for c in s.calls if c.chat_id == DREAMER and c.status == 403]
        assert len(refused) == 1  # one refusal, then nothing more was sent to that chat
        assert not s.calls_to("sendVideo", DREAMER, ok=True)

        # writing to the bot again means they unblocked it
        s.blocked.discard(DREAMER)
        s.send_text(dreamer, "/help")
        await s.wait_for(lambda: s.calls_to("sendMessage", DREAMER, ok=True)[1:], what="reply after unblocking")
        assert h.service.user_prefs("telegram", str(DREAMER))["blocked_bot"] is False


async def test_stickers_photos_long_diaries_commands_and_limits(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_diary_chars=120, bot_jobs_per_hour=1) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        s.send_sticker(dreamer)
        s.send_photo(dreamer)
        await s.wait_for(lambda: len(s.texts_to(DREAMER)) == 2, what="two replies")
        assert s.texts_to(DREAMER) == [t("ko", "not_text"), t("ko", "photo_no_diary")]
        assert not s.downloads  # a photo that belongs to no diary is not even fetched
        s.send_sticker(dreamer)  # voice messages: tests/test_bot_voice.py

        s.send_text(dreamer, "/lang en")
        s.send_text(dreamer, "/fly")
        s.send_text(dreamer, "I was running through a forest. " * 5)  # 160 characters
        await s.wait_for(lambda: len(s.texts_to(DREAMER)) == 6, what="four more replies")
        assert s.texts_to(DREAMER)[2:] == [
            t("ko", "not_text"), t("en", "lang_set"), t("en", "unknown_command"), t("en", "too_long", length=160, max_chars=120),
        ]
        assert not h.service.list_jobs(channel="telegram", user=str(DREAMER))

        s.send_text(dreamer, "I dreamt of a red balloon over the sea.")
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="first video")
        s.send_text(dreamer, "Then the balloon turned into a whale.")
        await s.wait_for(lambda: t("en", "limit_hourly", count=1, limit=1) in s.texts_to(DREAMER), what="limit")
        assert len(h.service.list_jobs(channel="telegram", user=str(DREAMER))) == 1


async def test_a_second_dream_while_one_is_being_made_is_refused_politely(tmp_path: Path) -> None:
    async with running_bot(tmp_path, bot_max_active_jobs=1) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="en")
        # both arrive in one getUpdates batch; one person's updates are handled in order
        s.send_text(dreamer, "I dreamt of a lighthouse made of glass.")
        s.send_text(dreamer, "Then the sea froze and I walked home.")
        await s.wait_for(lambda: t("en", "limit_active", active=1, limit=1) in s.texts_to(DREAMER), what="limit")
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the first video")
        assert len(h.service.list_jobs(channel="telegram", user=str(DREAMER))) == 1
        s.send_text(dreamer, "Then the sea froze and I walked home.")  # the first is done: accepted now
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) == 2, what="the second video")


async def test_settings_history_reroll_and_clips(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="en")
        panel = await open_settings(h, dreamer)
        await press_setting(h, dreamer, panel, "segments", 3)
        panel = await s.wait_for(lambda: "Scenes per video: 3" in s.messages[(DREAMER, panel["message_id"])]["text"]
                                 and s.messages[(DREAMER, panel["message_id"])], what="panel edited")
        panel = await press_setting(h, dreamer, panel, "clips", True)
        panel = await press_setting(h, dreamer, panel, "captions", False)
        await press_setting(h, dreamer, panel, "narration", False)

        s.send_text(dreamer, "I walked into an old library. The books were whispering. "
                             "A cat led me to a door made of water. Behind it my school was floating in the sky.")
        # three scenes: the video, then one clip per scene
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) == 4, what="video and 3 clips")
        job = await _job_of(h, DREAMER)
        assert job.options["segments"] == 3 and len(job.segments) == 3
        assert job.options["captions"] is False and job.options["narration"] is False
        clips = s.calls_to("sendVideo", DREAMER, ok=True)[1:]
        # each caption names the scene and tells its quality score and renders (the quality gate)
        assert [c.text for c in clips] == [
            t("en", "clips_caption", job_id=job.job_id, scene=i, scenes=3) + "\n" + clip_quality_line(job, i - 1, "en")
            for i in (1, 2, 3)
        ]
        assert all("🎞 quality" in c.text for c in clips)
        assert all(_is_mp4(c.files["video"]) for c in clips)

        # /history lists the dream with a button that sends the video again
        s.send_text(dreamer, "/history")
        listing = await s.wait_for(
            lambda: s.last_message(DREAMER, lambda m: str(m.get("text", "")).startswith("Your recent dreams")),
            what="history")
        assert f"#{job.job_id}" in listing["text"] and "done" in listing["text"]
        s.press(dreamer, listing, button_data(listing, f"hist:{job.job_id}")[0])
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) == 5, what="video again")

        # re-roll scene 2: choose the scene, a new status message, a new video with a new seed
        video = s.last_message(DREAMER, lambda m: "video" in m and "🌙" in m.get("caption", ""))
        assert video is not None
        old_seed = job.segments[1].seed
        s.press(dreamer, video, button_data(video, f"reroll:{job.job_id}:-1")[0])
        chooser = await s.wait_for(
            lambda: s.last_message(DREAMER, lambda m: m.get("text") == t("en", "reroll_choose")), what="chooser")
        assert len(button_data(chooser, f"reroll:{job.job_id}:")) == 3
        s.press(dreamer, chooser, button_data(chooser, f"reroll:{job.job_id}:1")[0])
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) >= 6, what="re-rolled video")
        rerolled = await asyncio.to_thread(h.service.wait, job.job_id, 30)
        assert rerolled.status == "done"
        assert rerolled.segments[1].seed != old_seed
        assert rerolled.segments[0].seed == job.segments[0].seed
        assert h.status_message(DREAMER, t("en", "stage_done")) is not None

        # someone else cannot press this dream's buttons
        stranger = s.user(STRANGER, language_code="en")
        s.press(stranger, video, button_data(video, f"clips:{job.job_id}")[0])
        await s.wait_for(lambda: any(c.text == t("en", "not_yours") for c in s.calls_to("answerCallbackQuery")),
                         what="not yours")


class LateApp:
    """An ASGI app that forwards to one set later: the API's address goes into the bot's settings
    before the bot's service (which the API then serves) exists."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def test_video_over_the_upload_limit_becomes_a_signed_link_that_downloads(tmp_path: Path) -> None:
    from api.app import create_app
    from api.server import ServerThread
    from dreamreel.links import verify_media_signature

    late = LateApp()
    api = ServerThread(late)  # bound now, started below
    async with running_bot(tmp_path, telegram_upload_limit_mb=0.0001, public_base_url=api.url,
                           link_secret=LINK_SECRET) as h:
        late.app = create_app(h.service, h.settings)
        await asyncio.to_thread(api.start)
        try:
            s = h.server
            s.send_text(s.user(DREAMER, language_code="ko"), KO_DREAM)
            texts = await s.wait_for(lambda: [x for x in s.texts_to(DREAMER) if api.url in x], what="link")
            job = await _job_of(h, DREAMER)
            assert not s.calls_to("sendVideo", DREAMER, ok=True)
            assert t("ko", "too_large_link", url="", days=7).rstrip(": ") in texts[0]  # in the dreamer's language
            url = texts[0][texts[0].index(api.url):].split()[0]
            path, _, query = url.partition("?")
            params = dict(part.split("=", 1) for part in query.split("&"))
            assert path == f"{api.url}/v1/jobs/{job.job_id}/video" and set(params) == {"expires", "sig"}
            assert verify_media_signature(job.job_id, None, int(params["expires"]), params["sig"], LINK_SECRET)

            async with httpx.AsyncClient(timeout=30) as anyone:  # no API key: the link is the key
                got = await anyone.get(url)
                assert got.status_code == 200, got.text
                video = await asyncio.to_thread(h.service.video_file, job.job_id)
                assert _is_mp4(got.content) and got.content == Path(video).read_bytes()
                assert (await anyone.get(url.replace(params["sig"], "0" * 64))).status_code == 403
        finally:
            await asyncio.to_thread(api.stop)


async def test_without_a_link_secret_an_oversized_video_gets_no_link(tmp_path: Path) -> None:
    async with running_bot(tmp_path, telegram_upload_limit_mb=0.0001, public_base_url="https://dreams.example") as h:
        s = h.server
        s.send_text(s.user(DREAMER, language_code="en"), "I dreamt of a glass train crossing a desert at night.")
        sent = await s.wait_for(lambda: [x for x in s.texts_to(DREAMER) if t("en", "too_large") in x], what="notice")
        assert "https://dreams.example" not in sent[0]
        assert not s.calls_to("sendVideo", DREAMER, ok=True)


@pytest.mark.slow
async def test_dreamreel_bot_command_serves_a_conversation(tmp_path: Path) -> None:
    """`dreamreel bot` in its own process: long polling against the local server, SIGINT stops it."""
    server = FakeTelegramServer()
    base = await server.start()
    env = {**os.environ, **FAST_PREVIEW, "DREAMREEL_HOME": str(tmp_path / "home"),
           "DREAMREEL_TELEGRAM_TOKEN": server.token, "DREAMREEL_TELEGRAM_API_BASE": base,
           "DREAMREEL_MODERATOR_IDS": str(MODERATOR), "DREAMREEL_MODERATOR_CHAT_ID": str(MOD_CHAT)}
    log = tmp_path / "bot.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dreamreel.cli", "bot", cwd=REPO, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )
    try:
        await server.wait_for(lambda: server.calls_to("getUpdates"), timeout=60, what="the bot to poll")
        dreamer = server.user(DREAMER, language_code="ko")
        server.send_text(dreamer, KO_DREAM)
        video = await server.wait_for(lambda: server.calls_to("sendVideo", DREAMER, ok=True), timeout=60,
                                      what="the video")
        assert _is_mp4(video[0].files["video"])
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == 0, log.read_text(errors="replace")[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()


async def test_server_refusing_a_large_upload_gets_a_smaller_rendition(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        s.max_upload_bytes = 4000  # the preview video is ~8-10 kB; its half-size rendition ~2.5 kB
        s.send_text(s.user(DREAMER, language_code="en"), "I dreamt of a glass train crossing a desert at night.")
        sent = await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the smaller video")
        refused = s.calls_to("sendVideo", DREAMER, ok=False)
        assert [c.status for c in refused] == [413]
        original, smaller = refused[0].files["video"], sent[0].files["video"]
        assert _is_mp4(smaller) and len(smaller) < 4000 < len(original)
        assert t("en", "smaller_rendition") in sent[0].text


async def test_a_video_finished_while_the_bot_was_stopped_is_sent_once_it_starts(tmp_path: Path) -> None:
    """The bot keeps its place in the event feed: a Telegram job that came to rest while it was
    down is delivered when it starts again, as new messages, and not again on the next restart."""
    async with running_bot(tmp_path, consumer=CONSUMER):
        pass  # the bot ran once: its place in the feed is stored
    other = build_service(load_settings(default_segments=2))  # e.g. a worker, or `dreamreel jobs run`
    try:
        job = await asyncio.to_thread(other.submit_diary, KO_DREAM, channel="telegram", user=str(DREAMER))
        assert job.status == "done"

        async with running_bot(tmp_path, consumer=CONSUMER) as h:
            s = h.server
            await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video")
            assert t("ko", "stage_done") in s.texts_to(DREAMER)  # a new status message, not an edit
            await s.wait_for(
                lambda: [e for e in h.service.events(job.job_id) if e.kind == "delivery"], what="the delivery record"
            )

        async with running_bot(tmp_path, consumer=CONSUMER) as h:
            s = h.server
            # a job finishing now is sent; the one delivered before the restart is not sent again
            later = await asyncio.to_thread(other.submit_diary, KO_DREAM, channel="telegram", user=str(DREAMER))
            video = await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the later video")
            await asyncio.sleep(1.0)  # a few more polls of the feed
            videos = s.calls_to("sendVideo", DREAMER, ok=True)
            assert len(videos) == 1 and f"#{later.job_id} " in video[0].text, [v.text for v in videos]
        deliveries = [e for e in other.events(job.job_id) if e.kind == "delivery"]
        assert len(deliveries) == 1 and deliveries[0].data["state"] == "done"
    finally:
        await asyncio.to_thread(other.close)


async def test_a_rejection_decided_on_the_web_while_the_bot_was_stopped_is_told_once(tmp_path: Path) -> None:
    async with running_bot(tmp_path, consumer=CONSUMER):
        pass
    other = build_service(load_settings(default_segments=2))  # e.g. the API's moderator page
    try:
        job = await asyncio.to_thread(other.submit_diary, GORE_DREAM, channel="telegram", user=str(DREAMER))
        assert job.status == "blocked"
        await asyncio.to_thread(other.reject, job.job_id, moderator="web:alice", note="violent")
        told = t("ko", "review_rejected_user", job_id=job.job_id)

        async with running_bot(tmp_path, consumer=CONSUMER) as h:
            s = h.server
            await s.wait_for(lambda: told in s.texts_to(DREAMER), what="the user told of the rejection")
            await s.wait_for(
                lambda: [e for e in h.service.events(job.job_id) if e.kind == "delivery"], what="the delivery record"
            )
            assert s.texts_to(DREAMER) == [told]  # decided already: no refusal notice, no moderator card
            assert s.texts_to(MOD_CHAT) == []

        async with running_bot(tmp_path, consumer=CONSUMER) as h:
            await asyncio.sleep(1.5)  # a few polls of the feed
            assert h.server.texts_to(DREAMER) == []
    finally:
        await asyncio.to_thread(other.close)
