"""A Helpline cluster on loopback ports, for the tests of many instances (`make e2e-cluster`):
two `helpline serve` processes (A and B) on one PostgreSQL database (the session's embedded
server) and one Redis (a `redis-server` of this run's own, on a free port), one `helpline worker`
running the background jobs, nginx in front with deploy/nginx/helpline.conf (both instances as
its upstream), and an OpenAI-compatible model server (tests/cluster/fake_llm.py) whose answers a
test can hold mid-stream. One cluster per module; a test that stops an instance starts it again.
The launcher itself is tests/cluster/launcher.py (the load suite, bench/load, starts one too)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.cluster import launcher
from tests.cluster.fake_llm import FakeLLM, fake_llm
from tests.cluster.launcher import NGINX, REDIS_SERVER, User, close_code, frames_until, recv
from tests.conftest import PASSWORD, TEST_SECRET, PgServer

__all__ = ["API_LIMIT", "Cluster", "User", "close_code", "frames_until", "recv"]

API_LIMIT = 20  # API requests per user and minute (HELPLINE_LIMITS_RULES "api:user"), shared by A and B
Cluster = launcher.Cluster[FakeLLM]


# Session-wide: under xdist's loadgroup a worker may interleave other modules' tests with these,
# and a module-scoped cluster was then torn down and started again (20-38 s each time).
@pytest.fixture(scope="session")
def cluster(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if NGINX is None:
        pytest.skip("nginx is not installed: `make nginx` installs Debian's (make test does)")
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    root = tmp_path_factory.mktemp("cluster")
    database = asyncio.run(pg_server.create_database())
    try:
        with (
            fake_llm() as llm,
            launcher.launch(
                root,
                pg_server.url(database),
                llm,
                llm.url,
                secret=TEST_SECRET,
                password=PASSWORD,
                env={"HELPLINE_LIMITS_RULES": json.dumps({"api:user": f"{API_LIMIT}/minute"})},
            ) as running,
        ):
            yield running
    finally:
        asyncio.run(pg_server.drop_database(database))
