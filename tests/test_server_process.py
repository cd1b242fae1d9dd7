"""The real thing: `helpline serve` as a process, embedded PostgreSQL, HTTP over a socket."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.cluster.launcher import HELPLINE, base_env, free_port

pytestmark = pytest.mark.slow

ADMIN = {"login": "root@example.com", "password": "Admin-pass-123"}


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_server_left_behind() -> Iterator[None]:
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:  # a failed test never stopped it
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Server:
    """`helpline serve` on a free port; ``ready()`` waits for it (start several, then wait)."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [HELPLINE, "serve", "--port", str(self.port)],
            env=base_env(data_dir, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _started.append(self.proc)

    def ready(self) -> Server:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stdout.read() if self.proc.stdout else ''}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.proc.kill()
        raise AssertionError("server did not become ready in 90 s")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, out
        return out


def postgres_running(data_dir: Path) -> bool:
    pidfile = data_dir / "pg" / "postmaster.pid"
    if not pidfile.exists():
        return False
    return bool(psutil.pid_exists(int(pidfile.read_text().split()[0])))


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for folder in (tmp_path, tmp_path / "a", tmp_path / "b"):
        if postgres_running(folder):  # never leave a server behind, even on failure
            subprocess.run([HELPLINE, "db-stop"], env=base_env(folder), check=False, timeout=30)


async def ws_close(port: int, size: int) -> tuple[int, str] | None:
    """Send one text frame of ``size`` bytes on a chat socket; the close code and reason."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/chat/ws/1", proxy=None) as ws:
        await ws.send("x" * size)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as exc:
            return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else None
    return None


def test_serve_two_instances_restart_and_admins(data_dir: Path) -> None:
    """Each start of a fresh data folder costs an initdb, the migrations and the demo knowledge base
    with its embeddings: three starts check what eight did. Instance A makes up its first admin's
    password and caps bodies at 4 KiB; instance B, side by side with its own folder, gets its admin
    from settings and runs the reranker as a user does (the default). A then restarts on its data."""
    a = Server(data_dir / "a", HELPLINE_LIMITS_MAX_BODY_BYTES="4096")
    b = Server(
        data_dir / "b",
        HELPLINE_ADMIN_EMAIL=ADMIN["login"],
        HELPLINE_ADMIN_PASSWORD=ADMIN["password"],
        HELPLINE_SEARCH_RERANK="e5",
    )
    a.ready()
    b.ready()
    with httpx.Client(base_url=a.url, timeout=10) as http:
        r = http.post(
            "/api/v1/auth/register",
            json={"email": "real@example.com", "password": "Sturdy-pass-123", "data_processing_consent": True},
        )
        assert r.status_code == 202, r.text
        tokens = http.post("/api/v1/auth/login", json={"login": "real@example.com", "password": "Sturdy-pass-123"})
        access = tokens.json()["access_token"]
        me = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["email"] == "real@example.com"
        assert http.get("/docs").status_code == 200
        assert "/api/v1/auth/register" in http.get("/openapi.json").json()["paths"]
    with httpx.Client(base_url=b.url, timeout=10) as http:
        assert http.get("/health").status_code == 200
        assert http.post("/api/v1/auth/login", json=ADMIN).json()["user"]["role"] == "admin"
        # The first search loads the reranker's model (e5): seconds on a loaded machine.
        hits = http.get("/api/v1/faqs/search", params={"q": "where is my parcel"}, timeout=120)
        assert hits.status_code == 200, hits.text
        assert hits.json()["items"]  # the demo knowledge base, reranked
    # uvicorn refuses a frame over the limit before the app reads it (the app's own check words it
    # otherwise); one at the limit reaches the app, which asks for a token.
    code, reason = asyncio.run(ws_close(a.port, 4097)) or (0, "")
    assert code == 1009
    assert "exceeds limit of 4096 bytes" in reason
    assert asyncio.run(ws_close(a.port, 4096)) == (
        4401,
        "Send ?token=<access token> or a first frame {type: auth, token}",
    )

    out_a, out_b = a.stop(), b.stop()
    assert "Created the first admin: root@example.com" in out_b
    line = next(ln for ln in out_a.splitlines() if "Created the first admin" in ln)
    generated = line.rsplit("password: ", 1)[1].strip()
    assert not postgres_running(data_dir / "a")  # Ctrl-C stopped the database too
    assert not postgres_running(data_dir / "b")

    # An admin made from the command line while the server is down, then a second start that
    # reuses the data and makes no new admin.
    made = run_cli(
        "create-admin", "--email", "ops@example.com", "--password", "Ops-pass-12345", env=base_env(data_dir / "a")
    )
    assert made.returncode == 0, made.stderr
    assert "created" in made.stdout
    again = Server(data_dir / "a").ready()
    with httpx.Client(base_url=again.url, timeout=10) as http:
        r = http.post("/api/v1/auth/login", json={"login": "real@example.com", "password": "Sturdy-pass-123"})
        assert r.status_code == 200, r.text
        for login, password in (("admin@example.com", generated), ("ops@example.com", "Ops-pass-12345")):
            r = http.post("/api/v1/auth/login", json={"login": login, "password": password})
            assert r.status_code == 200, r.text
            assert r.json()["user"]["role"] == "admin"
    assert "Created the first admin" not in again.stop()
    assert not postgres_running(data_dir / "a")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELPLINE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_invalid_setting_fails_with_one_line(tmp_path: Path) -> None:
    r = run_cli("migrate", env=base_env(tmp_path, HELPLINE_PORT="eighty"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "HELPLINE_PORT" in lines[0]


def test_production_refuses_the_default_secret(tmp_path: Path) -> None:
    r = run_cli("serve", env=base_env(tmp_path, HELPLINE_ENV="production"))
    assert r.returncode == 2
    assert "HELPLINE_SECRET_KEY" in r.stderr


def test_database_without_pgvector_fails_with_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        pytest.skip("the machine's PostgreSQL 15 (no pgvector) is not running on 127.0.0.1:5432")
    r = run_cli("migrate", env=base_env(tmp_path, HELPLINE_DATABASE_URL=url))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "pgvector" in lines[0]
    assert "127.0.0.1:5432" in lines[0]


def test_unreachable_database_fails_with_one_clear_line(tmp_path: Path) -> None:
    r = run_cli("migrate", env=base_env(tmp_path, HELPLINE_DATABASE_URL="postgresql://u:secret@127.0.0.1:1/x"))
    assert r.returncode == 1
    assert "cannot connect to PostgreSQL" in r.stderr
    assert "secret" not in r.stderr


def test_help_for_every_command(tmp_path: Path) -> None:
    for cmd in ("serve", "migrate", "create-admin", "db-shell", "db-stop"):
        r = run_cli(cmd, "--help", env=base_env(tmp_path))
        assert r.returncode == 0
        assert "Usage" in r.stdout
