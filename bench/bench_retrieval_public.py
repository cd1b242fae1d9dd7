"""Retrieval quality on banking customer questions: a 77-FAQ knowledge base loaded through the API.

A real Helpline (``helpline serve``, fake LLM, the bundled local MiniLM embedder, no demo data) on
a temp data dir; the admin POSTs the 77 FAQs of ``banking_faqs.json`` (one per BANKING77 intent,
written from the intent's name) to ``/api/v1/faqs``; then every query of ``banking_queries.json``
goes to ``GET /api/v1/faqs/search?q=...&language=en&limit=5`` as the signed-in admin, as the
evaluation of issue 19 does. The same database is then served again with each search
configuration (HELPLINE_SEARCH_NORMALIZE, HELPLINE_SEARCH_RERANK, HELPLINE_SEARCH_RERANK_WEIGHT),
one server at a time, so every configuration sees the same rows and vectors.

Prints top-1 and top-5 per configuration and split ("tune": the queries settings may be chosen
on; "heldout": never used to choose anything; "filler": the held-out queries wrapped in greetings
and thanks), the p50 search round trip with the result cache
cold, and the misses of the last configuration. ``--banking77-csv FILE`` adds BANKING77's own
test queries (the dataset's ``test.csv``: ``text,category``) as a third split when you have the
file; no package installable here ships it. ``--weights`` also sweeps the reranker's weight on
the tune queries.

Run: ``uv run python bench/bench_retrieval_public.py`` (about 6 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

# Run as a script, this file's folder is on sys.path, not the checkout that holds "bench".
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import REQUEST_TIMEOUT_S, BenchError, HelplineServer, helpline_server, install_signal_handlers
from bench.bench_retrieval import ADMIN_EMAIL, ADMIN_PASSWORD, MIN_INTERVAL_S, WARM_TIMEOUT_S, api_search, login

HERE = Path(__file__).resolve().parent
FAQS_FILE = HERE / "banking_faqs.json"
QUERIES_FILE = HERE / "banking_queries.json"
LIMIT = 5
TARGET_TOP1, TARGET_TOP5 = 0.78, 0.95

# name -> the HELPLINE_SEARCH_* settings it runs with; the others keep their defaults.
CONFIGS: dict[str, dict[str, str]] = {
    "hybrid (before)": {"HELPLINE_SEARCH_NORMALIZE": "false", "HELPLINE_SEARCH_RERANK": "off"},
    "+ normalisation": {"HELPLINE_SEARCH_NORMALIZE": "true", "HELPLINE_SEARCH_RERANK": "off"},
    "+ e5 rerank": {"HELPLINE_SEARCH_NORMALIZE": "false", "HELPLINE_SEARCH_RERANK": "e5"},
    "both": {"HELPLINE_SEARCH_NORMALIZE": "true", "HELPLINE_SEARCH_RERANK": "e5"},
}


@dataclass(frozen=True)
class Query:
    q: str
    intent: str
    split: str


@dataclass
class Run:
    name: str
    queries: list[Query]
    ranked: list[list[str]] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    def score(self, split: str | None = None) -> tuple[float, float, int]:
        rows = [(q, r) for q, r in zip(self.queries, self.ranked, strict=True) if split in (None, q.split)]
        if not rows:
            return float("nan"), float("nan"), 0
        top1 = sum(r[:1] == [slug(q.intent)] for q, r in rows) / len(rows)
        top5 = sum(slug(q.intent) in r[:LIMIT] for q, r in rows) / len(rows)
        return top1, top5, len(rows)

    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000 if self.latencies_s else float("nan")


def slug(intent: str) -> str:
    return intent.lower().replace("_", "-").strip("?")


def load_faqs() -> list[dict[str, str]]:
    return list(json.loads(FAQS_FILE.read_text())["faqs"])


# How customers wrap a question in a chat window: the held-out queries again, each in one of these
# (in turn), as the "filler" split. What query normalisation is for; chosen before any run.
FILLER = (
    "Hi, {q}",
    "Hello there! I was wondering {q}",
    "{q} Thanks in advance!",
    "Good morning, could you tell me {q}",
    "hey quick question, {q} thx",
    "I'd like to know {q} Thank you",
)


def load_queries(banking77_csv: Path | None) -> list[Query]:
    queries = [Query(d["q"], d["intent"], d["split"]) for d in json.loads(QUERIES_FILE.read_text())["queries"]]
    heldout = [q for q in queries if q.split == "heldout"]
    queries += [
        Query(FILLER[i % len(FILLER)].format(q=q.q[:1].lower() + q.q[1:]), q.intent, "filler")
        for i, q in enumerate(heldout)
    ]
    if banking77_csv is not None:
        intents = {f["intent"] for f in load_faqs()}
        with banking77_csv.open(newline="") as fh:
            for row in csv.DictReader(fh):
                intent = row["category"]
                if intent not in intents:
                    raise BenchError(f"{banking77_csv}: category {intent!r} is not an intent of {FAQS_FILE.name}")
                queries.append(Query(row["text"], intent, "banking77-test"))
    return queries


def load_kb(server: HelplineServer) -> None:
    """POST every FAQ, published, as the admin: the way a bank would load its help centre."""
    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        headers = {"Authorization": f"Bearer {login(client)}"}
        for faq in load_faqs():
            body = {
                "question": faq["question"],
                "answer": faq["answer"],
                "language": "en",
                "status": "published",
                "slug": slug(faq["intent"]),
            }
            r = client.post("/api/v1/faqs", json=body, headers=headers)
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "1")))
                r = client.post("/api/v1/faqs", json=body, headers=headers)
            if r.status_code != 201:
                raise BenchError(f"POST /faqs {faq['intent']} answered {r.status_code}: {r.text[:300]}")


def run_queries(server: HelplineServer, name: str, queries: Sequence[Query]) -> Run:
    # A cold reranker embeds the passages of the first searches' candidates: seconds on a busy machine.
    ranked, latencies = api_search(server, [(query.q, "en") for query in queries])
    return Run(name, list(queries), ranked, latencies)


def base_settings() -> dict[str, str]:
    return {
        "HELPLINE_LLM_PROVIDER": "fake",
        "HELPLINE_EMBEDDING_PROVIDER": "local",
        "HELPLINE_ADMIN_EMAIL": ADMIN_EMAIL,
        "HELPLINE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "HELPLINE_DEMO_DATA": "false",
    }


def warm(server: HelplineServer) -> None:
    """Each FAQ's own question first, not counted: it loads the models and lets the reranker embed
    the FAQs' passages, which a running server has done long before its searches are timed."""
    run_queries(server, "warm-up", [Query(f["question"], f["intent"], "warm-up") for f in load_faqs()])


def report(runs: Sequence[Run], splits: Sequence[str]) -> None:
    print(f"\n{'configuration':<26}" + "".join(f"{s + ' top-1/top-5':>26}" for s in splits) + f"{'p50 ms':>9}")
    for run in runs:
        cells = []
        for split in splits:
            top1, top5, n = run.score(split)
            cells.append(f"{top1:.3f} / {top5:.3f} ({n})")
        print(f"{run.name:<26}" + "".join(f"{c:>26}" for c in cells) + f"{run.p50_ms():>9.1f}")
    print(f"(target on real banking queries: top-1 >= {TARGET_TOP1}, top-5 >= {TARGET_TOP5})")


def report_misses(run: Run) -> None:
    missed = [(q, r) for q, r in zip(run.queries, run.ranked, strict=True) if r[:1] != [slug(q.intent)]]
    print(f"\nmisses of {run.name!r} ({len(missed)}): query [split] -> got (expected's rank)")
    for q, r in missed:
        rank = str(r.index(slug(q.intent)) + 1) if slug(q.intent) in r else "-"
        print(f"  {q.q!r} [{q.split}] -> {r[0] if r else '(nothing)'} (expected {slug(q.intent)}: {rank})")


def time_reranker(queries: Sequence[Query], candidates: int | None = None) -> None:
    """The reranking stage's own cost per query, in-process, the way a running server pays it:
    the FAQs' passage vectors cached (made once per FAQ), the query embedded by e5 on one
    thread, scores for ``candidates`` FAQs. The server starts that embedding while its SQL runs,
    so a query waits for at most this much more."""
    import asyncio

    from helpline.core.config import SearchSettings
    from helpline.faqs.rerank import create_reranker
    from helpline.platform.cache import MemoryFAQCache

    candidates = candidates or SearchSettings().rerank_candidates

    async def measure() -> tuple[list[float], float, float]:
        reranker = create_reranker(SearchSettings(rerank="e5"), MemoryFAQCache(max_entries=100_000))
        assert reranker is not None
        passages = [(f["question"], f["answer"]) for f in load_faqs()]
        started = time.perf_counter()
        for i in range(0, len(passages), candidates):
            await reranker.scores(reranker.begin("warm-up"), await reranker.vectors(passages[i : i + candidates]))
        first = time.perf_counter() - started
        times = []
        cpu = time.process_time()
        for n, query in enumerate(queries):
            some = [passages[(n + k) % len(passages)] for k in range(candidates)]
            t0 = time.perf_counter()
            await reranker.scores(reranker.begin(query.q), await reranker.vectors(some))
            times.append(time.perf_counter() - t0)
        cpu_each = (time.process_time() - cpu) / len(queries)
        await reranker.aclose()
        return times, first, cpu_each

    times, first, cpu_each = asyncio.run(measure())
    times.sort()
    # CPU time does not grow when other processes share the cores; wall time does.
    print(
        f"\nreranking stage in-process ({len(times)} queries, {candidates} candidates, passages cached): "
        f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms, "
        f"CPU {cpu_each * 1000:.1f} ms a query; embedding the {len(load_faqs())} FAQs' passages the first time: "
        f"{first:.1f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


def fetch_candidates(server: HelplineServer, queries: Sequence[Query], limit: int = 20) -> list[list[dict[str, Any]]]:
    """The first stage's best ``limit`` hits (slug, hybrid score, question, answer) per query."""
    found = []
    with httpx.Client(base_url=server.base, timeout=WARM_TIMEOUT_S, trust_env=False) as client:
        headers = {"Authorization": f"Bearer {login(client)}"}
        for query in queries:
            time.sleep(MIN_INTERVAL_S)
            params: dict[str, str | int] = {"q": query.q, "language": "en", "limit": limit}
            r = client.get("/api/v1/faqs/search", params=params, headers=headers)
            if r.status_code != 200:
                raise BenchError(f"search {query.q!r} answered {r.status_code}: {r.text[:300]}")
            found.append(list(r.json()["items"]))
    return found


def report_variants(queries: Sequence[Query], candidates: list[list[dict[str, Any]]]) -> None:
    """Other second stages, scored in-process on the first stage's top 20 (reranking off, no
    normalisation), as the server fuses: hybrid score + weight * the variant's score. Only the
    default (e5, question and question+answer, weight 2) runs in the server."""
    import asyncio

    import numpy as np

    from helpline.ai.embeddings.e5 import E5Embedder
    from helpline.ai.embeddings.local import LocalEmbedder

    faqs = {str(h["slug"]): (str(h["question"]), str(h["answer"])) for hits in candidates for h in hits}
    slugs = sorted(faqs)
    at = {s: i for i, s in enumerate(slugs)}

    async def vectors(model: Any, texts: list[str], input_type: Any) -> Any:
        rows: list[list[float]] = []
        for i in range(0, len(texts), 32):
            rows += await model.embed(texts[i : i + 32], input_type=input_type)
        return np.asarray(rows)

    async def embed_all() -> dict[str, Any]:
        e5, minilm = E5Embedder(threads=1), LocalEmbedder()
        texts = [q.q for q in queries]
        together = [f"{faqs[s][0]}\n{faqs[s][1]}" for s in slugs]
        out = {
            "e5 query": await vectors(e5, texts, "query"),
            "e5 question": await vectors(e5, [faqs[s][0] for s in slugs], "document"),
            "e5 question+answer": await vectors(e5, together, "document"),
            "minilm query": await vectors(minilm, texts, "query"),
            "minilm question+answer": await vectors(minilm, together, "document"),
        }
        await e5.aclose()
        await minilm.aclose()
        return out

    v = asyncio.run(embed_all())

    def e5_q(i: int, s: str) -> float:
        return float(v["e5 question"][at[s]] @ v["e5 query"][i])

    def e5_qa(i: int, s: str) -> float:
        return float(v["e5 question+answer"][at[s]] @ v["e5 query"][i])

    def minilm_qa(i: int, s: str) -> float:
        return float(v["minilm question+answer"][at[s]] @ v["minilm query"][i])

    variants: dict[str, Any] = {"first stage alone": lambda i, s: 0.0}
    for w in (1, 2, 4, 8):
        variants[f"e5 question + question+answer, weight {w}"] = lambda i, s, w=w: w * (e5_q(i, s) + e5_qa(i, s))
    for w in (2, 4, 8):
        variants[f"e5 question+answer only, weight {w}"] = lambda i, s, w=w: w * e5_qa(i, s)
    for w in (1, 2, 4):
        variants[f"MiniLM question+answer, weight {w}"] = lambda i, s, w=w: w * minilm_qa(i, s)
    variants["e5 alone (no hybrid score)"] = lambda i, s: 0.0  # ordered by e5 alone below

    splits = sorted({q.split for q in queries}, key=["tune", "heldout", "filler", "banking77-test"].index)
    print("\nsecond stages on the first stage's top 20, in-process (top-1 / top-5):")
    print(f"{'variant':<44}" + "".join(f"{s:>16}" for s in splits))
    for name, extra in variants.items():
        run = Run(name, list(queries))
        for i, hits in enumerate(candidates):
            if name.startswith("e5 alone"):
                order = sorted(hits, key=lambda h: -(e5_q(i, str(h["slug"])) + e5_qa(i, str(h["slug"]))))
            else:
                order = sorted(hits, key=lambda h: -(float(h["score"]) + extra(i, str(h["slug"]))))
            run.ranked.append([str(h["slug"]) for h in order])
        cells = [f"{run.score(s)[0]:.3f} / {run.score(s)[1]:.3f}" for s in splits]
        print(f"{name:<44}" + "".join(f"{c:>16}" for c in cells))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--banking77-csv", type=Path, default=None, help="BANKING77's test.csv (text,category)")
    parser.add_argument(
        "--weights", default="", help="also sweep HELPLINE_SEARCH_RERANK_WEIGHT on the tune queries, e.g. 0.5,1,2,4"
    )
    parser.add_argument("--only", default="", help="run only these configurations (comma-separated names)")
    parser.add_argument(
        "--variants", action="store_true", help="also score other second stages in-process on the top 20"
    )
    args = parser.parse_args(argv)
    install_signal_handlers()
    try:
        queries = load_queries(args.banking77_csv)
    except (OSError, KeyError, BenchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    configs = {k: v for k, v in CONFIGS.items() if not args.only or k in args.only.split(",")}
    sweep = [w.strip() for w in args.weights.split(",") if w.strip()]
    splits = sorted({q.split for q in queries}, key=["tune", "heldout", "filler", "banking77-test"].index)
    runs: list[Run] = []
    try:
        with TemporaryDirectory(prefix="helpline-retrieval-public-") as tmp:
            data_dir = Path(tmp)
            with helpline_server("Helpline (loading the banking FAQs)", base_settings(), data_dir=data_dir) as server:
                started = time.perf_counter()
                load_kb(server)
                print(f"  loaded {len(load_faqs())} FAQs through the API in {time.perf_counter() - started:.1f} s")
            for name, settings in configs.items():
                with helpline_server(f"Helpline ({name})", base_settings() | settings, data_dir=data_dir) as server:
                    warm(server)
                    runs.append(run_queries(server, name, queries))
                    top1, top5, _ = runs[-1].score()
                    print(f"  {name}: top-1 {top1:.3f}, top-5 {top5:.3f}", flush=True)
            candidates: list[list[dict[str, Any]]] = []
            if args.variants:
                first_stage = base_settings() | CONFIGS["hybrid (before)"]
                with helpline_server("Helpline (first stage, top 20)", first_stage, data_dir=data_dir) as server:
                    candidates = fetch_candidates(server, queries)
            tune = [q for q in queries if q.split == "tune"]
            sweep_runs = []
            for weight in sweep:
                name = f"rerank weight {weight}"
                settings = {"HELPLINE_SEARCH_RERANK_WEIGHT": weight}
                with helpline_server(f"Helpline ({name})", base_settings() | settings, data_dir=data_dir) as server:
                    warm(server)
                    sweep_runs.append(run_queries(server, name, tune))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report(runs, splits)
    time_reranker(queries)
    if candidates:
        report_variants(queries, candidates)
    if sweep_runs:
        print("\nreranker weight sweep (tune queries only; normalisation on):")
        report(sweep_runs, ["tune"])
    if runs:
        report_misses(runs[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
