"""GET /healthz and GET /metrics (Prometheus)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from api.deps import ServiceDep
from api.metrics import JobMetrics

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Health(BaseModel):
    status: str
    database: str


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "The database does not answer"}},
            summary="Liveness and database check")
def healthz(service: ServiceDep) -> JSONResponse:
    try:
        service.list_jobs(limit=1)
    except Exception:
        logger.exception("health check: database error")
        return JSONResponse(Health(status="unavailable", database="error").model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", database="ok").model_dump())


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {PROMETHEUS_TYPE: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition"}},
            summary="Jobs by state, render seconds, queue depth")
def metrics(request: Request) -> PlainTextResponse:
    job_metrics: JobMetrics = request.app.state.metrics
    return PlainTextResponse(job_metrics.render(), media_type=PROMETHEUS_TYPE)
