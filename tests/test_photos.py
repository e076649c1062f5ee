"""A dreamer's photo: checked cheaply and strictly, stored with the diary only, deleted with it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamreel.errors import AnimatedImage, BadImage, ImageTooLarge, ImageTooManyPixels, NotAnImage
from dreamreel.images import check_photo
from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service
from storage.models import Diary
from tests.helpers import FAST_PREVIEW
from tests.photos import animated_gif, animated_webp, giant_dimensions, good_photo, huge_file, not_an_image

LIMITS = {"max_bytes": 20 * 2**20, "max_pixels": 40_000_000}


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (not_an_image(), NotAnImage, ("사진이 아니에요", "not a picture")),
        (huge_file(50), ImageTooLarge, ("너무 커요", "too large")),
        (giant_dimensions(), ImageTooManyPixels, ("해상도가 너무 높아요", "too many pixels")),
        (animated_gif(), AnimatedImage, ("움직이는 이미지", "Moving pictures")),
        (animated_webp(), AnimatedImage, ("움직이는 이미지", "Moving pictures")),
        (b"", NotAnImage, ("사진이 아니에요", "not a picture")),
        (good_photo()[:200], NotAnImage, ("사진이 아니에요", "not a picture")),  # cut short
    ],
    ids=["text", "50MB", "20000x20000", "gif", "webp", "empty", "truncated"],
)
def test_bad_photos_are_refused_with_a_reason_in_the_users_language(
    data: bytes, error: type[BadImage], words: tuple[str, str]
) -> None:
    with pytest.raises(error) as raised:
        check_photo(data, **LIMITS)
    assert words[0] in raised.value.user_message("ko")
    assert words[1] in raised.value.user_message("en")


def test_a_good_photo_is_kept_as_png_without_its_metadata() -> None:
    img = Image.open(io.BytesIO(good_photo()))
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° to stand upright
    exif[0x010F] = "DreamCam"  # the camera maker: metadata that must not survive
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    photo = check_photo(out.getvalue(), **LIMITS)
    stored = Image.open(io.BytesIO(photo.png))
    assert stored.format == "PNG" and photo.source_format == "JPEG"
    assert stored.size == (48, 64)  # rotated upright
    assert not stored.getexif()


def _service(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for key, value in FAST_PREVIEW.items():
        monkeypatch.setenv(key, value)
    return build_service(load_settings())


def test_a_bad_photo_still_saves_the_diary_and_a_good_one_lives_and_dies_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = _service(monkeypatch)
    try:
        with pytest.raises(AnimatedImage) as raised:
            service.submit_diary("I dreamt of a lighthouse.", user="u1", photo=animated_gif(), run=False)
        with service.db.session() as s:
            kept = s.get(Diary, raised.value.diary_id)
            assert kept is not None and kept.text == "I dreamt of a lighthouse." and kept.photo_path is None

        job = service.submit_diary("I dreamt of a whale.", user="u1", photo=good_photo(), run=False,
                                   options=JobOptions(continuity="chain"))
        assert job.photo and job.continuity == "chain"
        with service.db.session() as s:
            diary = s.get(Diary, raised.value.diary_id + 1)
            assert diary is not None and diary.photo_path is not None
            path = service.media.path_for(diary.photo_path)
        assert path.is_file() and Image.open(path).format == "PNG"
        assert np.asarray(Image.open(path)).shape == (48, 64, 3)

        service.delete_diary(job.job_id)
        assert not path.exists() and not path.parent.exists()
        with service.db.session() as s:
            assert s.get(Diary, raised.value.diary_id + 1) is None
    finally:
        service.close()


def test_a_photo_right_after_the_diary_joins_it_and_a_bad_one_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = _service(monkeypatch)
    try:
        job = service.submit_diary("I dreamt of a whale.", user="u1", run=False)
        with pytest.raises(NotAnImage):
            service.attach_photo(job.job_id, not_an_image())
        assert not service.get_job(job.job_id).photo
        assert service.attach_photo(job.job_id, good_photo()).photo
    finally:
        service.close()
