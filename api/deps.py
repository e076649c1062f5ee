"""Request dependencies, declared once: the service, the settings, the API caller, an owned job."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import ApiClient, key_id, match_secret
from dreamreel.errors import NotFound
from dreamreel.service import DreamService
from dreamreel.settings import Settings
from dreamreel.views import JobView

bearer = HTTPBearer(auto_error=False, description="An API key from DREAMREEL_API_KEYS")


def get_service(request: Request) -> DreamService:
    service: DreamService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[DreamService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_api_client(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiClient:
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
