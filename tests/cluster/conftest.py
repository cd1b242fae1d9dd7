"""A Helpline cluster on loopback ports, for the tests of many instances (`make e2e-cluster`):
two `helpline serve` processes (A and B) on one PostgreSQL database (the session's embedded
server) and one Redis (a `redis-server` of this run's own, on a free port), one `helpline worker`
running the background jobs, nginx in front with deploy/nginx/helpline.conf (both instances as
its upstream), and an OpenAI-compatible model server (tests/cluster/fake_llm.py) whose answers a
test can hold mid-stream. One cluster per module; a test that stops an instance starts it again."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from helpline.ai.moderation import NoModeration
from helpline.ai.providers.fake import FakeProvider
from helpline.core.db import session_scope
from helpline.core.runtime import Runtime
from helpline.users.bootstrap import ensure_admin
from tests.cluster.fake_llm import FakeLLM, fake_llm
from tests.conftest import PASSWORD, TEST_SECRET, PgServer, make_settings
from tests.test_server_process import HELPLINE, base_env, free_port

SITE = "help.example.com"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin")
REDIS_SERVER = shutil.which("redis-server")
API_LIMIT = 20  # API requests per user and minute (HELPLINE_LIMITS_RULES "api:user"), shared by A and B


def _wait_port(port: int, proc: subprocess.Popen[Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} did not listen in {timeout} s"
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class Instance:
    """One `helpline serve` of the cluster, on a fixed port (nginx's upstream names it)."""

    name: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Instance:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [HELPLINE, "serve", "--no-migrate", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return self

    def ready(self, timeout: float = 150) -> Instance:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited: {self.log.read_text()[-3000:]}"
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become ready in {timeout} s: {self.log.read_text()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


@dataclass
class Cluster:
    a: Instance
    b: Instance
    worker: subprocess.Popen[str]
    llm: FakeLLM
    tls_port: int
    trust: ssl.SSLContext
    redis_url: str
    database_url: str

    def ensure_running(self) -> None:
        """Both instances up (a test before may have stopped one)."""
        stopped = [i for i in (self.a, self.b) if not i.running]
        for instance in stopped:
            instance.start()
        for instance in stopped:
            instance.ready()

    def client(self, instance: Instance | None = None, token: str | None = None) -> httpx.AsyncClient:
        """HTTP to one instance, or through nginx (None) as a browser would."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if instance is not None:
            return httpx.AsyncClient(base_url=instance.url, headers=headers, timeout=30)

        async def sni(request: httpx.Request) -> None:
            request.extensions["sni_hostname"] = SITE

        return httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{self.tls_port}",
            headers={"Host": SITE, **headers},
            verify=self.trust,
            timeout=30,
            event_hooks={"request": [sni]},
        )

    @asynccontextmanager
    async def socket(self, user: User, instance: Instance | None = None) -> AsyncIterator[ClientConnection]:
        """The user's chat WebSocket on one instance, or through nginx (None), authenticated."""
        path = f"/api/v1/chat/ws/{user.id}"
        if instance is None:
            connect = websockets.connect(
                f"wss://{SITE}{path}", ssl=self.trust, host="127.0.0.1", port=self.tls_port, proxy=None, open_timeout=10
            )
        else:
            connect = websockets.connect(f"ws://127.0.0.1:{instance.port}{path}", proxy=None, open_timeout=10)
        async with connect as ws:
            await ws.send(json.dumps({"type": "auth", "token": user.token}))
            assert (await recv(ws))["type"] == "authenticated"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv(ws))["type"] == "pong"  # authenticated and listening
            yield ws

    async def user(self) -> User:
        """A new account (registered and signed in on A directly: nginx's sign-in rate is tight)."""
        email = f"u{uuid.uuid4().hex[:10]}@example.com"
        async with self.client(self.a) as http:
            body = {"email": email, "password": PASSWORD, "data_processing_consent": True}
            r = await http.post("/api/v1/auth/register", json=body)
            assert r.status_code == 202, r.text
            r = await http.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens = r.json()
        return User(int(tokens["user"]["id"]), tokens["access_token"])


@dataclass(frozen=True)
class User:
    id: int
    token: str


async def recv(ws: ClientConnection, timeout: float = 15) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert isinstance(frame, dict)
    return frame


async def close_code(ws: ClientConnection, timeout: float = 20) -> int | None:
    """Read on until the server closes the socket: its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


async def frames_until(ws: ClientConnection, kind: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Frames received up to and including the first of ``kind``."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            got.append(await recv(ws, timeout))
            if got[-1]["type"] == kind:
                return got


async def _seed_admin(database_url: str, root: Path) -> None:
    settings = make_settings(database_url, root)
    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=NoModeration())
    try:
        async for session in session_scope(runtime.sessionmaker):
            await ensure_admin(session, runtime, "admin@example.com", PASSWORD)
    finally:
        await runtime.close()


def _nginx_config(folder: Path, ports: tuple[int, int], tls_port: int) -> Path:
    from tests.test_nginx import site_config

    main = site_config(folder, app_port=ports[0], tls_port=tls_port, plain_port=free_port())
    conf = folder / "helpline.conf"
    first = f"server 127.0.0.1:{ports[0]} max_fails=3 fail_timeout=10s;"
    text = conf.read_text()
    assert first in text
    conf.write_text(text.replace(first, f"{first}\n    server 127.0.0.1:{ports[1]} max_fails=3 fail_timeout=10s;"))
    return main


@pytest.fixture(scope="module")
def cluster(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if NGINX is None:
        pytest.skip("nginx is not installed: `make nginx` installs Debian's (make test does)")
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    root = tmp_path_factory.mktemp("cluster")
    procs: list[subprocess.Popen[Any]] = []
    database = asyncio.run(pg_server.create_database())
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(redis)
        _wait_port(redis_port, redis, "redis-server")
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        with fake_llm() as llm:
            env = base_env(
                root / "data",  # shared: an export one process writes, another serves
                HELPLINE_DATABASE_URL=pg_server.url(database),
                HELPLINE_REDIS_URL=redis_url,
                HELPLINE_SECRET_KEY=TEST_SECRET,
                HELPLINE_JOBS_IN_SERVER="false",
                HELPLINE_DEMO_DATA="false",
                HELPLINE_LLM_PROVIDER="openai",
                HELPLINE_LLM_BASE_URL=llm.url,
                HELPLINE_LLM_API_KEY="test-key",
                HELPLINE_LLM_MODEL="fake",
                HELPLINE_LLM_CONTEXT_WINDOW="8192",
                HELPLINE_LLM_MAX_RETRIES="0",
                HELPLINE_LLM_TIMEOUT_SECONDS="30",
                HELPLINE_EMBEDDING_PROVIDER="fake",
                HELPLINE_MODERATION_PROVIDER="off",
                HELPLINE_GUARD_ENABLED="false",
                HELPLINE_REDIS_INSTANCE_TTL_SECONDS="2",
                HELPLINE_AUTH_REGISTER_LIMIT_PER_IP="1000/hour",
                HELPLINE_LIMITS_RULES=json.dumps({"api:user": f"{API_LIMIT}/minute"}),
            )
            a = Instance("A", env, root / "a.log")
            b = Instance("B", env, root / "b.log")
            with (root / "worker.log").open("w") as out:
                worker = subprocess.Popen(
                    [HELPLINE, "worker", "--no-migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True
                )
            procs.append(worker)
            # The first admin exists before they start: two instances starting at once would
            # both try to create it. Then A, B and the worker start side by side.
            asyncio.run(_seed_admin(pg_server.url(database), root))
            a.start()
            b.start()
            a.ready()
            b.ready()
            folder = root / "nginx"
            folder.mkdir()
            tls_port = free_port()
            main = _nginx_config(folder, (a.port, b.port), tls_port)
            nginx = subprocess.Popen(
                [NGINX, "-c", str(main), "-p", f"{folder}/", "-e", "stderr"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(nginx)
            _wait_port(tls_port, nginx, "nginx")
            trust = ssl.create_default_context(cafile=str(folder / "cert.pem"))
            try:
                yield Cluster(a, b, worker, llm, tls_port, trust, redis_url, pg_server.url(database))
            finally:
                llm.release_all()  # an answer still held would hold its instance's stop
                running = [(i.proc, signal.SIGINT) for i in (a, b) if i.proc is not None and i.proc.poll() is None]
                running += [(nginx, signal.SIGQUIT), (worker, signal.SIGTERM)]
                for proc, sig in running:  # all at once, then wait for each
                    proc.send_signal(sig)
                for proc, sig in running:
                    _stop(proc, sig)
    finally:
        for proc in reversed(procs):
            _stop(proc, timeout=10)
        asyncio.run(pg_server.drop_database(database))
