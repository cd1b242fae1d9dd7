"""FAQ search at scale: HNSW recall and latency on N synthetic FAQs, and search through the API.

Starts a real Helpline (temp data dir, its own embedded PostgreSQL, fake LLM, local embedder),
bulk-loads N published FAQs with clustered random unit vectors over COPY (HNSW indexes dropped
first, re-built after, timed), then measures:

1. HNSW recall@10 of ``ORDER BY question_embedding <=> q LIMIT 10`` against exact k-NN computed in
   numpy, for several ``hnsw.ef_search`` values (the app's among them), the indexes built as the
   app builds them (``models.faqs.HNSW_BUILD``);
2. SQL k-NN p50 latency with the index and with an exact scan (index scans off), same queries;
3. p50 latency of ``GET /api/v1/faqs/search`` (signed in): uncached (embedding + SQL), with the
   query embedding cached but not the result (search version bumped), and fully cached.

Run: ``uv run python bench/bench_scale.py [--rows 100000] [--quick]`` (``--quick``: 20k rows).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from helpline.ai.embeddings.local import MODEL as EMBED_MODEL  # the server's embedder (local)
from helpline.core.db import HNSW_EF_SEARCH
from helpline.faqs.search import COMMON_TERM_ROWS, FUSION_PARAMS, text_params
from helpline.faqs.search_sql import COMMON_SQL, hybrid_text
from helpline.models.faqs import HNSW_BUILD, HNSW_INDEXES, hnsw_ddl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    REQUEST_TIMEOUT_S,
    BenchError,
    HelplineServer,
    helpline_server,
    install_signal_handlers,
    register_and_login,
)

DIM = 384
K = 10
EF_SEARCH = tuple(sorted({40, HNSW_EF_SEARCH, 80, 100, 200}))
ADMIN_EMAIL = "scale-admin@example.com"
ADMIN_PASSWORD = "Vector-scale-Pass-9371"
# Signed-in search is limited to 240 a minute per user (faqs/throttle.py): stay below it.
API_QUERIES = 100
API_WARMUP = 10

F32 = npt.NDArray[np.float32]

WORDS = [
    "account",
    "order",
    "parcel",
    "delivery",
    "refund",
    "return",
    "invoice",
    "payment",
    "card",
    "address",
    "password",
    "login",
    "email",
    "shipping",
    "tracking",
    "courier",
    "label",
    "warehouse",
    "customs",
    "tax",
    "discount",
    "coupon",
    "voucher",
    "subscription",
    "plan",
    "upgrade",
    "cancel",
    "pause",
    "resume",
    "store",
    "pickup",
    "locker",
    "damaged",
    "missing",
    "late",
    "early",
    "weekend",
    "holiday",
    "international",
    "domestic",
    "express",
    "standard",
    "insurance",
    "claim",
    "signature",
    "neighbour",
    "safe",
    "place",
    "notification",
    "sms",
    "app",
    "website",
    "browser",
    "cookie",
    "privacy",
    "data",
    "export",
    "delete",
    "profile",
    "phone",
    "number",
    "company",
    "business",
    "bulk",
    "pallet",
    "weight",
    "size",
    "dimension",
    "price",
    "quote",
    "estimate",
    "schedule",
    "reschedule",
    "driver",
    "route",
    "depot",
    "branch",
    "opening",
    "hours",
    "contact",
    "support",
    "agent",
    "chat",
    "ticket",
    "complaint",
    "feedback",
    "warranty",
    "exchange",
    "size",
    "colour",
    "stock",
    "availability",
    "preorder",
    "backorder",
    "gift",
    "wrap",
    "message",
    "receipt",
]


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    target: str = ""


def unit(x: F32) -> F32:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: F32 = (x / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def make_vectors(n: int, clusters: int, rng: np.random.Generator, centres: F32 | None = None) -> tuple[F32, F32, F32]:
    """(question vectors, answer vectors, cluster centres): unit vectors around random centres (or
    the given ones), so nearest neighbours are meaningful (a uniform cloud in 384-d has almost
    equidistant points)."""
    if centres is None:
        centres = unit(rng.standard_normal((clusters, DIM), dtype=np.float32))
    clusters = len(centres)
    which = rng.integers(0, clusters, n)
    q = unit(centres[which] + 0.06 * rng.standard_normal((n, DIM), dtype=np.float32))
    a = unit(q + 0.04 * rng.standard_normal((n, DIM), dtype=np.float32))
    return q, a, centres


def make_queries(centres: F32, count: int, rng: np.random.Generator) -> F32:
    which = rng.integers(0, len(centres), count)
    return unit(centres[which] + 0.06 * rng.standard_normal((count, DIM), dtype=np.float32))


_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "te",
    "vo",
    "bi",
    "da",
    "fe",
    "gu",
    "ho",
    "ji",
    "ke",
    "la",
    "mo",
    "nu",
    "pi",
    "qua",
    "re",
    "si",
    "to",
    "vu",
    "wa",
    "xe",
    "yo",
    "ze",
]


def _vocabulary(size: int) -> list[str]:
    rng = random.Random(1)
    extra = {"".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(size * 2)}
    return WORDS + sorted(extra)[: size - len(WORDS)]


# A Zipf-like vocabulary: a few very common support words, a long tail of rarer ones, so that
# full-text matches are neither everywhere nor nowhere.
VOCAB = _vocabulary(5000)
_WEIGHTS = [1.0 / (rank + 10) for rank in range(len(VOCAB))]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCAB, weights=_WEIGHTS, k=words))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


async def pg_connect(server: HelplineServer) -> asyncpg.Connection:
    conn = await server.connect()
    await register_vector(conn)
    return conn


async def load(conn: asyncpg.Connection, q: F32, a: F32, seed: int, out: list[Row]) -> None:
    n = len(q)
    model = await conn.fetchval("SELECT embedding_model FROM faqs WHERE embedding_model IS NOT NULL LIMIT 1")
    model = model or EMBED_MODEL
    text_rng = random.Random(seed)
    now = datetime.now(UTC)
    await conn.execute("TRUNCATE faqs CASCADE")
    for name in HNSW_INDEXES:
        await conn.execute(f"DROP INDEX IF EXISTS {name}")
    columns = (
        "question", "answer", "question_embedding", "answer_embedding", "status", "language", "slug",
        "published_at", "question_hash", "answer_hash", "embedding_model",
    )  # fmt: skip
    t0 = time.perf_counter()
    batch = 10_000
    for start in range(0, n, batch):
        records: list[tuple[Any, ...]] = []
        for i in range(start, min(n, start + batch)):
            question = f"How do I {sentence(text_rng, 6)}? ({i})"
            answer = f"{sentence(text_rng, 25)}."
            records.append(
                (question, answer, q[i], a[i], "published", "en", f"faq-{i}", now, sha(question), sha(answer), model)
            )
        await conn.copy_records_to_table("faqs", records=records, columns=columns)
        print(f"\r  loaded {min(n, start + batch):,}/{n:,} rows", end="", flush=True)
    load_s = time.perf_counter() - t0
    print()
    await conn.execute("ANALYZE faqs")
    out.append(Row("rows loaded (COPY, HNSW dropped)", f"{n:,} in {load_s:.1f} s", ""))
    await conn.execute("SET maintenance_work_mem = '1GB'")
    await conn.execute("SET max_parallel_maintenance_workers = 2")
    for name, column in HNSW_INDEXES.items():
        t0 = time.perf_counter()
        await conn.execute(hnsw_ddl(name, column))
        build_s = time.perf_counter() - t0
        size = await conn.fetchval("SELECT pg_relation_size($1::regclass)", name)
        print(f"  built {name} in {build_s:.1f} s ({size / 2**20:.0f} MiB)", flush=True)
        build = f"m={HNSW_BUILD['m']}, ef_c={HNSW_BUILD['ef_construction']}"
        out.append(Row(f"HNSW build {column} ({build})", f"{build_s:.1f} s, {size / 2**20:.0f} MiB"))
    table = await conn.fetchval("SELECT pg_relation_size('faqs')")
    total = await conn.fetchval("SELECT pg_total_relation_size('faqs')")
    out.append(Row("faqs heap / total with TOAST+indexes", f"{table / 2**20:.0f} / {total / 2**20:.0f} MiB"))
    # Search only uses rows whose embedding_model is the server's embedder: count them.
    fresh = await conn.fetchval("SELECT count(*) FROM faqs WHERE embedding_model = $1", model)
    out.append(Row("rows counted fresh (embedding_model)", f"{fresh:,} ({model})"))


KNN_SQL = "SELECT id FROM faqs ORDER BY question_embedding <=> $1 LIMIT 10"
# "+ 0" makes the sort key an expression the index cannot serve, whatever plan asyncpg's
# statement cache holds (a cached plan ignores a later SET enable_indexscan).
EXACT_SQL = "SELECT id FROM faqs ORDER BY (question_embedding <=> $1) + 0 LIMIT 10"


async def knn(conn: asyncpg.Connection, vec: F32, *, exact: bool, ef: int) -> tuple[list[int], float]:
    async with conn.transaction():
        if exact:
            await conn.execute("SET LOCAL enable_indexscan = off")
        else:
            await conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
        t0 = time.perf_counter()
        rows = await conn.fetch(EXACT_SQL if exact else KNN_SQL, vec)
        elapsed = time.perf_counter() - t0
    return [int(r["id"]) for r in rows], elapsed


async def measure_sql(
    conn: asyncpg.Connection, q: F32, queries: F32, exact_samples: int, out: list[Row], build: str = ""
) -> dict[int, float]:
    """Recall@10 and p50 per ef_search; with ``exact_samples``, the exact scan and the ratios."""
    ids = np.array([r["id"] for r in await conn.fetch("SELECT id FROM faqs ORDER BY id")], dtype=np.int64)
    # Rows were copied in order, so row i is ids[i]: exact top-10 by cosine (unit vectors: dot).
    sims = queries @ q.T
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    truth = [set(ids[t].tolist()) for t in top]
    recalls: dict[int, float] = {}
    index_lat: dict[int, list[float]] = {}
    for ef in EF_SEARCH:
        hit = 0
        lat: list[float] = []
        for i, vec in enumerate(queries):
            found, elapsed = await knn(conn, vec, exact=False, ef=ef)
            hit += len(truth[i] & set(found))
            lat.append(elapsed)
        recalls[ef] = hit / (K * len(queries))
        index_lat[ef] = lat
        flag = "ok" if recalls[ef] >= 0.95 else "BELOW"
        label = f"recall@10 ef_search={ef}{' (app)' if ef == HNSW_EF_SEARCH else ''}{build}"
        if build:
            out.append(Row(label, f"{recalls[ef]:.3f}, p50 {p50_ms(lat):.2f} ms", f">= 0.95 {flag}"))
            print(f"  {build.strip()} ef_search={ef:<4} recall@10 {recalls[ef]:.3f}  p50 {p50_ms(lat):.2f} ms")
            continue
        out.append(Row(label, f"{recalls[ef]:.3f}", f">= 0.95 {flag}"))
        print(f"  ef_search={ef:<4} recall@10 {recalls[ef]:.3f}  p50 {p50_ms(lat):.2f} ms", flush=True)
    if not exact_samples:
        return recalls
    plan = await conn.fetch("EXPLAIN " + KNN_SQL, queries[0])
    uses_index = any("faqs_question_embedding_idx" in r[0] for r in plan)
    plan = await conn.fetch("EXPLAIN " + EXACT_SQL, queries[0])
    exact_uses = any("faqs_question_embedding_idx" in r[0] for r in plan)
    out.append(Row("k-NN plan uses HNSW / exact plan uses it", f"{uses_index} / {exact_uses}"))
    exact_lat: list[float] = []
    exact_hit = 0
    for i, vec in enumerate(queries[:exact_samples]):
        found, elapsed = await knn(conn, vec, exact=True, ef=0)
        exact_hit += len(truth[i] & set(found))
        exact_lat.append(elapsed)
    exact_recall = exact_hit / (K * min(exact_samples, len(queries)))
    print(f"  exact scan recall@10 {exact_recall:.3f}  p50 {p50_ms(exact_lat):.2f} ms", flush=True)
    out.append(Row("exact scan recall@10 (sanity)", f"{exact_recall:.3f}"))
    exact_p50 = p50_ms(exact_lat)
    for ef in EF_SEARCH:
        ratio = exact_p50 / p50_ms(index_lat[ef])
        flag = "ok" if ratio >= 10 else "BELOW"
        out.append(Row(f"SQL k-NN p50 ef_search={ef}", f"{p50_ms(index_lat[ef]):.2f} ms", f"{ratio:.0f}x exact {flag}"))
    out.append(Row(f"SQL exact scan p50 ({len(exact_lat)} queries)", f"{exact_p50:.2f} ms"))
    return recalls


def api_pass(
    client: httpx.Client, token: str, texts: list[str], language: str | None = None
) -> tuple[list[float], dict[str, int], int]:
    lat: list[float] = []
    cache: dict[str, int] = {}
    hits = 0
    headers = {"Authorization": f"Bearer {token}"}
    for q in texts:
        t0 = time.perf_counter()
        params = {"q": q, "status": "published"} | ({"language": language} if language else {})
        r = client.get("/api/v1/faqs/search", params=params, headers=headers)
        lat.append(time.perf_counter() - t0)
        if r.status_code != 200:
            raise BenchError(f"search answered {r.status_code}: {r.text[:300]}")
        x = r.headers.get("X-Cache", "?")
        cache[x] = cache.get(x, 0) + 1
        hits += len(r.json().get("items", []))
    return lat, cache, hits


def login(base: str) -> str:
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        r = client.post("/api/v1/auth/login", json={"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        if r.status_code != 200:
            raise BenchError(f"admin login answered {r.status_code}: {r.text[:300]}")
        token = r.json().get("access_token")
        if not isinstance(token, str):
            raise BenchError("admin login answered without an access_token")
        return token


async def bump_version(server: HelplineServer) -> None:
    conn = await pg_connect(server)
    try:
        await conn.execute("UPDATE faq_search_version SET version = version + 1 WHERE id = 1")
    finally:
        await conn.close()


VECTOR_SQL = (
    "SELECT f.id FROM faqs f WHERE f.status = 'published' AND f.embedding_model = $2 "
    "AND f.question_embedding IS NOT NULL ORDER BY f.question_embedding <=> $1 LIMIT 40"
)


async def attribute_sql(server: HelplineServer, texts: list[str], vecs: F32, out: list[Row]) -> None:
    """The parts of the search statement on their own, to see where its time goes: the app's own
    full-text statement (``hybrid_text`` without vectors) across languages and in English, and the
    question-vector k-NN with the search's filters."""
    engine = create_async_engine(server.url())
    conn = await pg_connect(server)
    try:
        async with engine.connect() as sa:
            common = list(await sa.scalar(text(COMMON_SQL), {"rows": COMMON_TERM_ROWS}) or [])
            statements = {
                "text, every language": hybrid_text(vectors=False, mode="all", category=False),
                "text, en": hybrid_text(vectors=False, mode="strict", category=False),
            }
            base: dict[str, object] = {
                "statuses": ["published"],
                "k": 40,
                **FUSION_PARAMS,
                "limit": 40,
            }
            parts: dict[str, list[float]] = {name: [] for name in [*statements, "vector (filters, k=40)"]}
            matches: list[int] = []
            for i, t in enumerate(texts):
                params = base | text_params(t, common) | {"lang": "en"}
                for name, statement in statements.items():
                    t0 = time.perf_counter()
                    await sa.execute(statement, params)
                    parts[name].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await conn.fetch(VECTOR_SQL, vecs[i % len(vecs)], EMBED_MODEL)
                parts["vector (filters, k=40)"].append(time.perf_counter() - t0)
                if i < 20:
                    matches.append(await conn.fetchval(
                        "SELECT count(*) FROM faqs WHERE search_vector @@ websearch_to_tsquery('english', $1)",
                        params["qtext"],
                    ))  # fmt: skip
        for name, lat in parts.items():
            out.append(Row(f"  SQL part p50: {name}", f"{p50_ms(lat):.2f} ms"))
        out.append(Row("  rows matching any of a query's words (median)", f"{statistics.median(matches):,.0f}"))
        out.append(Row("  common lexemes (in > 1,000 FAQs)", f"{len(common)}"))
    finally:
        await conn.close()
        await engine.dispose()


def measure_api(server: HelplineServer, seed: int, out: list[Row], topics: list[str] | None = None) -> list[str]:
    admin = login(server.base)
    user = register_and_login(server.base)
    user2 = register_and_login(server.base, email="scale-two@example.com")
    rng = random.Random(seed + 1)
    warm = [f"{sentence(rng, 4)} warm {i}" for i in range(API_WARMUP)]
    if topics:
        # Four of a topic's six words: the query's vector lies near that topic's FAQs.
        texts = [f"how do i {' '.join(rng.sample(rng.choice(topics).split(), 4))} {i}" for i in range(API_QUERIES)]
    else:
        texts = [f"how do i {sentence(rng, 4)} {i}" for i in range(API_QUERIES)]
    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        api_pass(client, admin, warm)
        # 1: new text: embed the query (local model) + SQL; the result is cached by text + version.
        cold, c1, hits = api_pass(client, admin, texts)
        # 2: a bumped search version drops cached results but not cached query embeddings: SQL only.
        asyncio.run(bump_version(server))
        sql_only, c2, _ = api_pass(client, admin, texts)
        # 3: the same queries again, another user (same cache key: published only): result cache.
        cached, c3, _ = api_pass(client, user, texts)
        # 4: language=en (one text-search configuration instead of every one), embedding cached.
        english, c4, _ = api_pass(client, user2, texts, language="en")
    cold50, sql50, cached50 = p50_ms(cold), p50_ms(sql_only), p50_ms(cached)
    print(f"  API uncached p50 {cold50:.2f} ms {c1}, embedding cached {sql50:.2f} ms {c2}, "
          f"cached {cached50:.2f} ms {c3}; {hits / len(texts):.1f} hits/query", flush=True)  # fmt: skip
    asyncio.run(
        attribute_sql(
            server, texts, unit(np.random.default_rng(seed).standard_normal((50, DIM), dtype=np.float32)), out
        )
    )
    flag = "ok" if cold50 < 10 else "ABOVE"
    out.append(Row("API search p50, uncached (embed + SQL)", f"{cold50:.2f} ms", f"< 10 ms {flag}"))
    out.append(
        Row("API search p50, embedding cached (SQL)", f"{sql50:.2f} ms", f"< 10 ms {'ok' if sql50 < 10 else 'ABOVE'}")
    )
    en50 = p50_ms(english)
    print(f"  API language=en, embedding cached p50 {en50:.2f} ms {c4}", flush=True)
    out.append(
        Row("API search p50, language=en, emb. cached", f"{en50:.2f} ms", f"< 10 ms {'ok' if en50 < 10 else 'ABOVE'}")
    )
    out.append(Row("API search p50, result cached", f"{cached50:.2f} ms"))
    out.append(Row("  uncached minus embedding cached (noisy)", f"{cold50 - sql50:.2f} ms"))
    p95s = " / ".join(f"{statistics.quantiles(x, n=20)[18] * 1000:.1f}" for x in (cold, sql_only, cached))
    out.append(Row("API p95 uncached / emb. cached / cached", p95s + " ms"))
    return texts


async def alt_build(conn: asyncpg.Connection, q: F32, queries: F32, alt: tuple[int, int], out: list[Row]) -> None:
    """The question index rebuilt with other (m, ef_construction), its recall, then the default back."""
    m, efc = alt
    name, column = "faqs_question_embedding_idx", "question_embedding"
    await conn.execute(f"DROP INDEX {name}")
    t0 = time.perf_counter()
    await conn.execute(
        f"CREATE INDEX {name} ON faqs USING hnsw ({column} vector_cosine_ops) WITH (m = {m}, ef_construction = {efc})"
    )
    build_s = time.perf_counter() - t0
    size = await conn.fetchval("SELECT pg_relation_size($1::regclass)", name)
    out.append(Row(f"HNSW build {column} (m={m}, ef_c={efc})", f"{build_s:.1f} s, {size / 2**20:.0f} MiB"))
    await measure_sql(conn, q, queries, 0, out, build=f" m={m} ef_c={efc}")
    await conn.execute(f"DROP INDEX {name}")
    await conn.execute(hnsw_ddl(name, column))


async def db_phase(
    server: HelplineServer,
    rows: int,
    queries: int,
    exact: int,
    seed: int,
    out: list[Row],
    alt: tuple[int, int] | None,
    centres: F32 | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    q, a, centres = make_vectors(rows, max(20, rows // 500), rng, centres)
    query_vecs = make_queries(centres, queries, rng)
    conn = await pg_connect(server)
    try:
        version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        out.append(Row("pgvector", str(version)))
        await load(conn, q, a, seed, out)
        await measure_sql(conn, q, query_vecs, exact, out)
        if alt is not None:
            await alt_build(conn, q, query_vecs, alt, out)
    finally:
        await conn.close()


async def topic_centres(clusters: int, seed: int) -> tuple[list[str], F32]:
    """``clusters`` six-word topic sentences and the local embedder's vectors of them: FAQs are
    generated around these, and API queries are built from the sentences (--near)."""
    from helpline.ai.embeddings.local import LocalEmbedder

    rng = random.Random(seed + 2)
    topics = [sentence(rng, 6) for _ in range(clusters)]
    embedder = LocalEmbedder()
    try:
        vectors = await embedder.embed(topics)
    finally:
        await embedder.aclose()
    return topics, unit(np.asarray(vectors, dtype=np.float32))


async def embed_timing(texts: list[str], out: list[Row]) -> None:
    """The server's local embedder in this process, one query at a time (as search embeds)."""
    from helpline.ai.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder()
    try:
        await embedder.warm_up()
        lat: list[float] = []
        for t in texts:
            t0 = time.perf_counter()
            await embedder.embed([t])
            lat.append(time.perf_counter() - t0)
    finally:
        await embedder.aclose()
    out.append(Row("query embedding p50 (local MiniLM, in-process)", f"{p50_ms(lat):.2f} ms"))


# VECTOR_SQL in one language ($3), as a search with `language=` asks for its candidates.
FILTERED_SQL = VECTOR_SQL.replace("WHERE ", "WHERE split_part(lower(f.language), '-', 1) = $3 AND ", 1)


async def filtered_candidates(server: HelplineServer, seed: int, out: list[Row]) -> None:
    """The search's question-vector candidates (k=40) for a language that holds 20 % of the FAQs,
    with pgvector's iterative scans off and as the app sets them ("relaxed_order"). HNSW finds the
    nearest rows first and filters by language afterwards. Relabels rows: run it last."""
    conn = await pg_connect(server)
    try:
        await conn.execute("UPDATE faqs SET language = 'es' WHERE id % 5 = 0")
        await conn.execute("ANALYZE faqs")
        model = await conn.fetchval("SELECT embedding_model FROM faqs LIMIT 1")
        rows = await conn.fetch("SELECT question_embedding FROM faqs WHERE language = 'es' ORDER BY id LIMIT 200")
        rng = np.random.default_rng(seed)
        vecs = [
            unit(np.asarray(r[0].to_numpy(), dtype=np.float32) + 0.04 * rng.standard_normal(DIM, dtype=np.float32))
            for r in rows[::5]
        ]
        await conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
        for mode in ("off", "relaxed_order"):
            await conn.execute(f"SET hnsw.iterative_scan = {mode}")
            counts, lat = [], []
            for v in vecs:
                t0 = time.perf_counter()
                counts.append(len(await conn.fetch(FILTERED_SQL, v, model, "es")))
                lat.append(time.perf_counter() - t0)
            out.append(
                Row(
                    f"language of 20 %, k=40, iterative_scan={mode}",
                    f"{statistics.median(counts):.0f} candidates (min {min(counts)}), p50 {p50_ms(lat):.2f} ms",
                )
            )
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=None, help="synthetic FAQs (default 100000; --quick 20000)")
    parser.add_argument("--quick", action="store_true", help="20k rows, fewer queries")
    parser.add_argument("--queries", type=int, default=None, help="recall queries (default 200; --quick 100)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--alt-build",
        default=None,
        metavar="M,EF_CONSTRUCTION",
        help="also measure recall with this build (e.g. 24,128)",
    )
    parser.add_argument(
        "--near",
        action="store_true",
        help="cluster centres are the local embedder's vectors of topic sentences and API queries are "
        "built from those sentences, so queries land near FAQs (default: random centres, so every API "
        "query is far from every FAQ, HNSW's slowest case)",
    )
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 100_000)
    queries = args.queries or (100 if args.quick else 200)
    exact = 20 if args.quick else 30
    alt = tuple(int(x) for x in args.alt_build.split(",")) if args.alt_build else None
    if alt is not None and len(alt) != 2:
        parser.error("--alt-build takes M,EF_CONSTRUCTION")
    install_signal_handlers()
    out: list[Row] = []
    settings = {
        "HELPLINE_DEMO_DATA": "false",
        "HELPLINE_LLM_PROVIDER": "fake",
        "HELPLINE_ADMIN_EMAIL": ADMIN_EMAIL,
        "HELPLINE_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    started = time.perf_counter()
    print(f"bench_scale: {rows:,} FAQs, {queries} recall queries", flush=True)
    alt_build = (alt[0], alt[1]) if alt else None
    topics, centres = asyncio.run(topic_centres(max(20, rows // 500), args.seed)) if args.near else (None, None)
    if args.near:
        out.append(Row("cluster centres", "embedder vectors of topic sentences (--near)"))
    try:
        with helpline_server("Helpline", settings, prefix="helpline-scale-") as server:
            asyncio.run(db_phase(server, rows, queries, exact, args.seed, out, alt_build, centres))
            texts = measure_api(server, args.seed, out, topics)
            asyncio.run(filtered_candidates(server, args.seed, out))
        asyncio.run(embed_timing(texts, out))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\n{'measurement':<44} {'value':<28} target")
    print("-" * 90)
    for row in out:
        print(f"{row.label:<44} {row.value:<28} {row.target}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
