"""The stores under contract: in process, on the tests' Redis, and on a 3-node Redis Cluster made
from the machine's ``redis-server`` for this test session.

The cluster's ports depend on the pytest-xdist worker (gw0: 7101-7103, gw1: 7111-7113, ...; 7101
without xdist), so two workers each run their own; when a port (or its cluster bus port, +10000)
is taken, free ports are used instead. Nodes run in the foreground as children of this process,
with no persistence, in a temp dir removed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis, RedisCluster

from tests.conftest import REDIS_URL

BACKENDS = ["memory", "redis", "cluster"]
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Cluster:
    ports: list[int]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"


def _free(port: int) -> bool:
    for p in (port, port + 10000):  # the node's port and its cluster bus port
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def _ports() -> list[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    base = 7101 + 10 * int(worker.removeprefix("gw") or 0)
    wanted = [base, base + 1, base + 2]
    if all(_free(p) for p in wanted):
        return wanted
    ports: list[int] = []
    while len(ports) < 3:  # taken (another run, another program): any free ports below 55535
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 55535 and _free(port) and port not in ports:
            ports.append(port)
    return ports


def _wait(check: str, ports: list[int], deadline: float) -> None:
    for port in ports:
        while True:
            out = subprocess.run(
                ["redis-cli", "-p", str(port), *check.split()], capture_output=True, text=True, check=False
            ).stdout
            if "PONG" in out or "cluster_state:ok" in out:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis node {port}: no {check!r} answer in time ({out.strip()[:200]})")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed for the Redis Cluster tests")
    root = Path(tempfile.mkdtemp(prefix="helpline-cluster-"))
    ports = _ports()
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            folder = root / str(port)
            folder.mkdir()
            args = ["--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
            args += ["--cluster-config-file", "nodes.conf", "--dir", str(folder), "--save", "", "--appendonly", "no"]
            log = (folder / "redis.log").open("wb")
            nodes.append(subprocess.Popen(["redis-server", *args], stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + START_TIMEOUT
        _wait("PING", ports, deadline)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
            capture_output=True,
            check=True,
            timeout=START_TIMEOUT,
        )
        _wait("CLUSTER INFO", ports, deadline)
        yield Cluster(ports)
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The URL of the backend's Redis (None in process)."""
    if backend == "memory":
        return None
    if backend == "cluster":
        cluster: Cluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    return REDIS_URL


@pytest.fixture
async def redis_client(backend: str, redis_url: str | None) -> AsyncIterator[Redis | RedisCluster | None]:
    """A client as the app makes it (core.runtime.create_redis) for the backend; None in process."""
    if redis_url is None:
        yield None
        return
    client: Redis | RedisCluster
    if backend == "cluster":
        client = RedisCluster.from_url(redis_url, decode_responses=True)
    else:
        client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.aclose(), 5)
