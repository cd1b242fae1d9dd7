"""deploy/nginx/helpline.conf, the documented front: nginx accepts it (`nginx -t`), and run on
loopback ports in front of a live `helpline serve` it proxies a request, a Server-Sent Events
stream and a WebSocket, refuses a body over the app's limit and an unknown host name."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from helpline.core.config import LimitsSettings
from tests.cluster.launcher import free_port, site_config
from tests.test_transport import PASSWORD, LoggedServer, data_dir  # noqa: F401 - data_dir is a fixture

pytestmark = pytest.mark.slow

CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "helpline.conf"
SITE = "help.example.com"
# Debian installs nginx in /usr/sbin, which a user's PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin")

if NGINX is None:
    pytest.skip("nginx is not installed: `make nginx` installs Debian's (make test does)", allow_module_level=True)


def nginx(main: Path, *args: str) -> list[str]:
    assert NGINX is not None
    return [NGINX, "-c", str(main), "-p", f"{main.parent}/", "-e", "stderr", *args]


def test_the_shipped_config_passes_nginx_t(tmp_path: Path) -> None:
    r = subprocess.run(nginx(site_config(tmp_path), "-t"), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_the_body_limit_is_the_apps() -> None:
    limit = re.search(r"^\s*client_max_body_size (\d+)([km]?);", CONF.read_text(), re.M)
    assert limit is not None
    size = int(limit.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[limit.group(2)]
    assert size == LimitsSettings().max_body_bytes


@pytest.fixture
def front(data_dir: Path) -> Iterator[tuple[LoggedServer, int, int, ssl.SSLContext]]:  # noqa: F811
    app = LoggedServer(data_dir)
    tls_port, plain_port = free_port(), free_port()
    folder = data_dir / "nginx"
    folder.mkdir()
    main = site_config(folder, app_port=app.port, tls_port=tls_port, plain_port=plain_port)
    proc = subprocess.Popen(nginx(main), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    trust = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "nginx exited"
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen in 30 s"
                time.sleep(0.05)
        yield app, tls_port, plain_port, trust
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        app.stop()


def test_nginx_in_front_proxies_requests_streams_and_sockets(
    front: tuple[LoggedServer, int, int, ssl.SSLContext],
) -> None:
    app, tls_port, plain_port, trust = front
    base = f"https://127.0.0.1:{tls_port}"
    to_site = {"headers": {"Host": SITE}, "extensions": {"sni_hostname": SITE}}
    with httpx.Client(base_url=base, verify=trust, timeout=10) as http:
        r = http.get("/health", **to_site)  # type: ignore[arg-type]
        assert r.status_code == 200
        assert r.json()["status"] == "healthy"
        # The app learnt from the trusted proxy that the request came over https.
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["server"] == "nginx"  # server_tokens off: no version
        assert http.get("/metrics", **to_site).status_code == 404  # type: ignore[arg-type]  # scraped directly

        body = {"email": "front@example.com", "password": PASSWORD, "data_processing_consent": True}
        assert http.post("/api/v1/auth/register", json=body, **to_site).status_code == 202  # type: ignore[arg-type]
        login = {"login": "front@example.com", "password": PASSWORD}
        tokens = http.post("/api/v1/auth/login", json=login, **to_site).json()  # type: ignore[arg-type]
        auth = {"Authorization": f"Bearer {tokens['access_token']}", "Host": SITE}

        # Server-Sent Events through nginx: the events, then the end of the stream.
        events = []
        with http.stream(
            "POST", "/api/v1/chat/stream", json={"message": "Hello there"}, headers=auth,
            extensions={"sni_hostname": SITE},
        ) as stream:  # fmt: skip
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    events.append(line.split(":", 1)[1].strip())
        assert "token" in events
        assert events[-1] == "response"

        # A body over the app's limit never reaches the app.
        big = {"message": "x" * (LimitsSettings().max_body_bytes + 1)}
        assert (
            http.post("/api/v1/chat/send", json=big, headers=auth, extensions={"sni_hostname": SITE}).status_code == 413
        )

    # WebSocket through nginx, authenticated by its first frame.
    sock = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    url = f"wss://{SITE}:{tls_port}/api/v1/chat/ws/{tokens['user']['id']}"
    with ws_connect(url, sock=sock, ssl=trust, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
        assert json.loads(ws.recv(10))["type"] == "authenticated"
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(10))["type"] == "pong"

    # Another host name gets nothing; plain HTTP is sent to https on the site's own name.
    with httpx.Client(timeout=10) as plain:
        with pytest.raises(httpx.RemoteProtocolError):
            plain.get(f"http://127.0.0.1:{plain_port}/health", headers={"Host": "evil.example"})
        r = plain.get(f"http://127.0.0.1:{plain_port}/health?x=1", headers={"Host": SITE})
        assert r.status_code == 301
        assert r.headers["location"] == f"https://{SITE}/health?x=1"
    assert os.path.getsize(app.log) > 0
