"""Shared setup of the API tests: the real service and app served by uvicorn on a free port,
and a callback receiver speaking plain HTTP. (No tests in this module.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.helpers import FAST_PREVIEW

KEY_A = "key-alpha-0123456789abcdef"
KEY_B = "key-beta-0123456789abcdef"
MOD_TOKEN = "moderator-token-0123456789"
WEBHOOK_SECRET = "webhook-secret-0123456789"

# What the policy lets through, sends to a person, and blocks (see ARCHITECTURE.md, content policy).
CALM_DIARY = "I dreamt I was flying over a quiet sea at sunset. Then I landed in my old school garden."
REVIEW_DIARY = ("꿈속에서 아파트 옥상 난간에 서 있었고, 그냥 뛰어내리고 싶다는 생각이 들었다. "
                "아래에서 누군가 내 이름을 부르는 소리에 깼다.")
BLOCK_DIARY = ("In the dream I tortured my neighbor, cut off his fingers one by one and watched him "
               "bleed out on the kitchen floor.")


def api_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Small, fast settings: 128x72 preview, 1 s scenes, quick callback retries, callbacks to
    127.0.0.1 allowed (override with DREAMREEL_CALLBACK_ALLOW_PRIVATE="false")."""
    env = {
        **FAST_PREVIEW,
        "DREAMREEL_API_KEYS": f"{KEY_A},{KEY_B}",
        "DREAMREEL_MODERATOR_TOKENS": MOD_TOKEN,
        "DREAMREEL_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DREAMREEL_CALLBACK_BACKOFF": "0.05",
        "DREAMREEL_CALLBACK_ATTEMPTS": "4",
        "DREAMREEL_CALLBACK_ALLOW_PRIVATE": "true",  # the test receivers listen on 127.0.0.1
        "DREAMREEL_API_MAX_BODY_BYTES": "20000",
        "DREAMREEL_API_MAX_UPLOAD_BYTES": str(52 * 2**20),  # a 50 MB photo is read, then refused
        "DREAMREEL_MAX_DIARY_CHARS": "2000",
    }
    env.update(extra)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@dataclass
class RunningApi:
    url: str
    service: Any
    settings: Any

    def client(self, key: str | None = KEY_A, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


class ParkedRunner:
    """A runner that keeps submitted jobs waiting in `received` (for load and fuzz tests of the
    HTTP layer, where rendering hundreds of videos would only measure the renderer)."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def close(self) -> None:
        pass


@contextmanager
def running_api(*, render: bool = True, consumer: str | None = None) -> Iterator[RunningApi]:
    """The real service (background runner) and app, served on 127.0.0.1:<free port>; with
    `consumer`, following events durably under that name as `dreamreel api` does."""
    from api.app import create_app
    from api.server import ServerThread
    from dreamreel.settings import load_settings
    from dreamreel.wiring import build_service

    settings = load_settings()
    service = build_service(settings, background=True, consumer=consumer)
    if not render:
        service.runner = ParkedRunner()
    try:
        with ServerThread(create_app(service, settings)) as server:
            yield RunningApi(server.url, service, settings)
    finally:
        service.close()


@pytest.fixture(name="api")
def api_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningApi]:
    """The API on default test settings (`api_env`), rendering; import it with `# noqa: F401`."""
    api_env(monkeypatch)
    with running_api() as running:
        yield running


@dataclass
class CallbackReceiver:
    """A plain HTTP server that answers 500 to the first `fail_first` posts, then 200."""

    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    delivered: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 500 if len(receiver.received) < receiver.fail_first else 200
                receiver.received.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status == 200:
                    receiver.delivered.set()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def jobs(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, _ in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
