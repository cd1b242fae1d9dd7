"""Jobs tests run on both queues: Redis (the tests' database) and the embedded PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from helpline.core.config import JobsSettings, RedisSettings, Settings
from tests.conftest import REDIS_URL, make_settings
from tests.privacy.conftest import redis_db  # noqa: F401 - a fixture: the tests' Redis database, flushed


@pytest.fixture(params=["redis", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def jobs_settings(database_url: str, tmp_path: Path, backend: str, **jobs: Any) -> Settings:
    # One attempt and no wait unless a test asks: a failing job fails at once.
    jobs = {"retries": 1, "retry_delay_seconds": 0.0, **jobs}
    redis = RedisSettings(url=REDIS_URL) if backend == "redis" else RedisSettings()
    return make_settings(database_url, tmp_path, redis=redis, jobs=JobsSettings(**jobs))


@pytest.fixture
def settings(database_url: str, tmp_path: Path, backend: str, redis_db: Redis) -> Settings:  # noqa: F811
    return jobs_settings(database_url, tmp_path, backend)
