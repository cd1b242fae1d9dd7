"""Async engine and sessions. One AsyncSession per request, committed once by its dependency."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from helpline.core.config import Settings
from helpline.core.metrics import track_pool

HNSW_EF_SEARCH = 40
HNSW_ITERATIVE_SCAN = "relaxed_order"
# hnsw.iterative_scan (set on every connection) came with pgvector 0.8.0.
MIN_PGVECTOR = (0, 8)


def _version(number: str) -> tuple[int, ...]:
    """An extension version as numbers: "0.8.6" -> (0, 8, 6); a part that is not a number is 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in number.split("."))


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or lacks what Helpline needs; the message says which."""


def create_engine(settings: Settings, url: str) -> AsyncEngine:
    db = settings.database
    engine = create_async_engine(
        url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        # Off by default: with asyncpg a pre-ping is BEGIN/ROLLBACK round trips on every checkout
        # (9 of a chat turn's 19 round trips). After a database restart each stale pooled
        # connection then fails once (a 503 the client can retry) and is replaced.
        pool_pre_ping=db.pool_pre_ping,
        pool_recycle=db.pool_recycle_seconds,
        pool_timeout=db.connect_timeout_seconds,
        echo=db.echo,
        # A failed statement's exception (logged with its traceback) and the echo never show the
        # values bound to it: they hold users' emails, password hashes, messages.
        hide_parameters=True,
        connect_args={
            "timeout": db.connect_timeout_seconds,
            "server_settings": {
                "statement_timeout": str(db.statement_timeout_ms),
                "application_name": "helpline",
                # HNSW candidates per search: pgvector's default, set here so that it is stated.
                # At 100k FAQs, with the indexes built with ef_construction 128
                # (models/faqs.HNSW_BUILD), recall@10 against exact search is 0.972-0.986 at 40
                # (bench/bench_scale.py; 0.907 with the default build), and the search statement
                # takes 2-3 ms less than at 100. A search asking for more candidates than this (k
                # up to 100 in search.py) gets them from the iterative scan below, which walks on
                # in steps of ef_search.
                "hnsw.ef_search": str(HNSW_EF_SEARCH),
                # A search filtered by language, category or status walks HNSW and filters
                # afterwards: without iterative scans it got only the ef_search nearest rows, so at
                # 100k FAQs with a language of 20 % of them, a median of 20 (at worst 11) of the 40
                # candidates it asked for. pgvector 0.8 then keeps walking until it has them (bounded by
                # hnsw.max_scan_tuples). "relaxed_order" may return them slightly out of order,
                # which search never relies on: it scores every candidate again.
                "hnsw.iterative_scan": HNSW_ITERATIVE_SCAN,
            },
        },
    )
    track_pool(engine)  # db_connections_active
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit if the body finished, roll back if it raised."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@contextlib.asynccontextmanager
async def single_statement(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit, for one statement (atomic by itself): no BEGIN and
    COMMIT or ROLLBACK round trips around it, which asyncpg otherwise sends (about 0.25 ms each
    way through SQLAlchemy). A chat turn's two statements and the chat caller check use it."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def describe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


async def check_database(url: str, timeout: float = 10.0) -> None:
    """Connect once and verify that pgvector (0.8 or later) and unaccent are available; raise
    DatabaseUnavailable with one clear line if not."""
    sa_url = make_url(url)
    where = describe_url(url)
    try:
        conn = await asyncpg.connect(
            user=sa_url.username,
            password=sa_url.password,
            host=str(sa_url.query.get("host") or sa_url.host or "localhost"),
            port=sa_url.port,
            database=sa_url.database,
            timeout=timeout,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {exc}") from None
    try:
        rows = await conn.fetch(
            "SELECT name, default_version FROM pg_available_extensions WHERE name IN ('vector', 'unaccent')"
        )
        extensions = {r["name"]: r["default_version"] for r in rows}
        available = extensions.get("vector")
        if not available:
            version = await conn.fetchval("SHOW server_version")
            raise DatabaseUnavailable(
                f"the PostgreSQL server at {where} (version {version}) does not have the pgvector "
                "extension ('vector'); install pgvector there, or unset HELPLINE_DATABASE_URL to use "
                "the embedded PostgreSQL"
            )
        if _version(str(available)) < MIN_PGVECTOR:
            raise DatabaseUnavailable(
                f"the PostgreSQL server at {where} has pgvector {available}; Helpline needs "
                f"{'.'.join(map(str, MIN_PGVECTOR))} or later (iterative HNSW scans)"
            )
        # Accent-insensitive search (migration 0006); part of PostgreSQL's contrib modules.
        if "unaccent" not in extensions:
            raise DatabaseUnavailable(
                f"the PostgreSQL server at {where} does not have the 'unaccent' extension; install "
                "PostgreSQL's contrib modules there (for example the postgresql-contrib package)"
            )
    finally:
        await conn.close()


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
