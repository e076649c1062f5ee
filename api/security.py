"""Secrets at the HTTP edge: API key ids, signed session cookies and CSRF tokens.

An API key is never stored: a job remembers the key's id (the first 12 hex digits of its SHA-256),
as `user = "<key-id>:<user>"` in channel `api`, which is how a key sees only its own jobs.
The moderator session is a small JSON object, base64url-encoded and signed with HMAC-SHA256
(`<payload>.<signature>`); it carries the CSRF token that every form must echo back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

API_CHANNEL = "api"


def key_id(secret: str) -> str:
    """A stable, non-reversible id of an API key or moderator token (12 hex digits)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ApiClient:
    """The caller behind a valid API key."""

    key_id: str

    def owner(self, user: str) -> str:
        """The service-side user id of `user` as seen by this key."""
        return f"{self.key_id}:{user}"

    def owns(self, channel: str, user: str) -> bool:
        return channel == API_CHANNEL and user.startswith(f"{self.key_id}:")

    def scoped_idempotency_key(self, header: str | None) -> str | None:
        """Idempotency keys are per API key: two clients may use the same header value."""
        return f"{API_CHANNEL}:{self.key_id}:{header}" if header else None


def match_secret(candidate: str, known: list[SecretStr]) -> str | None:
    """The matching secret (compared in constant time against every known one), or None."""
    found = None
    for secret in known:
        value = secret.get_secret_value()
        if hmac.compare_digest(candidate.encode(), value.encode()):
            found = value
    return found


class SessionSigner:
    """Signs and verifies the moderator session cookie."""

    def __init__(self, secret: bytes, max_age: int = 12 * 3600) -> None:
        self._secret = secret
        self.max_age = max_age

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def dumps(self, data: dict[str, Any]) -> str:
        body = dict(data, iat=int(time.time()))
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
        return f"{payload.decode()}.{self._mac(payload)}"

    def loads(self, cookie: str | None) -> dict[str, Any] | None:
        """The session, or None when missing, tampered with or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or time.time() - float(data.get("iat", 0)) > self.max_age:
            return None
        return data


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
