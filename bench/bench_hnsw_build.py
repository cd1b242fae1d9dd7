"""HNSW build time and size as a knowledge base grows, for docs/scaling.md's pgvector sizing.

    uv run python bench/bench_hnsw_build.py [--rows 10000,20000,40000] [--dim 384]

On the embedded PostgreSQL (a temporary data folder): for each row count, a table of unit vectors
around rows/500 cluster centres (as bench_scale.py makes them) is loaded with COPY, then one HNSW
index is built as the app builds its own (models/faqs.py: hnsw_ddl, HNSW_BUILD,
HNSW_BUILD_MEMORY; PostgreSQL's default of two parallel maintenance workers). Prints the build
time, the index and table sizes, bytes per row, and the growth exponent of the build time between
the sizes (1.0 = linear), from which docs/scaling.md extrapolates.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import tempfile
import time
from pathlib import Path

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector

from helpline.core.embedded_pg import EmbeddedPostgres
from helpline.models.faqs import HNSW_BUILD_MEMORY, hnsw_ddl


def vectors(rows: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(max(1, rows // 500), dim)).astype(np.float32)
    picks = rng.integers(0, len(centres), size=rows)
    data = centres[picks] + 0.35 * rng.normal(size=(rows, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data


async def measure(socket_dir: str, rows: int, dim: int) -> dict[str, float]:
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await register_vector(conn)
        await conn.execute("DROP TABLE IF EXISTS hnsw_bench")
        await conn.execute(f"CREATE TABLE hnsw_bench (id int PRIMARY KEY, embedding vector({dim}))")
        data = vectors(rows, dim, np.random.default_rng(rows))
        await conn.copy_records_to_table("hnsw_bench", records=[(i, v) for i, v in enumerate(data)])
        await conn.execute("VACUUM ANALYZE hnsw_bench")
        await conn.execute(f"SET maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
        started = time.perf_counter()
        await conn.execute(hnsw_ddl("hnsw_bench_idx", "embedding", table="hnsw_bench"))
        seconds = time.perf_counter() - started
        index = await conn.fetchval("SELECT pg_relation_size('hnsw_bench_idx')")
        table = await conn.fetchval("SELECT pg_total_relation_size('hnsw_bench') - pg_relation_size('hnsw_bench_idx')")
        return {"rows": rows, "seconds": seconds, "index": index, "table": table}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,20000,40000")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="hnsw-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        pg.start()
        try:
            results = [asyncio.run(measure(str(pg.socket_dir()), n, args.dim)) for n in sizes]
        finally:
            pg.release()
    mib = 2**20
    print(f"HNSW (m=16, ef_construction=128, maintenance_work_mem={HNSW_BUILD_MEMORY}), {args.dim}-d vectors")
    print(f"{'rows':>8} {'build s':>8} {'index MiB':>10} {'B/row':>7} {'table MiB':>10} {'B/row':>7}")
    for r in results:
        print(
            f"{r['rows']:>8,.0f} {r['seconds']:>8.2f} {r['index'] / mib:>10.1f} {r['index'] / r['rows']:>7.0f}"
            f" {r['table'] / mib:>10.1f} {r['table'] / r['rows']:>7.0f}"
        )
    for a, b in itertools.pairwise(results):
        exponent = math.log(b["seconds"] / a["seconds"]) / math.log(b["rows"] / a["rows"])
        print(f"build time growth {a['rows']:,.0f} -> {b['rows']:,.0f}: rows^{exponent:.2f}")


if __name__ == "__main__":
    main()
