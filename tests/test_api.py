"""HTTP tests of the web API against the running app (uvicorn on 127.0.0.1, real service,
real SQLite; one flow on PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from api.security import key_id
from storage.models import Job
from tests.helpers import REPO
from tests.test_api_support import (
    BLOCK_DIARY,
    CALM_DIARY,
    KEY_A,
    KEY_B,
    WEBHOOK_SECRET,
    CallbackReceiver,
    RunningApi,
    api_env,
    api_fixture,  # noqa: F401
    running_api,
)


def submit(client: httpx.Client, text: str = CALM_DIARY, **body: object) -> dict:
    response = client.post("/v1/diaries", json={"text": text, "user": "u1", **body})
    assert response.status_code == 202, response.text
    return response.json()


def wait_for(api: RunningApi, job_id: int, states: tuple[str, ...], timeout: float = 60) -> dict:
    with api.client() as client:
        deadline = time.monotonic() + timeout
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in states or time.monotonic() > deadline:
                return job
            time.sleep(0.1)


def test_a_posted_diary_becomes_a_video_with_status_and_range_downloads(api: RunningApi) -> None:
    with api.client() as client:
        accepted = submit(client, segments=2)
        assert accepted["status"] == "received"
        job_id = accepted["job_id"]
        assert accepted["links"]["self"] == f"{api.url}/v1/jobs/{job_id}"

        job = wait_for(api, job_id, ("done", "failed"))
        assert job["status"] == "done", job.get("error")
        # the same object as `dreamreel jobs show --json`, with download links for paths, plus links
        from api.public import public_job

        expected = public_job(api.service.get_job(job_id, detail=True), f"{api.url}/")
        assert {k: v for k, v in job.items() if k != "links"} == json.loads(json.dumps(expected))
        assert job["user"].endswith(":u1") and job["channel"] == "api"
        assert len(job["segments"]) == 2 and job["diary"] == CALM_DIARY

        whole = client.get(f"/v1/jobs/{job_id}/video")
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.content[4:8] == b"ftyp"
        size = len(whole.content)

        head = client.head(f"/v1/jobs/{job_id}/video")
        assert head.status_code == 200 and int(head.headers["content-length"]) == size and head.content == b""

        part = client.get(f"/v1/jobs/{job_id}/video", headers={"Range": "bytes=10-109"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 10-109/{size}"
        assert part.content == whole.content[10:110]

        tail = client.get(f"/v1/jobs/{job_id}/video", headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == whole.content[-50:]

        beyond = client.get(f"/v1/jobs/{job_id}/video", headers={"Range": f"bytes={size + 10}-"})
        assert beyond.status_code == 416

        clip = client.get(f"/v1/jobs/{job_id}/clips/1", headers={"Range": "bytes=0-15"})
        assert clip.status_code == 206 and len(clip.content) == 16
        assert client.get(f"/v1/jobs/{job_id}/clips/7").status_code == 404


def test_keys_are_required_and_see_only_their_own_jobs(api: RunningApi) -> None:
    with api.client(key=None) as anonymous, api.client(key="not-a-key") as wrong, \
            api.client(KEY_A) as alice, api.client(KEY_B) as bob:
        missing = anonymous.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1"})
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert wrong.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1"}).status_code == 401
        assert anonymous.get("/v1/jobs/1").status_code == 401

        job_id = submit(alice)["job_id"]
        assert alice.get(f"/v1/jobs/{job_id}").status_code == 200
        for path in ("", "/video", "/clips/0", "/events"):
            theirs = bob.get(f"/v1/jobs/{job_id}{path}")
            assert theirs.status_code == 404, path
            assert theirs.json()["error"]["code"] == "not_found"
        assert bob.get("/v1/jobs/999999").json()["error"]["code"] == "not_found"
    assert api.service.list_jobs(channel="api")[0].user.split(":")[0] == (
        hashlib.sha256(KEY_A.encode()).hexdigest()[:12]
    )


def test_malformed_and_oversized_requests_get_clear_json_errors(api: RunningApi) -> None:
    with api.client() as client:
        bad_json = client.post("/v1/diaries", content=b'{"text": "a dream', headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 422
        assert bad_json.json()["error"]["code"] == "invalid_json"

        missing = client.post("/v1/diaries", json={"user": "u1"})
        assert missing.status_code == 422 and "text" in missing.json()["error"]["message"]

        extra = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "admin": True})
        assert extra.status_code == 422

        bad_segments = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "segments": 40})
        assert bad_segments.status_code == 422

        bad_url = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "callback_url": "file:///etc"})
        assert bad_url.status_code == 422

        blank = client.post("/v1/diaries", json={"text": "   ", "user": "u1"})
        assert blank.status_code == 422 and blank.json()["error"]["code"] == "invalid_input"
        assert "empty" in blank.json()["error"]["message"]
        blank_ko = client.post("/v1/diaries", json={"text": " ", "user": "u1"}, headers={"Accept-Language": "ko"})
        assert blank_ko.status_code == 422 and "비어 있어요" in blank_ko.json()["error"]["message"]

        russian = client.post("/v1/diaries", json={"text": "Мне снилось море", "user": "u1"})
        assert russian.status_code == 422 and russian.json()["error"]["code"] == "invalid_input"
        assert "Korean and English" in russian.json()["error"]["message"]

        too_long = client.post("/v1/diaries", json={"text": "dream " * 500, "user": "u1"})
        assert too_long.status_code == 422 and "too long" in too_long.json()["error"]["message"]
        korean = client.post("/v1/diaries", json={"text": "꿈 " * 1500, "user": "u1"},
                             headers={"Accept-Language": "ko-KR"})
        assert "너무 길어요" in korean.json()["error"]["message"]

        # found by the schemathesis test: an id beyond the integer column was a 500
        assert client.get("/v1/jobs/14327944039382867968").status_code == 422
        assert client.get("/v1/jobs/0/video").status_code == 422

        # every other request has the general limit (DREAMREEL_API_MAX_BODY_BYTES)...
        huge = client.post("/moderation/login", data={"token": "x" * 30_000})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
        # ...a diary may carry a photo: up to DREAMREEL_API_MAX_UPLOAD_BYTES, then its text is checked
        long_text = client.post("/v1/diaries", json={"text": "x" * 30_000, "user": "u1"})
        assert long_text.status_code == 422 and "too long" in long_text.json()["error"]["message"]

        # no Content-Length: the limit holds while streaming
        limit = api.settings.api_max_upload_bytes

        def chunks() -> Iterator[bytes]:
            yield b'{"user": "u1", "text": "'
            for _ in range(limit // 2**20 + 1):
                yield b"y" * 2**20
            yield b'"}'

        chunked = client.post("/v1/diaries", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
    assert api.service.list_jobs(channel="api") == []


def test_the_language_may_be_given_as_ko_en_or_mixed(api: RunningApi) -> None:
    """The API takes the languages the service and the CLI take, and documents them."""
    with api.client() as client:
        for language in ("mixed", "ko", "en"):
            job = submit(client, "꿈에서 나는 big red balloon을 타고 하늘을 날았다.", language=language)
            assert api.service.get_job(job["job_id"]).language == language
        french = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "language": "fr"})
        assert french.status_code == 422
        doc = client.get("/openapi.json").json()
    field = doc["components"]["schemas"]["DiaryIn"]["properties"]["language"]
    assert {"ko", "en", "mixed"} <= {v for option in field["anyOf"] for v in option.get("enum", [])}


def test_idempotent_retries_return_the_same_job_per_key(api: RunningApi) -> None:
    with api.client(KEY_A) as alice, api.client(KEY_B) as bob:
        first = submit_with_key(alice, "retry-1")
        again = submit_with_key(alice, "retry-1")
        assert again["job_id"] == first["job_id"]
        other = submit_with_key(alice, "retry-2")
        assert other["job_id"] != first["job_id"]
        # another API key using the same header value gets its own job
        bobs = submit_with_key(bob, "retry-1")
        assert bobs["job_id"] != first["job_id"]
    assert len(api.service.list_jobs(channel="api")) == 3


def submit_with_key(client: httpx.Client, key: str) -> dict:
    response = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1"},
                           headers={"Idempotency-Key": key})
    assert response.status_code == 202, response.text
    return response.json()


def test_each_api_key_may_make_only_so_many_jobs_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    api_env(monkeypatch, DREAMREEL_API_JOBS_PER_HOUR="3")
    with running_api(render=False) as api, api.client(KEY_A) as alice, api.client(KEY_B) as bob:
        first = submit_with_key(alice, "hour-1")
        for user in ("u2", "u3"):  # the limit counts all users of the key together
            assert alice.post("/v1/diaries", json={"text": CALM_DIARY, "user": user}).status_code == 202
        refused = alice.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u4"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 60 <= int(refused.headers["Retry-After"]) <= 3600
        # a retry of a job already made is no new job: it is answered as before
        assert submit_with_key(alice, "hour-1")["job_id"] == first["job_id"]
        assert alice.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1"},
                          headers={"Idempotency-Key": "hour-2"}).status_code == 429
        # another key has its own hour
        assert bob.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1"}).status_code == 202
        assert api.service.count_jobs_with_user_prefix("api", f"{key_id(KEY_A)}:", since=hour_ago()) == 3
        # jobs older than an hour no longer count
        old = datetime.now(UTC) - timedelta(minutes=61)
        with api.service.db.session() as s:
            s.execute(update(Job).values(created_at=old))
        assert alice.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u4"}).status_code == 202


def test_the_key_prefix_count_treats_like_wildcards_literally(api: RunningApi) -> None:
    for user in ("k_y:a", "kxy:b", "k%:c"):
        api.service.submit_diary(CALM_DIARY, channel="api", user=user, run=False)
    api.service.submit_diary(CALM_DIARY, channel="telegram", user="k_y:d", run=False)
    assert api.service.count_jobs_with_user_prefix("api", "k_y:", since=hour_ago()) == 1
    assert api.service.count_jobs_with_user_prefix("api", "k%", since=hour_ago()) == 1
    assert api.service.count_jobs_with_user_prefix("api", "k", since=datetime.now(UTC) + timedelta(1)) == 0


def hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
    return events


def test_events_stream_progress_until_the_job_rests(api: RunningApi) -> None:
    with api.client() as client:
        job_id = submit(client)["job_id"]
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = "".join(stream.iter_text())  # ends by itself once the job is done
        events = parse_sse(text)
        kinds = {e["event"] for e in events}
        assert {"state", "progress"} <= kinds
        assert events[-1]["data"]["state"] == "done" or any(e["data"]["state"] == "done" for e in events)
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)

        middle = events[len(events) // 2]["id"]
        resumed = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(middle)})
        assert [e["id"] for e in parse_sse(resumed.text)] == [e["id"] for e in events if e["id"] > middle]


def verify(headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written out from the documented scheme (not the server's helper)."""
    timestamp = headers["X-DreamReel-Timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(timestamp)) < 300 and hmac.compare_digest(
        headers["X-DreamReel-Signature"], f"sha256={expected}"
    )


def test_callbacks_are_signed_and_retried_until_the_receiver_takes_them(api: RunningApi) -> None:
    receiver = CallbackReceiver(fail_first=2)
    try:
        with api.client() as client:
            job_id = submit(client, callback_url=receiver.url)["job_id"]
            assert receiver.delivered.wait(60)
        assert [status for _, _, status in receiver.received] == [500, 500, 200]
        for headers, body, _ in receiver.received:
            assert verify(headers, body)
            assert headers["X-DreamReel-Event"] == "job.done"
            assert not verify(headers, body.replace(b'"done"', b'"failed"'))
        assert len({h["X-DreamReel-Delivery"] for h, _, _ in receiver.received}) == 1
        job = receiver.jobs()[-1]
        assert job["job_id"] == job_id and job["status"] == "done"

        from api.callbacks import verify_signature

        headers, body, _ = receiver.received[-1]
        assert verify_signature(WEBHOOK_SECRET, headers, body)
        assert not verify_signature(WEBHOOK_SECRET, headers, body, now=time.time() + 3600)  # a replay

        deadline = time.monotonic() + 10
        while len(attempts := [e for e in api.service.events(job_id) if e.kind == "callback"]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [e.data["status"] for e in attempts] == [500, 500, 200]
        assert [e.data["ok"] for e in attempts] == [False, False, True]
    finally:
        receiver.close()


def test_a_refused_job_is_called_back_and_waits_for_a_moderator(api: RunningApi) -> None:
    receiver = CallbackReceiver()
    try:
        with api.client() as client:
            job_id = submit(client, BLOCK_DIARY, callback_url=receiver.url)["job_id"]
            assert receiver.delivered.wait(60)
            job = receiver.jobs()[0]
            assert job["job_id"] == job_id and job["status"] in ("blocked", "in_review")
            assert job["verdict"]["reasons"] and job["video"] is None
            assert client.get(f"/v1/jobs/{job_id}/video").status_code == 404
            metrics = client.get("/metrics").text.splitlines()
            assert "dreamreel_moderation_queue_depth 1" in metrics
            api.service.reject(job_id, moderator="test", note="not this one")
            assert "dreamreel_moderation_queue_depth 0" in client.get("/metrics").text.splitlines()
    finally:
        receiver.close()


def test_a_disguised_diary_is_refused_and_a_disguise_never_reaches_a_prompt(api: RunningApi) -> None:
    """Issue 9: the NFD form of a blocked diary was rendered through the API with the words verbatim."""
    import unicodedata

    with api.client() as client:
        refused = submit(client, unicodedata.normalize("NFD", "꿈에서 어른이 아이와 성관계를 했다."))["job_id"]
        job = wait_for(api, refused, ("blocked", "in_review", "done", "failed"))
        assert job["status"] == "blocked" and job["video"] is None
        calm = submit(client, "I was flying over a ｓｉｌｖｅｒ sea. A w\u200bh\u200ba\u200bl\u200be sang.", segments=1)
        job = wait_for(api, calm["job_id"], ("done", "failed"))
        assert job["status"] == "done", job.get("error")
        prompt = job["segments"][0]["prompt"]
        assert "silver" in prompt and "whale" in prompt
        assert "ｓ" not in prompt and "\u200b" not in prompt


def test_a_callback_due_while_the_api_was_stopped_is_sent_once_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API keeps its place in the event feed: a job with a callback_url that finished while it
    was down is called back when it starts again, and not again on the next restart."""
    from api.app import CONSUMER
    from dreamreel.settings import load_settings
    from dreamreel.views import JobOptions
    from dreamreel.wiring import build_service

    api_env(monkeypatch)
    receiver = CallbackReceiver()
    other = build_service(load_settings())  # e.g. a Celery worker, or `dreamreel jobs run`
    try:
        with running_api(consumer=CONSUMER):
            pass  # the API ran once: its place in the feed is stored

        def finish_job() -> int:
            job = other.submit_diary(CALM_DIARY, channel="api", user="u1",
                                     options=JobOptions(callback_url=receiver.url))
            assert job.status == "done"
            return job.job_id

        def received_jobs(count: int) -> list[int]:
            deadline = time.monotonic() + 30
            while len(receiver.received) < count and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # a few more polls of the feed: nothing else may arrive
            return [job["job_id"] for job in receiver.jobs()]

        missed = finish_job()
        with running_api(consumer=CONSUMER):
            assert received_jobs(1) == [missed]
        with running_api(consumer=CONSUMER):  # a job finishing now is called back, the old one not again
            later = finish_job()
            assert received_jobs(2) == [missed, later]
        assert all(headers["X-DreamReel-Event"] == "job.done" for headers, _, _ in receiver.received)
        assert [e.data["ok"] for e in other.events(missed) if e.kind == "callback"] == [True]
    finally:
        other.close()
        receiver.close()


def test_in_production_callbacks_to_private_addresses_are_refused_at_submission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_env(monkeypatch, DREAMREEL_ENVIRONMENT="production", DREAMREEL_SESSION_SECRET="s" * 32,
            DREAMREEL_CALLBACK_ALLOW_PRIVATE="false")
    receiver = CallbackReceiver()
    try:
        with running_api(render=False) as api, api.client() as client:
            refused = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "callback_url": receiver.url})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "invalid_input"
            assert "127.0.0.1, which is not a public address" in refused.json()["error"]["message"]
            assert api.service.runner.submitted == []
        assert receiver.received == []
    finally:
        receiver.close()


LINK_SECRET = "link-secret-0123456789abcdef"


def test_link_signatures_bind_the_job_the_file_and_the_expiry() -> None:
    from dreamreel.links import sign_media_url, verify_media_signature

    url = sign_media_url("https://dreams.example/", 7, secret=LINK_SECRET, ttl=3600, now=1_000_000)
    path, _, query = url.partition("?")
    params = dict(part.split("=") for part in query.split("&"))
    assert path == "https://dreams.example/v1/jobs/7/video" and params["expires"] == "1003600"
    # the documented scheme, written out here
    assert params["sig"] == hmac.new(LINK_SECRET.encode(), b"7:video:1003600", hashlib.sha256).hexdigest()
    sig, expires = params["sig"], 1_003_600
    assert verify_media_signature(7, None, expires, sig, LINK_SECRET, now=1_003_600)
    assert not verify_media_signature(7, None, expires, sig, LINK_SECRET, now=1_003_601)  # expired
    assert not verify_media_signature(8, None, expires, sig, LINK_SECRET, now=1_000_000)  # another job
    assert not verify_media_signature(7, 0, expires, sig, LINK_SECRET, now=1_000_000)  # clip 0 is not the video
    assert not verify_media_signature(7, None, expires + 1, sig, LINK_SECRET, now=1_000_000)  # extended
    assert not verify_media_signature(7, None, expires, sig, "another-secret-0123456789", now=1_000_000)
    assert not verify_media_signature(7, None, expires, "", LINK_SECRET, now=1_000_000)
    clip = sign_media_url("https://dreams.example", 7, clip=0, secret=LINK_SECRET, now=1_000_000)
    assert clip.startswith("https://dreams.example/v1/jobs/7/clips/0?expires=1604800&sig=")  # 7 days by default
    with pytest.raises(ValueError):
        sign_media_url("https://dreams.example", 7, secret="")


def test_signed_links_download_without_a_key_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from dreamreel.links import sign_media_url

    api_env(monkeypatch, DREAMREEL_LINK_SECRET=LINK_SECRET)
    with running_api() as api, api.client() as owner, api.client(key=None) as anyone:
        job_id = submit(owner, segments=2)["job_id"]
        assert wait_for(api, job_id, ("done", "failed"))["status"] == "done"
        video = owner.get(f"/v1/jobs/{job_id}/video").content
        url = sign_media_url(api.url, job_id, secret=LINK_SECRET)

        whole = anyone.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.content == video and video[4:8] == b"ftyp"
        head = anyone.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(video)
        part = anyone.get(url, headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 10-109/{len(video)}"
        assert part.content == video[10:110]
        clip_url = sign_media_url(api.url, job_id, clip=1, secret=LINK_SECRET)
        assert anyone.get(clip_url).content == owner.get(f"/v1/jobs/{job_id}/clips/1").content
        # another key may not list the job, but holds the link: the link decides
        with api.client(KEY_B) as bob:
            assert bob.get(url).status_code == 200

        query = url.partition("?")[2]
        expires = int(query.split("&")[0].split("=")[1])
        sig = query.split("sig=")[1]
        tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        refused = {
            "tampered": f"/v1/jobs/{job_id}/video?expires={expires}&sig={tampered}",
            "other job": f"/v1/jobs/{job_id + 1}/video?{query}",
            "video link on a clip": f"/v1/jobs/{job_id}/clips/0?{query}",
            "extended": f"/v1/jobs/{job_id}/video?expires={expires + 3600}&sig={sig}",
            "no sig": f"/v1/jobs/{job_id}/video?expires={expires}",
            "other secret": sign_media_url(api.url, job_id, secret="some-other-secret-0123456789"),
            "expired": sign_media_url(api.url, job_id, secret=LINK_SECRET, ttl=-60),
        }
        for name, link in refused.items():
            for method in ("GET", "HEAD"):
                response = anyone.request(method, link, headers={"Range": "bytes=0-9"})
                assert response.status_code == 403, (name, method)
            error = anyone.get(link).json()["error"]
            assert error["code"] == "forbidden", name
            assert ("expired" if name == "expired" else "not valid") in error["message"] or name == "no sig", error
        # without a link, the key is still required
        assert anyone.get(f"/v1/jobs/{job_id}/video").status_code == 401

        doc = anyone.get("/openapi.json").json()
    for path in ("/v1/jobs/{job_id}/video", "/v1/jobs/{job_id}/clips/{index}"):
        for method in ("get", "head"):
            operation = doc["paths"][path][method]
            assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"expires", "sig"}
            assert "403" in operation["responses"] and {} in operation["security"]


def test_signed_links_are_refused_when_the_server_has_no_link_secret(api: RunningApi) -> None:
    from dreamreel.links import sign_media_url

    with api.client(key=None) as anyone:
        response = anyone.get(sign_media_url(api.url, 1, secret=LINK_SECRET))
    assert response.status_code == 403 and "not enabled" in response.json()["error"]["message"]


def test_healthz_and_prometheus_metrics(api: RunningApi) -> None:
    with api.client(key=None) as client:
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
        with api.client() as authed:
            job_id = submit(authed)["job_id"]
        assert wait_for(api, job_id, ("done", "failed"))["status"] == "done"
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        lines = metrics.text.splitlines()
        assert 'dreamreel_jobs{state="done"} 1' in lines
        assert "dreamreel_queue_depth 0" in lines
        assert "dreamreel_render_seconds_count 1" in lines
        assert "dreamreel_moderation_queue_depth 0" in lines


def test_openapi_documents_the_error_shape_and_auth(api: RunningApi) -> None:
    with api.client(key=None) as client:
        doc = client.get("/openapi.json").json()
    post = doc["paths"]["/v1/diaries"]["post"]
    assert set(post["responses"]) >= {"202", "401", "413", "422"}
    assert post["responses"]["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "Retry-After" in post["responses"]["429"]["headers"]  # the per-key hourly job limit
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert {"HTTPBearer": []} in post["security"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    assert "/moderation" not in doc["paths"]
    assert set(doc["paths"]["/v1/jobs/{job_id}/video"]["get"]["responses"]) >= {"200", "206", "404", "416"}


@pytest.mark.postgres
def test_the_web_hook_on_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the database is shared by every test of a run (the OpenAPI fuzz makes hundreds of jobs with this key)
    api_env(monkeypatch, DREAMREEL_DATABASE_URL=postgres_url, DREAMREEL_API_JOBS_PER_HOUR="1000000")
    with running_api() as api, api.client() as client:
        accepted = client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "pg"},
                               headers={"Idempotency-Key": f"pg-{time.time_ns()}"})
        assert accepted.status_code == 202
        job_id = accepted.json()["job_id"]
        job = wait_for(api, job_id, ("done", "failed"))
        assert job["status"] == "done"
        assert client.get(f"/v1/jobs/{job_id}/video", headers={"Range": "bytes=0-7"}).status_code == 206
        with api.client(KEY_B) as bob:
            assert bob.get(f"/v1/jobs/{job_id}").status_code == 404


def test_the_api_process_never_imports_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    api_env(monkeypatch)
    code = (
        "import sys\n"
        "from api.app import create_app\n"
        "from dreamreel.settings import load_settings\n"
        "from dreamreel.wiring import build_service\n"
        "settings = load_settings()\n"
        "service = build_service(settings, background=True)\n"
        "app = create_app(service, settings)\n"
        "job = service.submit_diary('I dreamt of a red kite over the river.', channel='api', user='t')\n"
        "assert service.wait(job.job_id, 60).status == 'done'\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers', 'detoxify') if m in sys.modules]\n"
        "service.close()\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout, result.stdout


def test_placeholder_secrets_are_refused_outside_development() -> None:
    from pydantic import ValidationError

    from dreamreel.settings import load_settings

    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        load_settings(environment="production", webhook_secret="changethis", session_secret="s" * 32)
    with pytest.raises(ValidationError, match="API_KEYS"):
        load_settings(environment="production", webhook_secret="w" * 32, session_secret="s" * 32,
                      api_keys="changethis")
    ok = load_settings(environment="production", webhook_secret="w" * 32, session_secret="s" * 32,
                       api_keys=f"{KEY_A},{KEY_B}")
    assert [k.get_secret_value() for k in ok.api_keys] == [KEY_A, KEY_B]
    assert ok.link_secret is None  # optional: without it the bot makes no download links
    with pytest.raises(ValidationError, match="LINK_SECRET"):
        load_settings(environment="production", webhook_secret="w" * 32, session_secret="s" * 32,
                      link_secret="changethis")
    assert load_settings(webhook_secret="changethis").webhook_secret is not None  # development
