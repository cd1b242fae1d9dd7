"""A Helpline cluster on loopback ports, importable without pytest: the cluster tests'
fixture (tests/cluster/conftest.py) and the load suite (`python -m bench.load`) both start theirs
with ``launch()``.

What it starts: a `redis-server` of its own on a free port (never the machine's 6379), two
`helpline serve` processes (A and B) on one PostgreSQL database (the caller's), one
`helpline worker` running the background jobs, and nginx in front with deploy/nginx/helpline.conf
(both instances as its upstream, a self-signed certificate for help.example.com). The model is an
OpenAI-compatible server the caller runs (tests/cluster/fake_llm.py) at ``llm_url``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "helpline.conf"
SITE = "help.example.com"
HELPLINE = str(Path(sys.executable).parent / "helpline")
# Debian installs nginx in /usr/sbin, which a user's PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin")
REDIS_SERVER = shutil.which("redis-server")

LLM = TypeVar("LLM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without HELPLINE_* (a developer's settings must not leak in), for a test
    server: its data dir, cheap bcrypt, warnings only, no reranker warming in the background."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_ENV_FILE="",
        HELPLINE_DATA_DIR=str(data_dir),
        HELPLINE_AUTH_BCRYPT_ROUNDS="4",
        HELPLINE_LOG_LEVEL="WARNING",
        # The reranker embeds every demo FAQ in the background after a start (about 15 s of CPU
        # here), competing with the test for nothing it checks; the round trip keeps the default.
        HELPLINE_SEARCH_RERANK="off",
    )
    env.update(extra)
    return env


def wait_port(port: int, proc: subprocess.Popen[Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} did not listen in {timeout} s"
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# -- nginx ----------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={SITE}",
         "-addext", f"subjectAltName=DNS:{SITE}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def site_config(folder: Path, *, app_port: int = 8000, tls_port: int = 443, plain_port: int = 80) -> Path:
    """The shipped file with this test's certificate and loopback ports, inside a minimal nginx.conf."""
    cert, key = self_signed(folder)
    text = CONF.read_text()
    text = text.replace(f"/etc/letsencrypt/live/{SITE}/fullchain.pem", str(cert))
    text = text.replace(f"/etc/letsencrypt/live/{SITE}/privkey.pem", str(key))
    text = re.sub(r"^\s*listen \[::\]:.*$", "", text, flags=re.M)  # the test binds loopback only
    text = re.sub(r"listen 443\b", f"listen 127.0.0.1:{tls_port}", text)
    text = re.sub(r"listen 80\b", f"listen 127.0.0.1:{plain_port}", text)
    text = re.sub(r"server 127\.0\.0\.1:8000\b", f"server 127.0.0.1:{app_port}", text)
    (folder / "helpline.conf").write_text(text)
    main = folder / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\nevents {{}}\n"
        f"http {{\n  access_log {folder}/access.log;\n  include {folder}/helpline.conf;\n}}\n"
    )
    return main


# The shipped per-address limits (connections, requests per second, sign-ins per minute) assume
# one person per address; a load generator is thousands of people on 127.0.0.1.
_PER_ADDRESS_LIMITS = (
    (r"limit_conn helpline_conn \d+;", "limit_conn helpline_conn 60000;"),
    (r"rate=20r/s", "rate=100000r/s"),
    (r"rate=30r/m", "rate=100000r/s"),
    (r"burst=60 nodelay", "burst=100000 nodelay"),
    (r"burst=10 nodelay", "burst=100000 nodelay"),
)


def nginx_config(folder: Path, ports: tuple[int, int], tls_port: int, *, per_address_limits: bool = True) -> Path:
    """deploy/nginx/helpline.conf with both instances as its upstream (and, without
    ``per_address_limits``, its per-address limits lifted for a load generator on one address)."""
    main = site_config(folder, app_port=ports[0], tls_port=tls_port, plain_port=free_port())
    conf = folder / "helpline.conf"
    first = f"server 127.0.0.1:{ports[0]} max_fails=3 fail_timeout=10s;"
    text = conf.read_text()
    assert first in text
    text = text.replace(first, f"{first}\n    server 127.0.0.1:{ports[1]} max_fails=3 fail_timeout=10s;")
    if not per_address_limits:
        for pattern, replacement in _PER_ADDRESS_LIMITS:
            text, count = re.subn(pattern, replacement, text)
            assert count, f"deploy/nginx/helpline.conf no longer has {pattern!r}"
        # nginx's default of 512 connections per worker is a few hundred proxied streams.
        main.write_text(main.read_text().replace("events {}", "events { worker_connections 16384; }"))
    conf.write_text(text)
    return main


# -- processes ------------------------------------------------------------------------------


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
class RedisServer:
    """A `redis-server` of the cluster's own on a fixed port, nothing persisted: restarted, it
    comes back empty, as a Redis without persistence does."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port, self.proc, "redis-server")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig, timeout=10)


# -- the cluster ----------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: int
    token: str


@dataclass
class Cluster(Generic[LLM]):
    a: Instance
    b: Instance
    worker: subprocess.Popen[str]
    llm: LLM
    tls_port: int
    trust: ssl.SSLContext
    redis: RedisServer
    database_url: str
    password: str
    nginx: subprocess.Popen[str] | None = None

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def front_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    def ensure_running(self) -> None:
        """Both instances up (a test before may have stopped one)."""
        stopped = [i for i in (self.a, self.b) if not i.running]
        for instance in stopped:
            instance.start()
        for instance in stopped:
            instance.ready()

    def client(self, instance: Instance | None = None, token: str | None = None, **options: Any) -> httpx.AsyncClient:
        """HTTP to one instance, or through nginx (None) as a browser would."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        options.setdefault("timeout", 30)
        if instance is not None:
            return httpx.AsyncClient(base_url=instance.url, headers=headers, **options)

        async def sni(request: httpx.Request) -> None:
            request.extensions["sni_hostname"] = SITE

        return httpx.AsyncClient(
            base_url=self.front_url,
            headers={"Host": SITE, **headers},
            verify=self.trust,
            event_hooks={"request": [sni]},
            **options,
        )

    def connect(self, user: User, instance: Instance | None = None) -> ws_connect:
        """The user's chat WebSocket on one instance, or through nginx (None), not yet authenticated."""
        path = f"/api/v1/chat/ws/{user.id}"
        if instance is None:
            return ws_connect(
                f"wss://{SITE}{path}", ssl=self.trust, host="127.0.0.1", port=self.tls_port, proxy=None, open_timeout=10
            )
        return ws_connect(f"ws://127.0.0.1:{instance.port}{path}", proxy=None, open_timeout=10)

    @asynccontextmanager
    async def socket(self, user: User, instance: Instance | None = None) -> AsyncIterator[ClientConnection]:
        """The user's chat WebSocket on one instance, or through nginx (None), authenticated."""
        async with self.connect(user, instance) as ws:
            await ws.send(json.dumps({"type": "auth", "token": user.token}))
            assert (await recv(ws))["type"] == "authenticated"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv(ws))["type"] == "pong"  # authenticated and listening
            yield ws

    async def user(self) -> User:
        """A new account (registered and signed in on A directly: nginx's sign-in rate is tight)."""
        email = f"u{uuid.uuid4().hex[:10]}@example.com"
        async with self.client(self.a) as http:
            body = {"email": email, "password": self.password, "data_processing_consent": True}
            r = await http.post("/api/v1/auth/register", json=body)
            assert r.status_code == 202, r.text
            r = await http.post("/api/v1/auth/login", json={"login": email, "password": self.password})
            assert r.status_code == 200, r.text
            tokens = r.json()
        return User(int(tokens["user"]["id"]), tokens["access_token"])


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


async def seed_admin(database_url: str, root: Path, secret: str, password: str) -> None:
    """The first admin, made before the instances start (two starting at once would both try)."""
    from helpline.ai.moderation import NoModeration
    from helpline.ai.providers.fake import FakeProvider
    from helpline.core.config import AuthSettings, DatabaseSettings, LLMSettings, RedisSettings, load_settings
    from helpline.core.db import session_scope
    from helpline.core.runtime import Runtime
    from helpline.users.bootstrap import ensure_admin

    settings = load_settings(
        auth=AuthSettings(secret_key=secret, bcrypt_rounds=4),
        llm=LLMSettings(provider="fake", timeout_seconds=5),
        database=DatabaseSettings(url=database_url),
        redis=RedisSettings(),
        data_dir=root,
        log_json=False,
        log_level="WARNING",
    )
    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=NoModeration())
    try:
        async for session in session_scope(runtime.sessionmaker):
            await ensure_admin(session, runtime, "admin@example.com", password)
    finally:
        await runtime.close()


def cluster_env(
    root: Path, database_url: str, redis_url: str, llm_url: str, secret: str, **extra: str
) -> dict[str, str]:
    """The instances' and the worker's settings: the cluster tests', and ``extra`` over them."""
    env = base_env(
        root / "data",  # shared: an export one process writes, another serves
        HELPLINE_DATABASE_URL=database_url,
        HELPLINE_REDIS_URL=redis_url,
        HELPLINE_SECRET_KEY=secret,
        HELPLINE_JOBS_IN_SERVER="false",
        HELPLINE_DEMO_DATA="false",
        HELPLINE_LLM_PROVIDER="openai",
        HELPLINE_LLM_BASE_URL=llm_url,
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
    )
    env.update(extra)
    return env


@contextmanager
def launch(
    root: Path,
    database_url: str,
    llm: LLM,
    llm_url: str,
    *,
    secret: str,
    password: str,
    env: Mapping[str, str] | None = None,
    per_address_limits: bool = True,
) -> Iterator[Cluster[LLM]]:
    """Start the cluster in ``root`` on ``database_url`` (migrated already), yield it, stop it
    all. ``env`` adds or overrides HELPLINE_* settings of the instances and the worker."""
    if NGINX is None:
        raise RuntimeError("nginx is not installed: `make nginx` installs Debian's")
    if REDIS_SERVER is None:
        raise RuntimeError("redis-server is not installed")
    procs: list[subprocess.Popen[Any]] = []
    redis = RedisServer(root).start()
    try:
        settings = cluster_env(root, database_url, redis.url, llm_url, secret, **dict(env or {}))
        a = Instance("A", settings, root / "a.log")
        b = Instance("B", settings, root / "b.log")
        with (root / "worker.log").open("w") as out:
            worker = subprocess.Popen(
                [HELPLINE, "worker", "--no-migrate"], env=settings, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        procs.append(worker)
        # The first admin exists before they start: two instances starting at once would both try
        # to create it. Then A, B and the worker start side by side.
        asyncio.run(seed_admin(database_url, root, secret, password))
        a.start()
        b.start()
        a.ready()
        b.ready()
        folder = root / "nginx"
        folder.mkdir()
        tls_port = free_port()
        main = nginx_config(folder, (a.port, b.port), tls_port, per_address_limits=per_address_limits)
        nginx = subprocess.Popen(
            [NGINX, "-c", str(main), "-p", f"{folder}/", "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(nginx)
        wait_port(tls_port, nginx, "nginx")
        trust = ssl.create_default_context(cafile=str(folder / "cert.pem"))
        try:
            yield Cluster(a, b, worker, llm, tls_port, trust, redis, database_url, password, nginx)
        finally:
            release = getattr(llm, "release_all", None)
            if release is not None:
                release()  # an answer still held would hold its instance's stop
            running = [(i.proc, signal.SIGINT) for i in (a, b) if i.proc is not None and i.proc.poll() is None]
            running += [(nginx, signal.SIGQUIT), (worker, signal.SIGTERM)]
            for proc, sig in running:  # all at once, then wait for each
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            for proc, sig in running:
                stop_process(proc, sig)
    finally:
        for proc in reversed(procs):
            stop_process(proc, timeout=10)
        redis.stop()
