"""Regression tests of the defects an attack on the running API found (issue 10): input the
OpenAPI document allows must never reach the database as a 500, on SQLite or on PostgreSQL;
unexpected errors keep the error envelope; clients get links, never server paths."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_api import parse_sse, submit, wait_for
from tests.test_api_support import (
    CALM_DIARY,
    KEY_A,
    CallbackReceiver,
    RunningApi,
    api_env,
    api_fixture,  # noqa: F401
    running_api,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def parked_api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningApi]:
    """The API with jobs committed but not rendered, on SQLite and on PostgreSQL."""
    # the PostgreSQL database is shared by every test of a run: other tests' jobs count in the hour
    extra = {"DREAMREEL_API_JOBS_PER_HOUR": "1000000"}
    if request.param == "postgres":
        extra["DREAMREEL_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    api_env(monkeypatch, **extra)
    with running_api(render=False) as api:
        yield api


def test_the_longest_idempotency_key_and_user_the_api_accepts_are_stored(parked_api: RunningApi) -> None:
    unique = uuid.uuid4().hex
    key = (unique + "k" * 200)[:200]  # the OpenAPI limit; stored with an "api:<key id>:" prefix
    user = (unique + "u" * 128)[:128]  # stored as "<key id>:<user>"
    with parked_api.client() as client:
        first = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": user}, headers={"Idempotency-Key": key})
        assert first.status_code == 202, first.text
        again = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": user}, headers={"Idempotency-Key": key})
        assert again.status_code == 202 and again.json()["job_id"] == first.json()["job_id"]
        other = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": user},
                            headers={"Idempotency-Key": key[:-1] + "!"})
        assert other.json()["job_id"] != first.json()["job_id"]
        job = client.get(f"/v1/jobs/{first.json()['job_id']}").json()
        assert job["user"].endswith(f":{user}")


@pytest.mark.parametrize("control", ["\u0000", "\u0007", "\n", "\t", "\u007f", "\u0085"])
def test_control_characters_in_a_user_are_refused_before_anything_is_stored(
    parked_api: RunningApi, control: str
) -> None:
    user = f"{uuid.uuid4().hex}{control}x"  # unique: the PostgreSQL database outlives the test
    with parked_api.client() as client:
        answer = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": user})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_input"
        assert "control characters" in answer.json()["error"]["message"]
        korean = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": user}, headers={"Accept-Language": "ko"})
        assert korean.status_code == 422 and "제어 문자" in korean.json()["error"]["message"]
    assert not any(user in job.user for job in parked_api.service.list_jobs(channel="api", limit=1000))


def test_control_characters_in_a_diary_are_refused(parked_api: RunningApi) -> None:
    with parked_api.client() as client:
        for text in ("I dreamt of a\u0000 lighthouse.", "I dreamt of a\u001b[31m red lighthouse."):
            answer = client.post("/v1/diaries", json={"text": text, "user": "ctl"})
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input", answer.text
        kept = client.post("/v1/diaries", json={"text": "I dreamt of a sea.\n\tThen\r\na lighthouse.", "user": "ctl"})
        assert kept.status_code == 202, kept.text  # line breaks and tabs are text


def test_ids_beyond_the_integer_columns_are_a_422(parked_api: RunningApi) -> None:
    """Found by schemathesis: a recording id past SQLite's INTEGER was a 500 (OverflowError)."""
    with parked_api.client() as client:
        for path in ("/v1/recordings/4659594884406868618575347712", "/v1/recordings/2147483648"):
            answer = client.get(path)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request", path
        confirm = client.post("/v1/recordings/4659594884406868618575347712/diary", json={})
        assert confirm.status_code == 422


@pytest.mark.parametrize("last_event_id", ["2147483648", "9223372036854775808", "99999999999999999999999"])
def test_a_last_event_id_beyond_the_event_ids_is_a_422_not_a_broken_stream(
    parked_api: RunningApi, last_event_id: str
) -> None:
    with parked_api.client() as client:
        job_id = submit(client)["job_id"]
        answer = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": last_event_id})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
        assert "Last-Event-ID" in answer.json()["error"]["message"]


def test_an_unexpected_error_is_a_500_in_the_error_envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    api_env(monkeypatch)
    with running_api(render=False) as api, api.client() as client:
        job_id = submit(client)["job_id"]

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk on fire at /srv/dreamreel/secret")

        monkeypatch.setattr(api.service, "get_job", broken)
        answer = client.get(f"/v1/jobs/{job_id}")
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["code"] == "internal_error"
        assert "/srv" not in answer.text and "fire" not in answer.text
        korean = client.get(f"/v1/jobs/{job_id}", headers={"Accept-Language": "ko-KR"})
        assert korean.status_code == 500 and "서버" in korean.json()["error"]["message"]


def test_a_500_leaves_the_keep_alive_connection_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the 500 was sent and then the exception re-raised to the server, which closed the
    connection; a client's next request on it was reset (the flaky test above)."""
    api_env(monkeypatch)
    with running_api(render=False) as api:
        with api.client() as client:
            job_id = submit(client)["job_id"]
        host, port = api.url.removeprefix("http://").split(":")
        real_get_job = api.service.get_job
        calls: list[int] = []

        def broken_once(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("disk on fire")
            return real_get_job(*args, **kwargs)

        monkeypatch.setattr(api.service, "get_job", broken_once)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Authorization": f"Bearer {KEY_A}"}
        try:
            connection.request("GET", f"/v1/jobs/{job_id}", headers=headers)
            first = connection.getresponse()
            assert first.status == 500 and json.loads(first.read())["error"]["code"] == "internal_error"
            assert first.getheader("connection", "").lower() != "close"
            time.sleep(0.3)  # the server had closed the connection by then
            connection.request("GET", f"/v1/jobs/{job_id}", headers=headers)
            second = connection.getresponse()
            assert second.status == 200 and json.loads(second.read())["job_id"] == job_id
        finally:
            connection.close()


def _no_server_paths(value: object, home: str) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert home not in text, text[:2000]


def test_clients_get_links_to_files_never_server_paths(api: RunningApi) -> None:
    home = str(api.settings.home)
    receiver = CallbackReceiver()
    try:
        with api.client() as client:
            job_id = submit(client, segments=2, callback_url=receiver.url)["job_id"]
            job = wait_for(api, job_id, ("done", "failed"))
            assert job["status"] == "done", job.get("error")
            _no_server_paths(job, home)
            assert job["video"] == f"{api.url}/v1/jobs/{job_id}/video"
            assert job["clips"] == [f"{api.url}/v1/jobs/{job_id}/clips/{i}" for i in (0, 1)]
            assert [s["clip"] for s in job["segments"]] == job["clips"]
            for link in [job["video"], *job["clips"]]:
                download = client.get(link)
                assert download.status_code == 200 and download.content[4:8] == b"ftyp"
            done = [e for e in job["events"] if e["state"] == "done"]
            assert done and done[0]["data"]["video"] == job["video"]

            streamed = parse_sse(client.get(f"/v1/jobs/{job_id}/events").text)
            _no_server_paths([e["data"] for e in streamed], home)
            assert any(e["data"]["data"].get("video") == job["video"] for e in streamed)

            # a clip that does not exist is a plain 404, not "not ready (yet)"
            missing = client.get(f"/v1/jobs/{job_id}/clips/9")
            assert missing.status_code == 404 and "no clip 9" in missing.json()["error"]["message"]

            assert receiver.delivered.wait(30)
        called_back = receiver.jobs()[-1]
        _no_server_paths(called_back, home)
        assert called_back["video"] == f"/v1/jobs/{job_id}/video"  # no DREAMREEL_PUBLIC_BASE_URL: a path
    finally:
        receiver.close()


def test_a_recording_from_a_user_with_control_characters_is_refused(parked_api: RunningApi) -> None:
    """Found by schemathesis on PostgreSQL: the upload stored the user before any check (a 500)."""
    with parked_api.client() as client:
        answer = client.post("/v1/recordings", data={"user": "a\u0000b"},
                             files={"file": ("dream.ogg", b"OggS not really", "audio/ogg")})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_input"
