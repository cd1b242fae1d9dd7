"""A real Helpline server (uvicorn, TCP) in a thread of its own with its own event loop, on a
fresh database cloned from the migrated template, with the fake model and embedder, for tools
that speak HTTP from outside the test's loop (schemathesis sends its requests with `requests`)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from helpline.core.config import AuthSettings, LimitsSettings, Settings, WidgetSettings
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, UNLIMITED_RULES, PgServer, make_settings

STARTUP_TIMEOUT_SECONDS = 30.0
DOCUMENT_TIMEOUT_SECONDS = 120.0  # a bound against a hang, not a speed check


def contract_settings(database_url: str, data_dir: Path) -> Settings:
    """Limits high enough that generated requests are not all answered 429 (the 429s stay
    documented and are tested elsewhere): a run sends a few thousand requests from one address."""
    lots = "100000/minute"
    return make_settings(
        database_url,
        data_dir,
        auth=AuthSettings(
            secret_key=TEST_SECRET,
            bcrypt_rounds=4,
            login_max_failures_per_account=100_000,
            login_max_failures_per_ip=100_000,
            register_limit_per_ip=lots,
            register_limit_global=lots,
            refresh_limit_per_ip=lots,
        ),
        limits=LimitsSettings(
            rate_per_minute=100_000, rate_per_hour=1_000_000, rate_per_day=10_000_000, rules=UNLIMITED_RULES
        ),
        widget=WidgetSettings(guest_create_limit=lots),
    )


@dataclass
class LiveServer:
    base_url: str
    database_url: str

    def account(self, email: str, *, admin: bool = False) -> dict[str, str]:
        """Register and sign in ``email`` (made an admin first if asked): its bearer header."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True}
            r = client.post("/api/v1/auth/register", json=body)
            assert r.status_code == 202, r.text
            if admin:
                asyncio.run(_promote(self.database_url, email))
            r = client.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _promote(database_url: str, email: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = await asyncpg.connect(host=str(url.query["host"]), user="postgres", database=url.database)
    try:
        await conn.execute("UPDATE users SET role = 'admin' WHERE email = $1", email)
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(pg_server: PgServer, data_dir: Path) -> Iterator[LiveServer]:
    """The app on uvicorn in a thread; stopped (and its database dropped) on exit."""
    from helpline.ai.embeddings.fake import FakeEmbedder
    from tests.chat.fakes import FakeProvider, KeywordModerator

    name = asyncio.run(pg_server.create_database())
    database_url = pg_server.url(name)
    settings = contract_settings(database_url, data_dir)
    port = _free_port()
    started = threading.Event()
    servers: list[uvicorn.Server] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
        runtime.embedder = FakeEmbedder()
        app = create_app(runtime=runtime)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, ws_ping_interval=None)
        server = uvicorn.Server(config)
        servers.append(server)
        # uvicorn calls this once the socket listens (its startup hook).
        original_startup = server.startup

        async def startup(*args: Any, **kwargs: Any) -> None:
            await original_startup(*args, **kwargs)
            started.set()

        server.startup = startup  # type: ignore[method-assign]
        try:
            await server.serve()
        finally:
            await runtime.close()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            failure.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run, name="contract-server", daemon=True)
    thread.start()
    try:
        assert started.wait(STARTUP_TIMEOUT_SECONDS), "the server did not start"
        assert not failure, failure
        # The OpenAPI document is built (then cached) on its first request: 9-30 s on a loaded
        # machine, past schemathesis' 10 s read timeout. Built here, with a bound of its own.
        httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=DOCUMENT_TIMEOUT_SECONDS).raise_for_status()
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", database_url=database_url)
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        asyncio.run(pg_server.drop_database(name))
