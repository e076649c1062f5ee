"""The bot and the dreamer's photo: with a diary (caption) or right after it; bad pictures are
explained in the user's language and the diary is still made; continuity in /settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.texts import t
from dreamreel.errors import AnimatedImage, ImageTooLarge, NotAnImage
from tests.photos import animated_gif, good_photo, not_an_image
from tests.test_bot import DREAMER, KO_DREAM, _job_of, open_settings, press_setting, running_bot
from tests.test_bot import _fast_preview as _fast_preview  # the autouse fixture: fast preview settings

pytestmark = pytest.mark.timeout(120)


async def test_a_photo_with_the_diary_starts_the_first_scene_and_chain_is_a_setting(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        panel = await open_settings(h, dreamer)
        assert t("ko", "continuity_none") in panel["text"]
        await press_setting(h, dreamer, panel, "continuity", "chain")

        s.send_photo(dreamer, good_photo(), caption=KO_DREAM, width=64, height=48)
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video", timeout=90)
        job = await _job_of(h, DREAMER)
        assert job.status == "done" and job.photo and job.continuity == "chain"
        assert all(seg.start_frame for seg in job.segments)  # the photo, then each scene's last frame
        assert len(s.downloads) == 1


async def test_bad_pictures_are_explained_and_the_diary_is_still_made(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        # an animated picture as the diary's photo: told why, the dream is made without it
        s.send_document(dreamer, animated_gif(), file_name="dance.gif", mime_type="image/gif", caption=KO_DREAM)
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video", timeout=90)
        refused = t("ko", "photo_not_used", error=AnimatedImage("an animated GIF with 3 frames").user_message("ko"))
        assert refused in s.texts_to(DREAMER)
        job = await _job_of(h, DREAMER)
        assert job.status == "done" and not job.photo

        # right after that diary: not a picture, then one too large to fetch (never downloaded)
        downloads = len(s.downloads)
        s.send_document(dreamer, not_an_image(), file_name="me.jpg", mime_type="image/jpeg")  # not what it says
        s.send_document(dreamer, b"x", file_name="huge.jpg", mime_type="image/jpeg", file_size=50 * 2**20)
        await s.wait_for(lambda: any("너무 커요" in x for x in s.texts_to(DREAMER)), what="two refusals", timeout=60)
        texts = s.texts_to(DREAMER)
        assert NotAnImage("not a JPEG, PNG or WebP file").user_message("ko") in texts
        assert ImageTooLarge("50.0 MB, at most 20 MB").user_message("ko") in texts
        assert len(s.downloads) == downloads + 1  # the 50 MB file was not fetched
        assert not (await _job_of(h, DREAMER)).photo

        # a good photo right after the diary: the video is made again from it
        videos = len(s.calls_to("sendVideo", DREAMER, ok=True))
        s.send_photo(dreamer, good_photo())
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) > videos, what="the new video", timeout=90)
        assert t("ko", "photo_added_rerender", job_id=job.job_id) in s.texts_to(DREAMER)
        job = await _job_of(h, DREAMER)
        assert job.photo and job.segments[0].start_frame


async def test_a_remake_that_ends_before_the_bot_answers_still_reports_on_its_status_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remake's events wait until the bot watches the job (as for a typed diary): a render that
    is over before the bot has answered still edits the new status message to "done"."""
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        s.send_text(dreamer, KO_DREAM)
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video", timeout=90)
        attach = h.service.attach_photo

        def attach_and_render(job_id: int, data: bytes) -> object:  # a very fast renderer
            attached = attach(job_id, data)
            h.service.wait(job_id, 90)
            return attached

        monkeypatch.setattr(h.service, "attach_photo", attach_and_render)
        s.send_photo(dreamer, good_photo())
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) == 2, what="the new video", timeout=90)

        def shown(key: str) -> list[dict]:
            return [m for (chat, _), m in s.messages.items() if chat == DREAMER and m.get("text") == t("ko", key)]

        # the first diary's status message and the remake's, both brought to "done"; none left at "received"
        await s.wait_for(lambda: not shown("received"), what="the remake's status message edited")
        assert len(shown("stage_done")) == 2
