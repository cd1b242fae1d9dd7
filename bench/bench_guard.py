"""The grounded-answer guard on the Parcelo demo knowledge base: how often an answer states a fact
found nowhere, how often it is right, how often "I don't know" is said where nothing applies.

Runs every question of ``guard_questions.json`` through a real Helpline (``helpline serve``, the
bundled SmolLM2-135M through llama-cpp-python, the bundled local MiniLM embedder, the demo data)
over HTTP, ``POST /api/v1/chat/send``, twice: with the guard (``HELPLINE_GUARD_ENABLED=true``,
the default) and without it. Each question gets a new conversation; a follow-up's earlier turns
are sent first in the same conversation. Both servers use one data dir, so they answer from the
same database.

An answer's facts (chat.guard.facts: phone numbers, emails, links, amounts, durations, dates,
references, product names, numbers) are checked independently of the guard's own verdict, with
chat.guard.Support over:

- the whole demo knowledge base, the question, the conversation and the system prompt ("vs KB");
- only the articles retrieved for the question (what the model was given), the question, the
  conversation and the system prompt ("vs retrieved").

The articles retrieved for each question, and their cosine similarities, come from the app's own
retrieval (helpline.faqs.search.retrieve, top_k 3) run in-process against the same database with
the same embedder. From the best similarity the script also sweeps the guard's source bar
(HELPLINE_GUARD_SOURCE_MIN_SIMILARITY): at each bar, the share of questions with an answer whose
article would be offered, and the share of unanswerable ones that would wrongly get one.

Run: ``uv run python bench/bench_guard.py`` (about 25 minutes on 2 cores). ``--limit N`` takes
every k-th question so that N are left (kinds and languages stay mixed); ``--quick`` is
``--limit 40``; ``--runs on|off|both``; ``--save FILE`` writes every answer as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

# Run as a script, this file's folder is on sys.path, not the checkout that holds "bench".
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import BenchError, HelplineServer, helpline_server, install_signal_handlers, register_and_login
from helpline.chat import guard
from helpline.faqs.demo import demo_file

QUESTIONS_FILE = Path(__file__).resolve().parent / "guard_questions.json"
# Names (the guard's "name" facts) that SmolLM2-135M's own answers state, each read and labelled
# once by hand: "invented" (a person, place, company or product the KB does not have, or not in
# the articles the model was given) or "not_a_name" (Title Case of ordinary words, a UI label, a
# sign-off). The report counts the guard's false alarms and misses against them.
NAMES_FILE = Path(__file__).resolve().parent / "guard_names.json"
HUGE = "100000000"
SEND_TIMEOUT_S = 300.0  # a local answer that loops to max_tokens takes 20-30 s; queued behind nothing
BARS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
# HELPLINE_GUARD_SOURCE_MIN_RELEVANCE, on the reranker's scale (multilingual e5: unrelated texts
# score 0.75-0.85, good matches 0.85-0.94).
RELEVANCE_BARS = (0.82, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.89)
TOP_K = 3  # HELPLINE_RETRIEVAL_TOP_K's default: what the chat turn retrieves
MIN_SIMILARITY = 0.35  # HELPLINE_RETRIEVAL_MIN_SIMILARITY's default: what goes in the prompt
PASSWORD = "Guard-bench-pass-7"
# "I don't know" in the model's own words (the guard's own is recognized by model_used "guard").
_DONT_KNOW = re.compile(
    r"don'?t know|do not know|not sure|don'?t have (?:any |that |this |the )?(?:information|details|data)|"
    r"no information|not (?:able|possible) to (?:find|answer|provide)|(?:can ?not|can'?t|couldn'?t|could not) "
    r"(?:find|answer|provide|help with)|isn'?t (?:covered|mentioned)|not (?:covered|mentioned|listed) in|"
    r"no s[ée]\b|no tengo (?:informaci[óo]n|datos)|je ne sais pas|je n'ai pas (?:d'information|cette)|"
    r"wei(?:ß|ss) ich (?:leider )?nicht|keine informationen",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    kind: str
    question: str
    history: tuple[str, ...]
    expect: tuple[str, ...]  # the FAQ that answers it and its translation; empty: none does
    must: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.expect)


@dataclass
class Answer:
    qid: str
    content: str
    model_used: str | None
    status: str
    sources: list[str]
    guard: dict[str, Any] | None
    wall_ms: float
    server_ms: int | None
    history_answers: list[str] = field(default_factory=list)


@dataclass
class Retrieved:
    """What the app's retrieval finds for the question (top_k, with cosine similarities)."""

    hits: list[tuple[str, str, float]]  # (question, answer, similarity), ranked as retrieve() ranks
    # The reranker's relevance of each hit (None without a reranker), in the same order.
    relevance: list[float | None] = field(default_factory=list)

    @property
    def best(self) -> tuple[str, float] | None:
        if not self.hits:
            return None
        q, _, s = self.hits[0]  # honest.fallback takes the best-ranked article, if similar enough
        return q, s

    @property
    def best_relevance(self) -> tuple[str, float] | None:
        if not self.hits or self.relevance[0] is None:
            return None
        return self.hits[0][0], self.relevance[0]

    def prompt_texts(self) -> list[str]:
        return [f"{q}\n{a}" for q, a, s in self.hits if s >= MIN_SIMILARITY]


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for d in data["questions"]:
        expect = tuple(x for x in [d.get("expect_faq"), *d.get("also_faq", [])] if x)
        out.append(
            Question(
                str(d["id"]),
                str(d["language"]),
                str(d["kind"]),
                str(d["question"]),
                tuple(d.get("history") or ()),
                expect,
                tuple(d.get("must_contain") or ()),
            )
        )
    return out


def demo_faqs() -> list[tuple[str, str]]:
    data = json.loads(demo_file())
    faqs = data["faqs"] if isinstance(data, dict) else data
    return [(str(f["question"]), str(f["answer"])) for f in faqs]


# -- asking --------------------------------------------------------------------------------


def ask_all(server: HelplineServer, questions: Sequence[Question], email: str, label: str) -> list[Answer]:
    token = register_and_login(server.base, email, PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    answers: list[Answer] = []
    started = time.perf_counter()
    with httpx.Client(base_url=server.base, timeout=SEND_TIMEOUT_S, trust_env=False, headers=headers) as client:

        def send(message: str, language: str, conversation_id: int | None) -> tuple[dict[str, Any], float]:
            body: dict[str, Any] = {"message": message, "language": language}
            if conversation_id is not None:
                body["conversation_id"] = conversation_id
            t0 = time.perf_counter()
            r = client.post("/api/v1/chat/send", json=body)
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise BenchError(f"chat/send {message!r} answered {r.status_code}: {r.text[:300]}")
            data: dict[str, Any] = r.json()
            return data, elapsed

        for n, q in enumerate(questions, 1):
            conversation: int | None = None
            earlier = []
            for prior in q.history:
                data, _ = send(prior, q.language, conversation)
                conversation = int(data["conversation_id"])
                earlier.append(str(data["content"]))
            data, wall = send(q.question, q.language, conversation)
            answers.append(
                Answer(
                    q.id,
                    str(data["content"]),
                    data.get("model_used"),
                    str(data.get("status")),
                    [str(s["question"]) for s in data.get("sources") or []],
                    data.get("guard"),
                    wall,
                    data.get("response_time_ms"),
                    earlier,
                )
            )
            if n % 20 == 0 or n == len(questions):
                print(f"  {label}: {n}/{len(questions)} in {time.perf_counter() - started:.0f} s", flush=True)
    return answers


async def retrieve_all(server: HelplineServer, questions: Sequence[Question]) -> dict[str, Retrieved]:
    """The app's retrieval for each question, in-process, on the server's database."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from helpline.ai.factory import create_embedder
    from helpline.core.config import EmbeddingSettings, SearchSettings, load_settings
    from helpline.faqs.backends import FAQDeps
    from helpline.faqs.rerank import create_reranker
    from helpline.faqs.search import retrieve
    from helpline.faqs.views import ViewCounter
    from helpline.platform.cache import MemoryFAQCache

    embedder = create_embedder(load_settings(embedding=EmbeddingSettings(provider="local")))
    engine = create_async_engine(server.url())
    # The search as the app runs it by default: normalized queries, the e5 reranker.
    search = SearchSettings()
    cache = MemoryFAQCache()
    deps = FAQDeps(
        embedder=embedder,
        cache=cache,
        views=ViewCounter(),
        sessionmaker=async_sessionmaker(engine),
        reranker=create_reranker(search, cache),
        rerank_candidates=search.rerank_candidates,
        rerank_weight=search.rerank_weight,
        normalize=search.normalize,
    )
    found: dict[str, Retrieved] = {}
    try:
        async with deps.sessionmaker() as session:
            for q in questions:
                hits = await retrieve(session, deps, q.question, q.language, limit=TOP_K)
                vectored = [h for h in hits if h.similarity is not None]
                found[q.id] = Retrieved(
                    [(h.question, h.answer, h.similarity) for h in vectored if h.similarity is not None],
                    [h.relevance for h in vectored],
                )
    finally:
        await embedder.aclose()
        if deps.reranker is not None:
            await deps.reranker.aclose()
        await engine.dispose()
    return found


def load_answers(path: Path, questions: Sequence[Question]) -> dict[str, list[Answer]]:
    """The answers of a --save file, per run, in the order of ``questions`` (which it must hold)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Answer.__dataclass_fields__)
    out: dict[str, list[Answer]] = {}
    for run, rows in data.items():
        by_id = {str(r["qid"]): Answer(**{k: v for k, v in r.items() if k in fields}) for r in rows}
        missing = [q.id for q in questions if q.id not in by_id]
        if missing:
            raise SystemExit(f"{path} has no answer to questions {missing[:5]}: run it with the same --limit")
        out[run] = [by_id[q.id] for q in questions]
    return out


# -- judging -------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("**", "").replace("`", "").replace("*", "")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 5,000 -> 5000
    return " ".join(text.lower().split())


@dataclass
class Verdict:
    q: Question
    a: Answer
    unsupported_kb: list[guard.Fact]
    unsupported_retrieved: list[guard.Fact]
    quotes: bool  # the reply is or quotes the expected FAQ's answer
    states: bool  # it says every must_contain
    cites: bool  # the expected FAQ is among its sources
    dont_know: bool
    article: bool  # an FAQ's own answer (direct, or the guard's stand-in)

    @property
    def correct(self) -> bool:
        return self.q.answerable and (self.quotes or (self.states and not self.unsupported_kb))

    @property
    def honest(self) -> bool:
        return not self.q.answerable and self.dont_know and not self.unsupported_kb


def judge(questions: Sequence[Question], answers: Sequence[Answer], retrieved: dict[str, Retrieved]) -> list[Verdict]:
    from helpline.ai.prompts import system_prompt

    faqs = demo_faqs()
    by_question = dict(faqs)
    kb = [f"{q}\n{a}" for q, a in faqs]
    out = []
    for q, a in zip(questions, answers, strict=True):
        talk = [q.question, *q.history, *a.history_answers, system_prompt(q.language)]
        whole = guard.Support([*kb, *talk])
        given = guard.Support([*retrieved[q.id].prompt_texts(), *talk])
        content = _norm(a.content)
        quotes = any(_norm(by_question[f]) in content for f in q.expect)
        states = bool(q.must) and all(_norm(m) in content for m in q.must)
        guard_said = (a.guard or {}).get("action")
        out.append(
            Verdict(
                q,
                a,
                guard.unsupported(a.content, whole),
                guard.unsupported(a.content, given),
                quotes,
                states,
                any(s in q.expect for s in a.sources),
                guard_said == "dont_know" or (a.model_used != "faq" and bool(_DONT_KNOW.search(a.content))),
                a.model_used == "faq",
            )
        )
    return out


# -- report --------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def _ms(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def _row(name: str, vs: Sequence[Verdict]) -> str:
    ans = [v for v in vs if v.q.answerable]
    una = [v for v in vs if not v.q.answerable]
    replaced = sum(1 for v in vs if v.a.guard)
    p50, p90 = _ms([v.a.wall_ms for v in vs])
    return (
        f"  {name:<16} {len(vs):>4} {_pct(sum(bool(v.unsupported_kb) for v in vs), len(vs)):>8} "
        f"{_pct(sum(bool(v.unsupported_retrieved) for v in vs), len(vs)):>9} "
        f"{_pct(sum(v.correct for v in ans), len(ans)):>8} {_pct(sum(v.cites for v in ans), len(ans)):>7} "
        f"{_pct(sum(v.honest for v in una), len(una)):>8} {_pct(replaced, len(vs)):>8} "
        f"{p50 / 1000:>6.1f} {p90 / 1000:>6.1f}"
    )


def report_run(label: str, verdicts: Sequence[Verdict]) -> None:
    print(f"\n== {label}: {len(verdicts)} questions")
    print(
        "  (unsupported: answers with a fact found in none of the material, vs the whole KB and vs the articles "
        "retrieved;\n   correct: of the questions an FAQ answers; honest: of those none does; time: wall seconds "
        "per answer)"
    )
    head = f"  {'group':<16} {'n':>4} {'unsup KB':>8} {'unsup ret':>9} {'correct':>8} {'cites':>7} "
    print(head + f"{'honest':>8} {'guarded':>8} {'p50 s':>6} {'p90 s':>6}")
    print(_row("all", verdicts))
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        groups[f"kind {v.q.kind}"].append(v)
    for v in verdicts:
        groups[f"lang {v.q.language}"].append(v)
    for name, vs in groups.items():
        print(_row(name, vs))
    used = Counter(v.a.model_used for v in verdicts)
    times = {k: _ms([v.a.wall_ms for v in verdicts if v.a.model_used == k]) for k in used}
    print(
        "  model_used (n, p50/p90 s): "
        + ", ".join(f"{k} {n} ({times[k][0] / 1000:.1f}/{times[k][1] / 1000:.1f})" for k, n in used.most_common())
    )
    reasons = Counter(f"{v.a.guard['reason']} -> {v.a.guard['action']}" for v in verdicts if v.a.guard)
    if reasons:
        print("  guard: " + ", ".join(f"{k} {n}" for k, n in reasons.most_common()))
        looped = [v for v in verdicts if v.a.guard and v.a.guard["reason"] == "repetition"]
        early = [v for v in looped if v.a.guard and v.a.guard.get("stopped_early")]
        if looped:
            p50, p90 = _ms([v.a.wall_ms for v in looped])
            print(
                f"  loops: {len(looped)}, {len(early)} stopped while streaming; time per looping answer "
                f"p50 {p50 / 1000:.1f} s, p90 {p90 / 1000:.1f} s"
            )
    kinds = Counter(f.kind for v in verdicts for f in v.unsupported_kb)
    if kinds:
        print("  unsupported facts vs KB, by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    wrong_article = [v for v in verdicts if not v.q.answerable and v.article]
    print(f"  unanswerable questions given an article: {len(wrong_article)}")
    statuses = Counter(v.a.status for v in verdicts)
    if set(statuses) != {"sent"}:
        print("  statuses: " + ", ".join(f"{k} {n}" for k, n in statuses.items()))


def _facts(found: Sequence[dict[str, Any]]) -> str:
    return ", ".join(dict.fromkeys(f"{f['kind']} {f['text']!r}" for f in found))


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def report_languages(verdicts: Sequence[Verdict]) -> None:
    """How the model itself does in each language (the run without the guard, where every language
    reaches the model): whether its answers are in the question's language, loop, state a fact not
    in the retrieved articles, are right. "Acceptable": in the language, no loop, no such fact."""
    print("\n== the model's own answers by language (guard off)")
    print(
        "  echoes: recites the system prompt (a base model continuing the document); acceptable: in the "
        "question's language, no loop, no echo, no fact missing from the retrieved articles"
    )
    print(
        f"  {'lang':<5} {'n':>4} {'in lang':>8} {'loops':>7} {'echoes':>7} {'unsup':>7} {'correct':>8} "
        f"{'acceptable':>11}"
    )
    from helpline.ai.prompts import system_prompt

    for lang in sorted({v.q.language for v in verdicts}):
        vs = [v for v in verdicts if v.q.language == lang and v.a.model_used not in ("faq", "guard")]
        in_lang = [not guard.wrong_language(v.a.content, lang) for v in vs]
        loops = [guard.repetitive(v.a.content) for v in vs]
        echoes = [system_prompt(lang)[:60] in v.a.content for v in vs]
        unsup = [bool(v.unsupported_retrieved) for v in vs]
        ok = sum(1 for a, b, c, d in zip(in_lang, loops, echoes, unsup, strict=True) if a and not (b or c or d))
        ans = [v for v in vs if v.q.answerable]
        print(
            f"  {lang:<5} {len(vs):>4} {_pct(sum(in_lang), len(vs)):>8} {_pct(sum(loops), len(vs)):>7} "
            f"{_pct(sum(echoes), len(vs)):>7} {_pct(sum(unsup), len(vs)):>7} "
            f"{_pct(sum(v.correct for v in ans), len(ans)):>8} {_pct(ok, len(vs)):>11}"
        )


def report_pairs(on: Sequence[Verdict], off: Sequence[Verdict]) -> None:
    """The guard's replacements next to what the model said without it (temperature 0: the same
    prompt gives the same answer, so the unguarded run shows the answer the guard replaced)."""
    print("\n== guard replacements (English: same prompt, so the run without the guard shows the model's answer)")
    pairs = [
        (a, b)
        for a, b in zip(on, off, strict=True)
        if a.a.guard and a.a.guard["reason"] != "language_unsupported" and a.q.language == "en"
    ]
    caught = [(a, b) for a, b in pairs if b.unsupported_retrieved]
    print(
        f"  {len(pairs)} replaced: {dict(Counter(str(a.a.guard['reason']) for a, _ in pairs if a.a.guard))}; "
        f"{len(caught)} of the unguarded answers have a fact not in the retrieved articles "
        f"({sum(1 for _, b in pairs if b.unsupported_kb)} not in the whole KB)"
    )
    # Replaced although the model's answer stated what a right answer states: read them, the
    # flagged fact tells a false alarm (a value written differently) from a real catch.
    stating = [(a, b) for a, b in pairs if b.q.answerable and b.states]
    print(f"  replaced answers that stated the expected facts without the guard: {len(stating)}")
    for a, b in stating[:10]:
        facts = _facts((a.a.guard or {}).get("unsupported", []))
        print(f"    {a.q.id} {a.q.question!r}: {a.a.guard['reason'] if a.a.guard else ''} {facts}")
        print(f"      model: {_short(b.a.content, 240)}")
    missed = [v for v in on if not v.a.guard and v.a.model_used not in ("faq", "guard") and v.unsupported_retrieved]
    print(f"  model answers kept by the guard with a fact not in the retrieved articles: {len(missed)}")
    for v in missed[:8]:
        print(f"    {v.q.id}: {_facts([asdict(f) for f in v.unsupported_retrieved])}: {_short(v.a.content)}")
    wrong_kept = [
        v
        for v in on
        if not v.a.guard and v.a.model_used not in ("faq", "guard") and not v.dont_know and not v.q.answerable
    ]
    print(f"  unanswerable questions answered by the model (no fact to catch) with the guard on: {len(wrong_kept)}")
    for v in wrong_kept[:6]:
        print(f"    {v.q.id} {v.q.question!r}: {_short(v.a.content)}")


def report_names(label: str, verdicts: Sequence[Verdict], path: Path = NAMES_FILE) -> None:
    """The guard's name check on the model's own answers (not the guard's stand-ins), against the
    articles the model was given: labelled false alarms (a "not_a_name" flagged), catches (an
    "invented" flagged) and misses (an "invented" stated but not flagged)."""
    labels: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["names"] if path.exists() else {}
    own = [v for v in verdicts if v.a.model_used not in ("faq", "guard")]
    # Per answer: a name flagged (or stated) twice in one answer counts once.
    flagged = Counter(n for v in own for n in {f.text for f in v.unsupported_retrieved if f.kind == "name"})
    alarms = {n: c for n, c in flagged.items() if labels.get(n) == "not_a_name"}
    invented = [n for n, kind in labels.items() if kind == "invented"]
    caught: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for v in own:
        named = {f.text for f in v.unsupported_retrieved if f.kind == "name"}
        for n in invented:
            if n in named:
                caught[n] += 1
            elif re.search(rf"(?<!\w){re.escape(n)}(?!\w)", v.a.content) and not any(n in m for m in named):
                missed[n] += 1  # stated, not flagged (and not part of a longer name that is)
    unlabelled = {n: c for n, c in flagged.items() if n not in labels}
    answers_alarmed = sum(
        1
        for v in own
        if any(f.kind == "name" and labels.get(f.text) == "not_a_name" for f in v.unsupported_retrieved)
        and not any(f.kind != "name" or labels.get(f.text) != "not_a_name" for f in v.unsupported_retrieved)
    )
    print(f"\n== names in the model's own answers ({label}; {len(own)} answers, labels: {path.name})")
    stated = sum(caught.values()) + sum(missed.values())
    print(
        f"  flagged names: {sum(flagged.values())}; false alarms {sum(alarms.values())} "
        f"({len(alarms)} distinct), invented caught {sum(caught.values())} of {stated}, "
        f"invented let through {sum(missed.values())}; answers whose only flagged facts are false alarms: "
        f"{answers_alarmed}"
    )
    for what, names in (("false alarms", alarms), ("let through", missed), ("unlabelled", unlabelled)):
        if names:
            print(f"  {what}: " + ", ".join(f"{n!r} x{c}" for n, c in sorted(names.items(), key=lambda x: -x[1])))


def report_sweep(
    questions: Sequence[Question],
    retrieved: dict[str, Retrieved],
    current: float,
    *,
    relevance: bool = False,
) -> None:
    """``relevance``: sweep the reranker's relevance of the best-ranked article
    (HELPLINE_GUARD_SOURCE_MIN_RELEVANCE) instead of its cosine similarity."""

    def best_of(q: Question) -> tuple[str, float] | None:
        r = retrieved[q.id]
        return r.best_relevance if relevance else r.best

    what = "relevance (reranker)" if relevance else "similarity"
    print(f"\n== source bar sweep (best-ranked article's {what}; the fallback offers that article)")
    print(
        "  right: its best article answers it; wrong: it answers another question; "
        "unanswerable: wrongly given an article"
    )
    ans = [q for q in questions if q.answerable]
    una = [q for q in questions if not q.answerable]
    print(
        f"  {'bar':>5} {'right (' + str(len(ans)) + ')':>12} {'wrong':>8} {'unanswerable (' + str(len(una)) + ')':>18}"
    )
    for bar in RELEVANCE_BARS if relevance else BARS:
        right = wrong = 0
        for q in ans:
            best = best_of(q)
            if best and best[1] >= bar:
                if best[0] in q.expect:
                    right += 1
                else:
                    wrong += 1
        bad = sum(1 for q in una if (b := best_of(q)) and b[1] >= bar)
        mark = "  <- current default" if abs(bar - current) < 1e-9 else ""
        print(f"  {bar:>5.2f} {_pct(right, len(ans)):>12} {_pct(wrong, len(ans)):>8} {_pct(bad, len(una)):>18}{mark}")
    top = [best_of(q) for q in ans]
    right_sims = [b[1] for q, b in zip(ans, top, strict=True) if b and b[0] in q.expect]
    una_sims = [b[1] for q in una if (b := best_of(q))]
    if right_sims and una_sims:
        print(
            f"  best similarity: answerable with the right article first, median {statistics.median(right_sims):.3f}; "
            f"unanswerable median {statistics.median(una_sims):.3f}, max {max(una_sims):.3f}"
        )
    for lang in sorted({q.language for q in questions}):
        mine = [q for q in ans if q.language == lang]
        right_here = sum(1 for q in mine if (b := best_of(q)) and b[1] >= current and b[0] in q.expect)
        given = sum(1 for q in una if q.language == lang and (b := best_of(q)) and b[1] >= current)
        unanswerable = sum(1 for q in una if q.language == lang)
        print(
            f"  {lang} at {current:g}: right {right_here}/{len(mine)}, "
            f"unanswerable given an article {given}/{unanswerable}"
        )
    for lang in sorted({q.language for q in questions}):
        sims = [f"{b[1]:.2f}" for q in una if q.language == lang and (b := best_of(q))]
        print(f"  unanswerable {lang}: best similarities {', '.join(sims)}")


# -- main ----------------------------------------------------------------------------------


def pick(questions: Sequence[Question], limit: int | None) -> list[Question]:
    if not limit or limit >= len(questions):
        return list(questions)
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    parser.add_argument("--limit", type=int, default=None, help="ask N questions, spread over the file")
    parser.add_argument("--quick", action="store_true", help="--limit 40")
    parser.add_argument(
        "--runs",
        choices=("both", "on", "off", "none"),
        default="both",
        help="guard on, off, both, or none (only the source bar sweeps: no model answers, a minute)",
    )
    parser.add_argument(
        "--temperature", default="0", help="HELPLINE_LLM_TEMPERATURE (default 0: both runs get the same answers)"
    )
    parser.add_argument(
        "--max-tokens",
        default=None,
        help="HELPLINE_LLM_MAX_TOKENS (default: the app's own, by provider: 320 for the bundled model)",
    )
    parser.add_argument("--save", type=Path, default=None, help="write every answer and verdict here (JSON)")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="a --save file of an earlier run of the same questions (another version of Helpline, say): its "
        "answers are judged again with this version's checks and reported before this run's",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="HELPLINE_LLM_LOCAL_MODEL: the bundled model to run (default: the app's default, smollm2-135m)",
    )
    parser.add_argument(
        "--languages",
        default=None,
        help="HELPLINE_LLM_LANGUAGES: the languages the model answers with the guard on (default: the model's own)",
    )
    args = parser.parse_args(argv)
    install_signal_handlers()
    # The server is ready once the model has loaded and evaluated its system prompt: on a busy
    # 2-core machine that can take longer than the other benchmarks' minute.
    _common.READY_TIMEOUT_S = max(_common.READY_TIMEOUT_S, 300.0)
    questions = pick(load_questions(args.questions), 40 if args.quick and not args.limit else args.limit)
    settings = {
        "HELPLINE_LLM_PROVIDER": "local",
        "HELPLINE_LLM_TEMPERATURE": args.temperature,
        "HELPLINE_EMBEDDING_PROVIDER": "local",
        "HELPLINE_DEMO_DATA": "true",
        # The guard is measured, not moderation (which could only turn an answer into a refusal).
        "HELPLINE_MODERATION_PROVIDER": "off",
        "HELPLINE_LIMITS_RATE_PER_MINUTE": HUGE,
        "HELPLINE_LIMITS_RATE_PER_HOUR": HUGE,
        "HELPLINE_LIMITS_RATE_PER_DAY": HUGE,
        "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
        # One login per run: a slow model's run outlasts the default 15-minute access token.
        "HELPLINE_AUTH_ACCESS_TOKEN_MINUTES": "1440",
    }
    if args.max_tokens:
        settings["HELPLINE_LLM_MAX_TOKENS"] = args.max_tokens
    if args.model:
        settings["HELPLINE_LLM_LOCAL_MODEL"] = args.model
    if args.languages:
        settings["HELPLINE_LLM_LANGUAGES"] = args.languages
    from helpline.core.config import GuardSettings, LLMSettings

    current_bar = GuardSettings().source_min_similarity
    current_relevance = GuardSettings().source_min_relevance
    runs = {"both": ("on", "off"), "on": ("on",), "off": ("off",), "none": ()}[args.runs]
    data_dir = Path(tempfile.mkdtemp(prefix="helpline-guard-"))
    results: dict[str, list[Answer]] = {}
    retrieved: dict[str, Retrieved] = {}
    model = LLMSettings(provider="local", **({"local_model": args.model} if args.model else {}))
    print(
        f"{len(questions)} questions ({dict(Counter(q.kind for q in questions))}), runs: guard {', '.join(runs)}, "
        f"model {model.local_model}, max_tokens {args.max_tokens or model.answer_tokens}"
    )
    try:
        if not runs:
            # Only the database with the demo data is needed: no model to load.
            env = {**settings, "HELPLINE_LLM_PROVIDER": "fake"}
            with helpline_server("Helpline (retrieval only)", env, data_dir=data_dir) as server:
                retrieved = asyncio.run(retrieve_all(server, questions))
        for run in runs:
            label = f"Helpline, guard {run}, local model {model.local_model}"
            env = {**settings, "HELPLINE_GUARD_ENABLED": "true" if run == "on" else "false"}
            with helpline_server(label, env, data_dir=data_dir) as server:
                results[run] = ask_all(server, questions, f"guard-{run}@example.com", f"guard {run}")
                if not retrieved:
                    retrieved = asyncio.run(retrieve_all(server, questions))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    verdicts = {run: judge(questions, answers, retrieved) for run, answers in results.items()}
    if args.save:
        dump: dict[str, Any] = {
            run: [
                {
                    **asdict(v.a),
                    "kind": v.q.kind,
                    "language": v.q.language,
                    "question": v.q.question,
                    "correct": v.correct,
                    "honest": v.honest,
                    "unsupported_kb": [asdict(f) for f in v.unsupported_kb],
                    "unsupported_retrieved": [asdict(f) for f in v.unsupported_retrieved],
                    "best": retrieved[v.q.id].best,
                }
                for v in vs
            ]
            for run, vs in verdicts.items()
        }
        args.save.write_text(json.dumps(dump, ensure_ascii=False, indent=1))
        print(f"\nanswers written to {args.save}")
    if args.compare:
        for run, answers in load_answers(args.compare, questions).items():
            again = judge(questions, answers, retrieved)
            report_run(f"{args.compare.name} (judged again): guard {run}", again)
            report_names(f"{args.compare.name}, guard {run}", again)
    for run, vs in verdicts.items():
        report_run(f"guard {run}", vs)
        report_names(f"guard {run}", vs)
    if "off" in verdicts:
        report_languages(verdicts["off"])
    if "on" in verdicts and "off" in verdicts:
        report_pairs(verdicts["on"], verdicts["off"])
    report_sweep(questions, retrieved, current_bar)
    report_sweep(questions, retrieved, current_relevance, relevance=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
