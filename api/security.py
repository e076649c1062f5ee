"""Secrets at the HTTP edge: API key ids, the signed moderator cookie, CSRF tokens and the
protective headers of the moderator pages (`PAGE_HEADERS`, error pages included).

An API key is never stored: a job remembers the key's id (the first 12 hex digits of its SHA-256),
as `user = "<key-id>:<user>"` in channel `api`, which is how a key sees only its own jobs.
The moderator cookie is signed by `itsdangerous`; it carries the CSRF token that every form must
echo back and the id of the server-side session that sign-out revokes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from pydantic import SecretStr

API_CHANNEL = "api"

# what the moderator pages may load: only this app's own resources, no inline script, no framing
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
}


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
        """Idempotency keys are per API key: two clients may use the same header value. The header
        (up to 200 characters) is stored as its SHA-256, so the scoped key always fits its column."""
        if not header:
            return None
        return f"{API_CHANNEL}:{self.key_id}:{hashlib.sha256(header.encode()).hexdigest()}"


def match_secret(candidate: str, known: list[SecretStr]) -> str | None:
    """The matching secret (compared in constant time against every known one), or None."""
    found = None
    for secret in known:
        value = secret.get_secret_value()
        if hmac.compare_digest(candidate.encode(), value.encode()):
            found = value
    return found


class SessionCookie:
    """Signs and verifies the moderator page's cookie with `itsdangerous` (HMAC, timestamped).

    The cookie holds only the CSRF token, the page language and, when signed in, the id of a
    server-side session (`dreamreel.moderator_sessions`), which is what sign-out revokes."""

    def __init__(self, secret: bytes, max_age: int = 12 * 3600) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="dreamreel-moderation")
        self.max_age = max_age

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def loads(self, cookie: str | None) -> dict[str, Any] | None:
        """The cookie's data, or None when missing, tampered with or older than `max_age`."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadData:
            return None
        return data if isinstance(data, dict) else None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
