"""Signed, expiring download links for a job's video and clips.

A link is `{base}/v1/jobs/{id}/video?expires=<unix seconds>&sig=<hex>` (or `/clips/{i}`), where
`sig = hex(HMAC-SHA256(secret, "{job_id}:{clip index or 'video'}:{expires}"))`. The bot hands such
links to people who cannot send an API key; the API serves the file to anyone holding a valid one.
The secret is `DREAMREEL_LINK_SECRET`; without it no link can be made or accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from dreamreel.settings import Settings

DEFAULT_TTL = 7 * 24 * 3600  # seconds a link stays valid


def media_path(job_id: int, clip: int | None = None) -> str:
    """The API path of the stitched video (`clip=None`) or of one scene's clip."""
    return f"/v1/jobs/{job_id}/video" if clip is None else f"/v1/jobs/{job_id}/clips/{clip}"


def media_signature(job_id: int, clip: int | None, expires: int, secret: str) -> str:
    """Hex HMAC-SHA256 of `"{job_id}:{clip or 'video'}:{expires}"` (clip 0 is "0", not "video")."""
    what = "video" if clip is None else str(clip)
    message = f"{job_id}:{what}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_media_url(
    base_url: str,
    job_id: int,
    *,
    clip: int | None = None,
    secret: str,
    ttl: int = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    """An absolute link to the video (or clip `clip`) of `job_id`, valid for `ttl` seconds."""
    if not secret:
        raise ValueError("a signed link needs a secret (DREAMREEL_LINK_SECRET)")
    expires = int(time.time() if now is None else now) + int(ttl)
    query = urlencode({"expires": expires, "sig": media_signature(job_id, clip, expires, secret)})
    return f"{base_url.rstrip('/')}{media_path(job_id, clip)}?{query}"


def verify_media_signature(
    job_id: int,
    clip: int | None,
    expires: int,
    sig: str,
    secret: str,
    now: float | None = None,
) -> bool:
    """True when `sig` signs exactly this job, clip and expiry with `secret`, and it has not expired."""
    if not secret or not sig:
        return False
    if int(expires) < (time.time() if now is None else now):
        return False
    expected = media_signature(job_id, clip, int(expires), secret)
    return hmac.compare_digest(expected.encode(), sig.lower().encode())


def link_expired(expires: int, now: float | None = None) -> bool:
    """Whether a link's `expires` lies in the past (to tell the holder why it no longer works)."""
    return int(expires) < (time.time() if now is None else now)


def link_secret(settings: Settings) -> str:
    """The configured link secret, or "" when signed links are off."""
    return settings.link_secret.get_secret_value() if settings.link_secret is not None else ""
