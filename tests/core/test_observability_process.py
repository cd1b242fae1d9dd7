"""`helpline serve --workers 2` as a real process: /metrics adds up both workers (prometheus-client's
multiprocess mode), and every line the server writes to stderr, uvicorn's included, is one JSON
object; a request's line has its route, status, latency, request id and user id, never an email."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.cluster.launcher import HELPLINE, base_env, free_port

pytestmark = pytest.mark.slow

TOKEN = "metrics-token-0123456789"
ADMIN = {"login": "ops-admin@example.com", "password": "Admin-pass-123"}
HEALTH_SERIES = re.compile(r'^http_requests_total\{endpoint="/health",method="GET",status="200"\} ([0-9.]+)$', re.M)


def start(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    # stderr to a file: a pipe nobody reads until the end would fill up and block the server.
    with log.open("w") as err:
        return subprocess.Popen(
            [HELPLINE, "serve", "--port", str(port), "--workers", "2", "--no-migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


def scrape(url: str) -> str:
    # A new connection each time: the kernel hands it to either worker.
    r = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.text


def health_count(text: str) -> float:
    found = HEALTH_SERIES.search(text)
    return float(found.group(1)) if found else 0.0


def pids_that_served_health(folder: Path) -> set[str]:
    """Worker processes whose own counter file holds the /health series (each writes its own)."""
    return {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db") if b'"/health"' in p.read_bytes()}


async def test_two_workers_one_metrics_view_and_json_logs(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(
        tmp_path,
        HELPLINE_DATABASE_URL=database_url,
        HELPLINE_DEMO_DATA="false",
        HELPLINE_LLM_PROVIDER="fake",
        HELPLINE_MODERATION_PROVIDER="off",
        HELPLINE_JOBS_IN_SERVER="false",
        HELPLINE_LOG_LEVEL="INFO",
        HELPLINE_LOG_JSON="true",
        HELPLINE_METRICS_TOKEN=TOKEN,
        HELPLINE_ADMIN_EMAIL=ADMIN["login"],
        HELPLINE_ADMIN_PASSWORD=ADMIN["password"],
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    )
    log = tmp_path / "server.log"
    proc = await asyncio.to_thread(start, port, env, log)
    try:
        await asyncio.to_thread(wait_ready, url, proc)
        # Both workers serve /health, each counting in its own file...
        sent = 0
        while len(pids_that_served_health(folder)) < 2:
            assert sent < 400, "one worker took every connection"
            assert (await asyncio.to_thread(httpx.get, url + "/health", timeout=5)).status_code == 200
            sent += 1
        # ...and whichever answers the scrape reports the sum.
        counts = {health_count(await asyncio.to_thread(scrape, url)) for _ in range(8)}
        assert counts == {float(sent)}
        assert (await asyncio.to_thread(httpx.get, url + "/metrics", timeout=5)).status_code == 401

        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            r = await client.post("/api/v1/auth/login", json=ADMIN)
            assert r.status_code == 200, r.text
            me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
            assert me.status_code == 200
            user_id = me.json()["id"]
            request_id = me.headers["x-request-id"]
            assert (await client.get("/api/v1/nothing-here")).status_code == 404
        try:  # uvicorn logs the handshake; no token is sent, so the socket is closed after a while
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/chat/ws/{user_id}", proxy=None) as ws:
                await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed:
            pass
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 60)
    stderr = log.read_text()
    assert proc.returncode == 0, stderr[-3000:]

    lines: list[dict[str, Any]] = []
    for raw in stderr.splitlines():
        if raw.strip():
            lines.append(json.loads(raw))  # every line, from both workers and uvicorn
    assert all({"event", "level", "timestamp"} <= line.keys() for line in lines)
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)
    assert any("WebSocket" in line["event"] for line in lines)
    served = [line for line in lines if line["event"] == "request" and line.get("request_id") == request_id]
    assert len(served) == 1
    assert served[0]["route"] == "/api/v1/users/me"
    assert served[0]["status"] == 200
    assert served[0]["user_id"] == user_id
    assert served[0]["duration_ms"] > 0
    missing = [line for line in lines if line["event"] == "request" and line["path"] == "/api/v1/nothing-here"]
    assert missing[0]["status"] == 404
    assert "user_id" not in missing[0]
    assert ADMIN["login"] not in stderr
    # Each worker dropped its live gauges (its pool's connections) from the sums as it stopped.
    assert not list(folder.glob("gauge_livesum_*.db"))
