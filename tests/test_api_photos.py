"""POST /v1/diaries with the dreamer's photo (base64 in JSON, or multipart) and continuity."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from api.routes.jobs import JobWithLinks
from storage.models import Diary
from tests.photos import animated_gif, giant_dimensions, good_photo, huge_file, not_an_image
from tests.test_api_support import CALM_DIARY, RunningApi, api_fixture  # noqa: F401


def diary_count(api: RunningApi) -> int:
    with api.service.db.session() as s:
        return s.query(Diary).count()


def wait_done(api: RunningApi, job_id: int) -> dict:
    with api.client() as client:
        for _ in range(300):
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_a_photo_as_base64_or_multipart_starts_the_first_scene(api: RunningApi) -> None:
    photo = good_photo()
    with api.client() as client:
        as_json = client.post("/v1/diaries", json={
            "text": CALM_DIARY, "user": "u1", "continuity": "chain",
            "image": "data:image/jpeg;base64," + base64.b64encode(photo).decode(),
        })
        as_form = client.post("/v1/diaries/upload", data={"text": CALM_DIARY, "user": "u2"},
                              files={"image": ("me.jpg", photo, "image/jpeg")})
    assert as_json.status_code == 202 and as_form.status_code == 202, (as_json.text, as_form.text)
    chained = wait_done(api, as_json.json()["job_id"])
    plain = wait_done(api, as_form.json()["job_id"])
    assert chained["status"] == "done" and chained["continuity"] == "chain" and chained["photo"]
    # the photo, then each scene's last frame; kept on the server, the API only says so
    assert [s["start_frame"] for s in chained["segments"]] == [True, True]
    view = api.service.get_job(chained["job_id"])
    assert all(Path(s.start_frame).is_file() for s in view.segments if s.start_frame)
    assert plain["photo"] and plain["continuity"] == "none"
    assert [s["start_frame"] for s in plain["segments"]] == [True, False]
    # the job object keeps the promise of its OpenAPI schema (the fuzz found a bool where a string
    # was documented)
    for job in (chained, plain):
        JobWithLinks.model_validate(job)


@pytest.mark.parametrize(
    ("make", "korean"),
    [
        (not_an_image, "사진이 아니에요"),
        (lambda: huge_file(50), "너무 커요"),
        (giant_dimensions, "해상도가 너무 높아요"),
        (animated_gif, "움직이는 이미지"),
    ],
    ids=["not-an-image", "50MB", "20000x20000", "animated"],
)
def test_a_bad_photo_is_a_clear_422_in_the_callers_language_and_the_diary_is_saved(
    api: RunningApi, make: object, korean: str
) -> None:
    data = make()  # type: ignore[operator]
    before = diary_count(api)
    with api.client() as client:
        response = client.post("/v1/diaries/upload", data={"text": CALM_DIARY, "user": "u1"},
                               files={"image": ("x.bin", data, "application/octet-stream")},
                               headers={"Accept-Language": "ko-KR"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and korean in error["message"]
    diary_id = error["details"][0]["diary_id"]
    assert diary_count(api) == before + 1
    with api.service.db.session() as s:
        kept = s.get(Diary, diary_id)
        assert kept is not None and kept.text == CALM_DIARY and kept.photo_path is None
        assert not kept.jobs  # nothing is rendered from a refused request


def test_text_that_is_not_base64_is_not_a_picture(api: RunningApi) -> None:
    with api.client() as client:
        response = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "image": "not base64!"})
    assert response.status_code == 422
    assert "not a picture" in response.json()["error"]["message"]
    assert response.json()["error"]["details"][0]["diary_id"]
