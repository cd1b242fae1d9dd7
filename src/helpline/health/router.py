"""Liveness (/health) and readiness (/health/ready) in the spec's response shape."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from helpline.core.db import ping
from helpline.core.deps import RuntimeDep
from helpline.core.metrics import HEALTH_CHECK

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


class HealthStatus(BaseModel):
    status: str = Field(
        description="healthy; degraded (an optional dependency, the LLM provider, is down: still ready); unhealthy"
    )
    timestamp: datetime
    checks: dict[str, str] = Field(description='Each dependency checked: "healthy" or why not')


def _body(status: str, checks: dict[str, str]) -> dict[str, Any]:
    return {"status": status, "timestamp": datetime.now(UTC).isoformat(), "checks": checks}


@router.get("/health", response_model=HealthStatus)
async def health() -> dict[str, Any]:
    """The process is up and serving. Use /health/ready for dependencies."""
    return _body("healthy", {})


async def _check(coro: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"unhealthy: no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:
        return f"unhealthy: {type(exc).__name__}: {exc}"[:300]
    return "healthy"


@router.get(
    "/health/ready",
    response_model=HealthStatus,
    responses={503: {"model": HealthStatus, "description": "The database or Redis is unhealthy"}},
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Database and Redis (when configured): 503 if either fails. The LLM provider (when
    configured) does not take the instance out of the load balancer: FAQ answers, search and the
    rest still work without it, and every instance shares it, so its failure answers 200 with
    status "degraded" and the check saying why."""
    names = ["database"]
    probes: list[Awaitable[Any]] = [ping(runtime.engine)]
    if runtime.redis is not None:
        names.append("redis")
        probes.append(runtime.redis.ping())
    required = len(names)
    for name, probe in runtime.health_probes.items():
        names.append(name)
        probes.append(probe())
    results = await asyncio.gather(*(_check(p) for p in probes))
    checks = dict(zip(names, results, strict=True))
    for name, result in checks.items():
        HEALTH_CHECK.labels(name).set(1 if result == "healthy" else 0)
    if any(r != "healthy" for r in results[:required]):
        return JSONResponse(_body("unhealthy", checks), status_code=503)
    status = "healthy" if all(r == "healthy" for r in results) else "degraded"
    return JSONResponse(_body(status, checks), status_code=200)
