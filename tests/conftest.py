"""Test fixtures on real services: one embedded PostgreSQL (with pgvector) per test session,
a template database with migrations applied, a fresh database per test cloned from it."""

from __future__ import annotations

import os

# Before helpline is imported: no developer .env or HELPLINE_* variables leak into tests, except
# HELPLINE_WEB_DIR (the browser tests may serve a web build made elsewhere) and the tests' own
# HELPLINE_TEST_* (such as HELPLINE_TEST_REDIS_URL, read below).
_KEPT = ("HELPLINE_WEB_DIR",)
for _name in [n for n in os.environ if n.startswith("HELPLINE_") and not n.startswith(("HELPLINE_TEST_", *_KEPT))]:
    del os.environ[_name]
os.environ["HELPLINE_ENV_FILE"] = ""

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy import event
from sqlalchemy.engine import make_url

from helpline.core.config import (
    DEFAULT_RULES,
    AuthSettings,
    DatabaseSettings,
    LLMSettings,
    PushSettings,
    RedisSettings,
    SearchSettings,
    Settings,
    load_settings,
)
from helpline.core.embedded_pg import EmbeddedPostgres
from helpline.core.runtime import Runtime
from helpline.main import create_app
from helpline.migrations import upgrade

TEMPLATE_DB = "helpline_template"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "Sup3r-secret-pass"


def _redis_url_for_this_worker() -> str:
    """The tests' Redis database: HELPLINE_TEST_REDIS_URL (default DB 15), and under pytest-xdist one
    database per worker counting down from it (gw0 -> 15, gw1 -> 14, ...), since tests flush theirs."""
    base = os.environ.get("HELPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return base
    head, _, db = base.rpartition("/")
    number = int(db or 0) - int(worker.removeprefix("gw"))
    if number < 0:
        raise RuntimeError(
            f"HELPLINE_TEST_REDIS_URL={base}: not enough Redis databases below it for xdist worker {worker}"
        )
    return f"{head}/{number}"


# No time limit per Hypothesis example: speed is measured in bench/, never asserted in tests (a
# loaded machine made a 200 ms deadline fail tests/ai/test_providers_tokens.py).
hypothesis_settings.register_profile("helpline", deadline=None)
hypothesis_settings.load_profile("helpline")

REDIS_URL = _redis_url_for_this_worker()
# API request limits out of the way, for tests that send thousands of requests on purpose.
UNLIMITED_RULES = dict.fromkeys(DEFAULT_RULES, "10000000/minute")


class PgServer:
    def __init__(self, pg: EmbeddedPostgres) -> None:
        self.pg = pg
        self.host = str(pg.socket_dir())

    def url(self, database: str) -> str:
        return self.pg.url(database)

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(host=self.host, user="postgres", database="postgres")

    async def create_database(self, template: str | None = TEMPLATE_DB) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        conn = await self.admin()
        try:
            clause = f" TEMPLATE {template}" if template else ""
            await conn.execute(f"CREATE DATABASE {name}{clause}")
        finally:
            await conn.close()
        return name

    async def drop_database(self, name: str) -> None:
        conn = await self.admin()
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


# Where the tests' PostgreSQL keeps its data: in memory (/dev/shm) when there is room. Each test
# clones the template into a new database (about 600 files): on ext4, the kernel's search for free
# inodes among recently deleted ones made that 0.2-0.4 s of CPU a test (perf: recently_deleted,
# find_inode_bit), against 0.02 s on tmpfs; a quarter of the suite's time.
SCRATCH_IN_MEMORY = Path("/dev/shm")
SCRATCH_MIN_FREE = 2 * 1024**3


def _scratch_root() -> str | None:
    """/dev/shm when it is a writable tmpfs with room to spare, else None (the usual temp dir)."""
    try:
        free = shutil.disk_usage(SCRATCH_IN_MEMORY).free
    except OSError:
        return None
    if free < SCRATCH_MIN_FREE or not os.access(SCRATCH_IN_MEMORY, os.W_OK):
        return None
    return str(SCRATCH_IN_MEMORY)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    root = Path(tempfile.mkdtemp(prefix="helpline-test-", dir=_scratch_root()))
    # Not durable: a test database is thrown away, and fsync per commit and per CREATE DATABASE
    # made up about two thirds of a short test's database time (190 -> 67 ms per database here).
    pg = EmbeddedPostgres(
        root / "pg", settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    )
    pg.start()
    server = PgServer(pg)

    async def make_template() -> None:
        conn = await server.admin()
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
            await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        finally:
            await conn.close()

    asyncio.run(make_template())
    upgrade(server.url(TEMPLATE_DB))
    try:
        yield server
    finally:
        pg.release()
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def fresh_database(pg_server: PgServer) -> AsyncIterator[str]:
    """A database cloned from the migrated template, dropped on exit: its URL."""
    name = await pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.drop_database(name)


# The async fixtures below are thin wrappers of context managers, so that the browser tests
# (tests/e2e/conftest.py) declare the same fixtures in the event loop their shared Chromium lives in.
@pytest.fixture
async def database_url(pg_server: PgServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server) as url:
        yield url


NO_EXPO_URL = "http://127.0.0.1:9/--/api/v2/push/send"  # the discard port: nothing listens


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    auth = overrides.pop("auth", None) or AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4)
    overrides.setdefault("llm", LLMSettings(provider="fake", timeout_seconds=5))
    overrides.setdefault("database", DatabaseSettings(url=database_url))
    # Tests search fake bag-of-words vectors; the e5 reranker would reorder them by a real model's
    # reading. tests/faqs/test_rerank.py turns it on, with the real embedders.
    overrides.setdefault("search", SearchSettings(rerank="off"))
    # No test reaches Expo's real push service: a phone token registered by a test (the contract
    # test's generated ones included) is pushed to a closed local port unless the test points
    # HELPLINE_PUSH_EXPO_URL at its own stand-in (tests/push/test_expo.py).
    push = overrides.get("push") or PushSettings()
    if push.expo_url == PushSettings.model_fields["expo_url"].default:
        overrides["push"] = push.model_copy(update={"expo_url": NO_EXPO_URL})
    return load_settings(
        auth=auth,
        redis=overrides.pop("redis", None) or RedisSettings(),
        data_dir=data_dir,
        log_json=False,
        log_level="WARNING",
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def llm() -> Any:
    """The model under the chat tests: instant and deterministic unless a test swaps it."""
    from tests.chat.fakes import FakeProvider

    return FakeProvider()


@pytest.fixture
def moderator() -> Any:
    from tests.chat.fakes import KeywordModerator

    return KeywordModerator()


@asynccontextmanager
async def built_runtime(settings: Settings, database_url: str, llm: Any, moderator: Any) -> AsyncIterator[Runtime]:
    from helpline.ai.embeddings.fake import FakeEmbedder

    rt = Runtime.build(settings, database_url, llm=llm, moderator=moderator)
    rt.embedder = FakeEmbedder()  # deterministic bag-of-words vectors
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def runtime(settings: Settings, database_url: str, llm: Any, moderator: Any) -> AsyncIterator[Runtime]:
    async with built_runtime(settings, database_url, llm, moderator) as rt:
        yield rt


@asynccontextmanager
async def started_app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    application = create_app(runtime=runtime)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    async with started_app(runtime) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@asynccontextmanager
async def serve_app(
    settings: Settings, database_url: str, *, raise_app_exceptions: bool = True, llm: Any = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An app on its own Runtime built from ``settings``, and a client talking to it."""
    from tests.chat.fakes import FakeProvider, KeywordModerator

    runtime = Runtime.build(settings, database_url, llm=llm or FakeProvider(), moderator=KeywordModerator())
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    finally:
        await runtime.close()


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database, to check what landed (or did not)."""
    url = make_url(database_url)
    conn = await asyncpg.connect(host=str(url.query["host"]), user="postgres", database=url.database)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database, to check what landed (or did not)."""
    async with connected(database_url) as conn:
        yield conn


async def register(
    client: httpx.AsyncClient, email: str = "user@example.com", password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    body = {"email": email, "password": password, "data_processing_consent": True, "gdpr_consent": True}
    body.update(extra)
    return await client.post("/api/v1/auth/register", json=body)


async def login(client: httpx.AsyncClient, login: str = "user@example.com", password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"login": login, "password": password})


async def signed_in(client: httpx.AsyncClient, email: str = "user@example.com") -> dict[str, Any]:
    """Register and log in; returns the token response."""
    r = await register(client, email)
    assert r.status_code == 202, r.text
    r = await login(client, email)
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    return tokens


def error_keys(path: str) -> set[str]:
    """The keys of an error body on ``path``: Helpline's own shape, or OpenAI's error object under
    /v1/ (helpline.openai_api answers as OpenAI clients expect)."""
    return {"error"} if path.startswith("/v1/") else {"error", "detail", "request_id"}


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def make_admin(db: asyncpg.Connection, email: str) -> None:
    await db.execute("UPDATE users SET role = 'admin' WHERE email = $1", email)


@asynccontextmanager
async def uvicorn_serving(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real uvicorn server (HTTP and WebSocket over TCP) on a free port: its host:port."""
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, ws_ping_interval=None)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    async with uvicorn_serving(app) as address:
        yield address


@contextmanager
def sql_statements(runtime: Runtime, *, this_task: bool = False) -> Iterator[list[str]]:
    """The SQL statements the runtime's engine runs inside the block, in order. ``this_task``:
    only those of the task that opened it (not a background job of the app running meanwhile)."""
    statements: list[str] = []
    task = asyncio.current_task()

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not this_task or asyncio.current_task() is task:
            statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
