"""What a client can do to the server process itself (penetration test, issue #18): hold
connections open by never finishing their headers, read tokens out of the log, get HSTS over
plain HTTP. `helpline serve` as it ships, on loopback addresses only; every attack is bounded
in connections and time."""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.cluster.launcher import HELPLINE, base_env, free_port
from tests.test_server_process import postgres_running

pytestmark = pytest.mark.slow

ATTACKER = "127.0.0.2"  # not a trusted proxy (HELPLINE_TRUSTED_PROXIES is 127.0.0.1)
PASSWORD = "Sturdy-pass-123"
HEADER_TIMEOUT = 4
_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_server_left_behind() -> Iterator[None]:
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class LoggedServer:
    """`helpline serve` with its output in a file (a pipe nobody reads would block it)."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        settings = {
            "HELPLINE_DEMO_DATA": "false",
            "HELPLINE_LLM_PROVIDER": "fake",
            "HELPLINE_EMBEDDING_PROVIDER": "fake",
            "HELPLINE_MODERATION_PROVIDER": "off",
            "HELPLINE_SECRET_KEY": "x" * 48,
            **env,
        }
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [HELPLINE, "serve", "--port", str(self.port)],
                env={**base_env(data_dir), **settings},
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        _started.append(self.proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited: {self.log.read_text()}"
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become ready in 60 s")

    def stop(self) -> str:
        self.proc.send_signal(2)
        self.proc.wait(30)
        return self.log.read_text()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    if postgres_running(tmp_path):
        subprocess.run([HELPLINE, "db-stop"], env=base_env(tmp_path), check=False, timeout=30)


def slow_client(port: int, source: str, request: bytes = b"GET /health HTTP/1.1\r\nHost: x\r\n") -> socket.socket:
    """A connection that sends part of a request's headers and never the blank line ending them."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.sendall(request)
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def wait_all_closed(socks: list[socket.socket], timeout: float, trickle: Sequence[socket.socket] = ()) -> None:
    """Wait until the server has closed every socket; the ``trickle`` ones send a byte meanwhile."""
    open_ = set(socks)
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for sock in trickle:
            if sock in open_:
                with contextlib.suppress(OSError):
                    sock.send(b"x")  # another header byte: must not buy more time
        for key, _ in selector.select(0.2):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            if closed_by_server(ready):
                open_.discard(ready)
                selector.unregister(ready)
    selector.close()
    assert not open_, f"{len(open_)} of {len(socks)} slow connections still open after {timeout} s"


def test_slow_header_connections_are_closed_and_health_answers_meanwhile(data_dir: Path) -> None:
    # Header timeout of 4 s; the per-address cap (20) is spread over: 15 loopback addresses x 20
    # = 300 slow connections, as a botnet would, so only the timeout can end them.
    server = LoggedServer(
        data_dir,
        HELPLINE_SERVER_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP="20",
    )
    started = time.monotonic()
    slow = [slow_client(server.port, f"127.0.0.{10 + i % 15}") for i in range(300)]
    # Trickling a byte at a time, and a kept-alive connection whose second request never ends.
    trickle = [slow_client(server.port, "127.0.0.40", b"GET /health HTTP/1.1\r\nX-Pad: ") for _ in range(5)]
    kept = socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=("127.0.0.41", 0))
    kept.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    kept.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    kept.setblocking(False)
    try:
        # During the attack the service answers, over new connections, from anyone.
        for _ in range(3):
            r = httpx.get(server.url + "/health", timeout=5)
            assert r.status_code == 200
            assert r.json()["status"] == "healthy"
        if time.monotonic() - started < HEADER_TIMEOUT - 1:  # a very slow machine may be past it already
            assert not any(closed_by_server(s) for s in slow), "closed before the header timeout"
        # Then the server closes every one of them, without the client doing anything.
        wait_all_closed([*slow, *trickle, kept], timeout=30, trickle=trickle)
        metrics = httpx.get(server.url + "/metrics", timeout=5).text
        closed = re.search(r'http_connections_closed_total\{reason="header_timeout"\} ([0-9.]+)', metrics)
        assert closed is not None
        assert float(closed.group(1)) >= 306
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
    finally:
        for sock in [*slow, *trickle, kept]:
            sock.close()
        server.stop()


def test_one_address_cannot_take_more_than_its_share_of_connections(data_dir: Path) -> None:
    server = LoggedServer(
        data_dir, HELPLINE_SERVER_HEADER_TIMEOUT_SECONDS="60", HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP="20"
    )
    attack = [slow_client(server.port, ATTACKER) for _ in range(60)]
    proxied = [slow_client(server.port, "127.0.0.1") for _ in range(40)]  # a trusted proxy: not capped
    try:
        refused = [s for s in attack if s not in attack[:20]]
        wait_all_closed(refused, timeout=30)
        # Once a later connection is answered the earlier ones were all accepted (in order):
        # the first 20 of the attacker and every one of the proxy's are still open.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=5) as other:
            assert other.get(server.url + "/health").status_code == 200
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
        assert not any(closed_by_server(s) for s in attack[:20])
        assert not any(closed_by_server(s) for s in proxied)
        # The attacker's address has no room for even an honest request until its sockets go.
        attacker = httpx.HTTPTransport(local_address=ATTACKER)
        with httpx.Client(transport=attacker, timeout=5) as again, pytest.raises(httpx.TransportError):
            again.get(server.url + "/health")
        for sock in attack[:20]:
            sock.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with httpx.Client(transport=httpx.HTTPTransport(local_address=ATTACKER), timeout=5) as after:
                    assert after.get(server.url + "/health").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the closed connections never gave their slots back"
                time.sleep(0.05)
    finally:
        for sock in [*attack, *proxied]:
            sock.close()
        server.stop()


def test_tokens_in_urls_never_reach_the_log_and_hsts_only_over_https(data_dir: Path) -> None:
    server = LoggedServer(data_dir, HELPLINE_LOG_LEVEL="INFO")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            body = {"email": "log@example.com", "password": PASSWORD, "data_processing_consent": True}
            assert http.post("/api/v1/auth/register", json=body).status_code == 202
            tokens = http.post("/api/v1/auth/login", json={"login": "log@example.com", "password": PASSWORD}).json()
            access, refresh = tokens["access_token"], tokens["refresh_token"]
            user_id = tokens["user"]["id"]
            ws_url = f"ws://127.0.0.1:{server.port}/api/v1/chat/ws/{user_id}?token={access}"
            with ws_connect(ws_url, open_timeout=10) as ws:
                ws.send(json.dumps({"type": "ping"}))
                assert json.loads(ws.recv(10))["type"] == "pong"
            # A bad token is logged too (uvicorn logs the path of every socket it closes).
            forged = f"ws://127.0.0.1:{server.port}/api/v1/chat/ws/{user_id}?token=forged.{refresh}"
            with ws_connect(forged) as bad, pytest.raises(ConnectionClosed):
                bad.recv(10)
            http.get(f"/api/v1/users/me?token={access}&access_token={access}&refresh_token={refresh}&code=oauth-code-1")
            http.get(f"/api/v1/nope?token={access}")

            # HSTS: only over https, which a trusted proxy (127.0.0.1) may vouch for...
            assert "strict-transport-security" not in http.get("/health").headers
            forwarded = http.get("/health", headers={"X-Forwarded-Proto": "https"})
            assert forwarded.headers["strict-transport-security"].startswith("max-age=")
        # ...and anyone else may not.
        with httpx.Client(transport=httpx.HTTPTransport(local_address=ATTACKER), timeout=5) as other:
            r = other.get(server.url + "/health", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" not in r.headers
    finally:
        log = server.stop()
    assert "WebSocket /api/v1/chat/ws/" in log  # the lines are there...
    assert "token=[redacted]" in log
    for secret in (access, refresh, "oauth-code-1"):  # ...without the secrets
        assert secret not in log
