"""Signed callbacks: when an API job with a `callback_url` comes to rest (done, failed, rejected,
in_review, blocked), POST the job object there.

Signature scheme (what a receiver checks)::

    X-DreamReel-Timestamp: <unix seconds>
    X-DreamReel-Signature: sha256=<hex HMAC-SHA256(DREAMREEL_WEBHOOK_SECRET, f"{timestamp}.{raw body}")>
    X-DreamReel-Event:     job.<state>
    X-DreamReel-Delivery:  <uuid, the same for every retry of one delivery>

The timestamp is inside the signed content, so a receiver that refuses old timestamps (see
`verify_signature`, five minutes by default) also refuses replays. A delivery is retried on any
non-2xx answer or network error, waiting `callback_backoff` seconds doubled after each attempt,
at most `callback_attempts` times; every attempt is recorded as a job event of kind `callback`.

Every attempt resolves the host once and connects to that checked address (`api.callback_target`):
a host that does not resolve fails the attempt (retried); unless DREAMREEL_CALLBACK_ALLOW_PRIVATE
is true, a non-public address in the answer refuses the delivery (recorded, not retried).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx

from api.callback_target import (
    CallbackRefused,
    PinnedTarget,
    Resolver,
    pin_target,
    pinned_client,
    system_resolver,
)
from api.public import public_job
from api.security import API_CHANNEL
from dreamreel.payloads import CallbackData
from dreamreel.service import DreamService
from dreamreel.settings import Settings
from dreamreel.views import RESTING_STATES, EventView

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DreamReel-Signature"
TIMESTAMP_HEADER = "X-DreamReel-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, *,
                     tolerance: float = 300.0, now: float | None = None) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature, sign(secret, timestamp, body))


class CallbackDispatcher:
    """Listens to the service's events and delivers callbacks on a small thread pool."""

    def __init__(self, service: DreamService, settings: Settings, *,
                 client_factory: Callable[[PinnedTarget], httpx.Client] | None = None,
                 resolver: Resolver = system_resolver, workers: int = 4) -> None:
        self.service = service
        self.settings = settings
        self._client_factory = client_factory or self._pinned_client
        self._resolver = resolver
        self._ssl_context: ssl.SSLContext | None = None  # built on first use, shared by deliveries
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="dreamreel-callback")
        self._unsubscribe = self.service.subscribe(self._on_event)
        if self.settings.webhook_secret is None:
            logger.warning("DREAMREEL_WEBHOOK_SECRET is not set: callbacks are sent unsigned (development)")

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stopping.set()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _on_event(self, event: EventView) -> None:
        # Called from the worker thread: do no work here, only hand over.
        if event.kind == "state" and event.state in RESTING_STATES and self._executor is not None:
            with contextlib.suppress(RuntimeError):  # RuntimeError: shutting down
                self._executor.submit(self.deliver, event.job_id, event.state, after_event=event.id)

    def deliver(self, job_id: int, state: str, *, after_event: int | None = None) -> bool:
        """POST the job to its callback URL, retrying; True when the receiver took it.

        With `after_event` (the resting-state event's id), a callback for that state that already
        succeeded after it is not sent again (the event is seen again after an API restart)."""
        try:
            job = self.service.get_job(job_id)
        except Exception:
            logger.exception("callback: cannot load job %s", job_id)
            return False
        url = job.options.get("callback_url")
        if not url or job.channel != API_CHANNEL:
            return False
        if after_event is not None and self.service.outcome_told(job_id, after_event, state, CallbackData):
            logger.info("callback for job %s (%s) was delivered already", job_id, state)
            return True
        # links, not server paths: absolute with DREAMREEL_PUBLIC_BASE_URL, else paths on this API
        public = public_job(job, self.settings.public_base_url or "")
        body = json.dumps(public, ensure_ascii=False, separators=(",", ":")).encode()
        delivery = str(uuid.uuid4())
        attempts = self.settings.callback_attempts
        for attempt in range(1, attempts + 1):
            try:
                ok, status, error = self._attempt(url, body, state, delivery)
            except CallbackRefused as exc:  # a non-public address: final, not retried
                refused = CallbackData(url=url, attempt=attempt, status=None, ok=False, state=state, delivery=delivery,
                                       error=str(exc))
                self.service.record_event(job_id, f"callback to {url} refused: {exc}", refused)
                return False
            outcome = f"HTTP {status}" if status is not None else f"error: {error}"
            tried = CallbackData(url=url, attempt=attempt, status=status, ok=ok, state=state, delivery=delivery,
                                 error=error)
            self.service.record_event(job_id, f"callback attempt {attempt}/{attempts} to {url}: {outcome}", tried)
            if ok:
                return True
            if attempt < attempts and self._stopping.wait(self.settings.callback_backoff * 2 ** (attempt - 1)):
                break
        logger.warning("callback for job %s to %s failed after %d attempts", job_id, url, attempts)
        return False

    def _attempt(self, url: str, body: bytes, state: str, delivery: str) -> tuple[bool, int | None, str | None]:
        """Resolve the host (once), then POST to the checked address. Raises `CallbackRefused` only
        for a final refusal; a host that does not resolve is a failed attempt like a network error."""
        try:
            target = pin_target(url, allow_private=self.settings.callback_allow_private, resolver=self._resolver)
        except CallbackRefused as exc:
            if not exc.retry:
                raise
            return False, None, str(exc)
        with self._client_factory(target) as client:
            return self._post(client, url, body, state, delivery)

    def _pinned_client(self, target: PinnedTarget) -> httpx.Client:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return pinned_client(target, timeout=self.settings.callback_timeout, ssl_context=self._ssl_context)

    def _post(self, client: httpx.Client, url: str, body: bytes, state: str,
              delivery: str) -> tuple[bool, int | None, str | None]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "DreamReel-Callback/1",
            TIMESTAMP_HEADER: timestamp,
            "X-DreamReel-Event": f"job.{state}",
            "X-DreamReel-Delivery": delivery,
        }
        if self.settings.webhook_secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.settings.webhook_secret.get_secret_value(), timestamp, body)
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, None, f"{type(exc).__name__}: {exc}"
        return response.is_success, response.status_code, None
