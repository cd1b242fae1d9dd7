"""PostgreSQL's plan cache and the FAQ search statement, on the Parcelo demo knowledge base.

The search writes the language and the candidate counts into its statement's text
(faqs.search._statement) so that, on one connection, PostgreSQL switches to a generic plan after
five custom ones instead of planning every search. This measures it, where tests only check that
the hits do not depend on the plan: it starts a real Helpline (``helpline serve``, fake LLM, the
bundled local MiniLM) on a temp data dir, which loads the demo FAQs, then runs the app's own
``search.search`` in-process on one connection to its database for each language mode, and prints
per mode the plans PostgreSQL made (``pg_prepared_statements``: generic and custom), the p50 of a
search in the default plan_cache_mode and with force_custom_plan, and whether the hits agree.

Run: ``uv run python bench/bench_search_plans.py [--queries 40]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BenchError, HelplineServer, helpline_server, install_signal_handlers

QUERIES = [
    "how do I track my parcel",
    "where is my package",
    "how much does a label cost",
    "can I pay with paypal",
    "how do I create a return label",
    "my parcel is damaged",
    "schedule a carrier pickup",
    "invite teammates to my workspace",
    "do you offer insurance",
    "change the email address on my account",
]
# language, language_mode: the three statement shapes a search can take (strict, prefer, every).
MODES: list[tuple[str | None, Literal["strict", "prefer"]]] = [("en", "strict"), ("en", "prefer"), (None, "strict")]
PLAN_CACHE_MODES = {
    "auto": "SET plan_cache_mode = auto",
    "force_custom_plan": "SET plan_cache_mode = force_custom_plan",
}


async def measure(server: HelplineServer, n: int) -> list[str]:
    from dataclasses import replace

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.pool import NullPool

    from helpline.ai.factory import create_embedder
    from helpline.core.config import EmbeddingSettings, load_settings
    from helpline.core.embedded_pg import EmbeddedPostgres
    from helpline.faqs import search
    from helpline.faqs.backends import FAQDeps
    from helpline.faqs.embeddings import embed_query
    from helpline.faqs.views import ViewCounter
    from helpline.platform.cache import MemoryFAQCache

    embedder = create_embedder(load_settings(embedding=EmbeddingSettings(provider="local")))
    # No pool: each session below is a new connection, with no prepared statement yet.
    engine = create_async_engine(EmbeddedPostgres(server.data_dir / "pg").url(), poolclass=NullPool)
    deps = FAQDeps(
        embedder=embedder, cache=MemoryFAQCache(), views=ViewCounter(), sessionmaker=async_sessionmaker(engine)
    )
    # Distinct texts (no result cache hit), each embedded once up front (no embedding in the timings).
    texts = [f"{QUERIES[i % len(QUERIES)]} {i // len(QUERIES) or ''}".strip() for i in range(n)]
    lines = []
    try:
        for language, mode in MODES:
            label = f"{'every language' if language is None else language + ' ' + mode}"
            timings: dict[str, list[float]] = {"auto": [], "force_custom_plan": []}
            hits: dict[str, list[list[int]]] = {"auto": [], "force_custom_plan": []}
            for setting in timings:
                async with deps.sessionmaker() as session:
                    await session.execute(text(PLAN_CACHE_MODES[setting]))
                    fresh = replace(deps, cache=MemoryFAQCache())
                    for q in texts:  # warm the embedding cache outside the timings
                        await embed_query(fresh, q)
                    for q in texts:
                        t0 = time.perf_counter()
                        found = await search.search(
                            session,
                            fresh,
                            search.SearchQuery(q=q, language=language, language_mode=mode),
                        )
                        timings[setting].append(time.perf_counter() - t0)
                        hits[setting].append([h.id for h in found.hits])
                    plans = (
                        await session.execute(
                            text(
                                "SELECT sum(generic_plans) AS generic, sum(custom_plans) AS custom "
                                "FROM pg_prepared_statements WHERE statement LIKE 'WITH%pref%' "
                                "OR statement LIKE 'WITH%anylang%'"
                            )
                        )
                    ).one()
                    p50 = statistics.median(timings[setting]) * 1000
                    lines.append(
                        f"  {label:<16} {setting:<18} plans generic {plans.generic or 0:>3}, custom "
                        f"{plans.custom or 0:>3}; search p50 {p50:.2f} ms"
                    )
                    print(lines[-1], flush=True)
            same = sum(a == b for a, b in zip(hits["auto"], hits["force_custom_plan"], strict=True))
            lines.append(f"  {label:<16} hits identical under both settings: {same}/{len(texts)}")
            print(lines[-1], flush=True)
    finally:
        await embedder.aclose()
        await engine.dispose()
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--queries", type=int, default=40, help="searches per mode and setting (default 40)")
    args = parser.parse_args(argv)
    install_signal_handlers()
    settings = {"HELPLINE_LLM_PROVIDER": "fake", "HELPLINE_EMBEDDING_PROVIDER": "local", "HELPLINE_DEMO_DATA": "true"}
    try:
        with helpline_server("Helpline (demo KB, local embedder)", settings, prefix="helpline-plans-") as server:
            print(f"\n{args.queries} searches per mode and setting, one connection each:")
            asyncio.run(measure(server, args.queries))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
