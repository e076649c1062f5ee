"""Request dependencies, declared once: the service, the settings, the API caller, an owned job,
and a downloadable job (the owner's key, or a signed link from `dreamreel.links`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import ApiClient, key_id, match_secret
from dreamreel.errors import NotFound
from dreamreel.links import link_expired, link_secret, verify_media_signature
from dreamreel.service import DreamService
from dreamreel.settings import Settings
from dreamreel.views import JobView

bearer = HTTPBearer(auto_error=False, description="An API key from DREAMREEL_API_KEYS")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_service(request: Request) -> DreamService:
    service: DreamService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[DreamService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_api_client(settings: SettingsDep, credentials: Credentials) -> ApiClient:
    """The caller of a valid `Authorization: Bearer <key>`; 401 otherwise."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "Send an API key as `Authorization: Bearer <key>`.", headers=challenge)
    secret = match_secret(credentials.credentials, settings.api_keys)
    if secret is None:
        raise HTTPException(401, "The API key is not valid.", headers=challenge)
    return ApiClient(key_id=key_id(secret))


ApiClientDep = Annotated[ApiClient, Depends(get_api_client)]


# ids are 32-bit integer columns on PostgreSQL; larger numbers cannot name a job
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The job id from POST /v1/diaries")]


def get_owned_job(job_id: JobId, client: ApiClientDep, service: ServiceDep) -> JobView:
    """The job `job_id` if this API key submitted it; the same 404 as a missing job otherwise."""
    job = service.get_job(job_id)
    if not client.owns(job.channel, job.user):
        raise NotFound(f"job {job_id}")
    return job


OwnedJobDep = Annotated[JobView, Depends(get_owned_job)]

# scoped to the API key before it is stored: ApiClient.scoped_idempotency_key
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="Retrying with the same key returns the same job")]


ClipIndex = Annotated[int, Path(ge=0, le=1000, description="The scene index, from 0")]
LinkExpires = Annotated[int | None, Query(
    ge=0, le=2**40, description="Signed link: expiry (unix seconds). With `sig`, no API key is needed.")]
LinkSignature = Annotated[str | None, Query(
    max_length=128, description="Signed link: hex HMAC-SHA256 of `{job_id}:{clip index or 'video'}:{expires}`")]


def _downloadable(job_id: int, clip: int | None, expires: int | None, sig: str | None,
                  credentials: HTTPAuthorizationCredentials | None, settings: Settings,
                  service: DreamService) -> JobView:
    """The owner's API key, or a valid signed link for exactly this file (403 when the link is not)."""
    if expires is None and sig is None:
        return get_owned_job(job_id, get_api_client(settings, credentials), service)
    if expires is None or sig is None:
        raise HTTPException(403, "A signed link needs both `expires` and `sig`.")
    secret = link_secret(settings)
    if not secret:
        raise HTTPException(403, "Signed download links are not enabled on this server.")
    if link_expired(expires):
        raise HTTPException(403, "This download link has expired; ask for a new one.")
    if not verify_media_signature(job_id, clip, expires, sig, secret):
        raise HTTPException(403, "This download link is not valid (its signature does not match).")
    return service.get_job(job_id)


def get_video_job(job_id: JobId, credentials: Credentials, settings: SettingsDep, service: ServiceDep,
                  expires: LinkExpires = None, sig: LinkSignature = None) -> JobView:
    """The job whose stitched video may be downloaded by this request."""
    return _downloadable(job_id, None, expires, sig, credentials, settings, service)


def get_clip_job(job_id: JobId, index: ClipIndex, credentials: Credentials, settings: SettingsDep,
                 service: ServiceDep, expires: LinkExpires = None, sig: LinkSignature = None) -> JobView:
    """The job whose clip `index` may be downloaded by this request."""
    return _downloadable(job_id, index, expires, sig, credentials, settings, service)


VideoJobDep = Annotated[JobView, Depends(get_video_job)]
ClipJobDep = Annotated[JobView, Depends(get_clip_job)]
