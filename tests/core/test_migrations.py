from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from helpline.core.config import get_settings
from helpline.core.db import MIN_PGVECTOR, _version, check_database
from helpline.migrations import downgrade, upgrade
from helpline.models import Base
from helpline.models.faqs import HNSW_INDEXES
from tests.conftest import PgServer


def _diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: list(
                        compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def empty_db(pg_server: PgServer) -> str:
    name = asyncio.run(pg_server.create_database(template=None))
    return pg_server.url(name)


def test_migrations_match_models_and_downgrade_cleanly(empty_db: str, pg_server: PgServer) -> None:
    upgrade(empty_db)
    assert _diff(empty_db) == []

    downgrade(empty_db, "base")

    async def leftovers() -> tuple[list[str], list[str]]:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=make_url(empty_db).database)
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            types = await conn.fetch("SELECT typname FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid")
            return [t["tablename"] for t in tables], [t["typname"] for t in types]
        finally:
            await conn.close()

    tables, types = asyncio.run(leftovers())
    assert tables == ["alembic_version"]
    assert types == []
    upgrade(empty_db)  # and back up again
    assert _diff(empty_db) == []


def _vector_widths(pg_server: PgServer, url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=make_url(url).database)
        try:
            rows = await conn.fetch(
                "SELECT c.relname || '.' || a.attname AS name, a.atttypmod AS width FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE t.typname = 'vector' AND c.relkind = 'r' AND NOT a.attisdropped"
            )
            return {r["name"]: r["width"] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(read())


VECTOR_COLUMNS = {
    "faqs.question_embedding", "faqs.answer_embedding", "faq_phrasings.embedding", "unanswered_questions.embedding",
}  # fmt: skip


def test_migrations_read_no_settings(empty_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vector width is the caller's when the database is created; a later migration adding a
    vector column follows the database, whatever the settings of the day say."""
    monkeypatch.setenv("HELPLINE_EMBEDDING_DIMENSION", "1536")  # ignored by every migration
    get_settings.cache_clear()
    try:
        upgrade(empty_db, "0002_chat", embedding_dimension=16)
        assert _vector_widths(pg_server, empty_db) == {"faqs.question_embedding": 16, "faqs.answer_embedding": 16}
        upgrade(empty_db)  # no width given: the later columns match the FAQs'
        assert _vector_widths(pg_server, empty_db) == dict.fromkeys(VECTOR_COLUMNS, 16)
    finally:
        get_settings.cache_clear()


async def test_schema_has_the_spec_tables_and_hnsw(db: asyncpg.Connection) -> None:
    tables = {r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert {
        "users", "conversations", "messages", "faq_categories", "faqs",
        "refresh_tokens", "revoked_access_tokens", "consent_records", "audit_log",
    } <= tables  # fmt: skip
    indexes = {r["indexname"]: r["indexdef"] for r in await db.fetch("SELECT indexname, indexdef FROM pg_indexes")}
    for name, column in HNSW_INDEXES.items():
        # Built as models/faqs.HNSW_BUILD says (migration 0007 rebuilt the first ones).
        assert f"USING hnsw ({column} vector_cosine_ops) WITH (m='16', ef_construction='128')" in indexes[name]
    # No GIN pending list for searches to read through (migration 0005).
    for gin in ("ix_faqs_search_vector", "ix_faqs_keywords"):
        assert "USING gin" in indexes[gin]
        assert "WITH (fastupdate=off)" in indexes[gin], indexes[gin]
    for name in (
        "idx_users_email", "idx_users_username", "idx_conversations_user_id", "idx_conversations_created_at",
        "idx_messages_conversation_id", "idx_messages_created_at", "idx_faqs_status_language", "idx_faqs_category_id",
    ):  # fmt: skip
        assert name in indexes
    enums = {
        r["typname"]: r["labels"]
        for r in await db.fetch(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels "
            "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
        )
    }
    assert enums["user_role"] == ["user", "moderator", "admin"]
    assert enums["user_status"] == ["active", "inactive", "suspended"]
    assert enums["faq_status"] == ["draft", "published", "archived"]
    dim = await db.fetchval(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'faqs'::regclass AND attname = 'question_embedding'"
    )
    assert dim == 384


async def test_spec_defaults(db: asyncpg.Connection) -> None:
    uid = await db.fetchval(
        "INSERT INTO users (email, username, hashed_password) VALUES ('d@example.com', 'd', 'x') RETURNING id"
    )
    row = await db.fetchrow("SELECT * FROM users WHERE id = $1", uid)
    assert row is not None
    assert (row["role"], row["status"], row["language"], row["timezone"]) == ("user", "active", "en", "UTC")
    assert row["gdpr_consent"] is False
    assert row["created_at"] is not None
    cid = await db.fetchval("INSERT INTO conversations (user_id) VALUES ($1) RETURNING id", uid)
    conv = await db.fetchrow("SELECT * FROM conversations WHERE id = $1", cid)
    assert conv is not None
    assert (conv["message_count"], conv["total_tokens"], conv["is_active"], conv["is_archived"]) == (
        0,
        0,
        True,
        False,
    )
    mid = await db.fetchval(
        "INSERT INTO messages (conversation_id, user_id, content, message_type) "
        "VALUES ($1, $2, 'hi', 'user') RETURNING id",
        cid,
        uid,
    )
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", mid) == "sent"
    fid = await db.fetchval("INSERT INTO faqs (question, answer) VALUES ('q', 'a') RETURNING id")
    assert await db.fetchval("SELECT status::text FROM faqs WHERE id = $1", fid) == "draft"


async def test_audit_log_is_append_only(db: asyncpg.Connection) -> None:
    await db.execute("INSERT INTO audit_log (action) VALUES ('test.event')")
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.execute(sql)
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_erasing_a_user_cascades_but_keeps_the_audit_trail(db: asyncpg.Connection) -> None:
    uid = await db.fetchval(
        "INSERT INTO users (email, username, hashed_password) VALUES ('e@example.com', 'e', 'x') RETURNING id"
    )
    cid = await db.fetchval("INSERT INTO conversations (user_id) VALUES ($1) RETURNING id", uid)
    await db.execute(
        "INSERT INTO messages (conversation_id, user_id, content, message_type) VALUES ($1, $2, 'hi', 'user')",
        cid,
        uid,
    )
    await db.execute("INSERT INTO audit_log (action, actor_user_id) VALUES ('x', $1)", uid)
    await db.execute("DELETE FROM users WHERE id = $1", uid)
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE actor_user_id = $1", uid) == 1


def test_the_database_check_finds_the_extensions_the_migrations_need(empty_db: str) -> None:
    # The embedded server has pgvector and unaccent: the start-up check passes, and the
    # migrations that create both extensions then succeed.
    asyncio.run(check_database(empty_db, timeout=10))
    upgrade(empty_db)
    # pgvector 0.8 brought the iterative index scans every connection asks for.
    assert _version("0.8.0") >= MIN_PGVECTOR > _version("0.7.4")
    assert _version("0.10.1") > _version("0.8.6")
