"""The security suite (issues #17 and #18). Most of it runs on the usual per-test fixtures; the
authorization matrix shares one app, one database and one set of accounts across its cases
(module scope) so that calling every route as every role stays fast."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.core.config import AuthSettings, LimitsSettings, MailSettings, PrivacySettings, Settings, WidgetSettings
from helpline.core.runtime import Runtime
from helpline.faqs.views import ViewCounter
from helpline.main import create_app
from tests.chat.fakes import FakeProvider, KeywordModerator
from tests.conftest import TEST_SECRET, UNLIMITED_RULES, PgServer, make_settings

# Limits out of the way: the matrix makes many accounts, guests, logins and turns from one address.
MANY = "100000/minute"


def roomy_settings(database_url: str, data_dir: Path) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        auth=AuthSettings(
            secret_key=TEST_SECRET,
            bcrypt_rounds=4,
            register_limit_per_ip=MANY,
            register_limit_global=MANY,
            refresh_limit_per_ip=MANY,
        ),
        limits=LimitsSettings(
            rate_per_minute=100_000, rate_per_hour=100_000, rate_per_day=100_000, rules=UNLIMITED_RULES
        ),
        privacy=PrivacySettings(exports_per_day=100),
        widget=WidgetSettings(guest_create_limit=MANY),
        mail=MailSettings(reset_limit_per_ip=MANY),
    )


@dataclass
class Shared:
    """One app on one database, reached in process (client) and over TCP (server, WebSockets)."""

    app: FastAPI
    runtime: Runtime
    client: httpx.AsyncClient
    db: asyncpg.Connection
    server: str


@contextlib.asynccontextmanager
async def running(settings: Settings, url: str) -> AsyncIterator[Shared]:
    """An app on its own runtime, served in process and by uvicorn over TCP."""
    runtime = Runtime.build(settings, url, llm=FakeProvider(), moderator=KeywordModerator())
    runtime.embedder = FakeEmbedder()
    runtime.faq_views = ViewCounter(flush_interval_seconds=0)
    app = create_app(runtime=runtime)
    parsed = make_url(url)
    db = await asyncpg.connect(host=str(parsed.query["host"]), user="postgres", database=parsed.database)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, ws_ping_interval=None)
    )
    try:
        async with LifespanManager(app):
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
                    yield Shared(app, runtime, client, db, f"127.0.0.1:{port}")
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, 10)
    finally:
        await db.close()
        await runtime.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shared]:
    name = await pg_server.create_database()
    url = pg_server.url(name)
    try:
        async with running(roomy_settings(url, tmp_path_factory.mktemp("security")), url) as app:
            yield app
    finally:
        await pg_server.drop_database(name)
