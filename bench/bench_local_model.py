"""The bundled local models side by side, and Helpline's time to first token against llama-cpp-python
called directly with the same prompt.

1. Each bundled model that is installed (``helpline.ai.local_models``), called directly: what it
   weighs installed, load time, and for grounded English questions of the demo knowledge base (the
   system prompt, the question's retrieved articles, the question: the prompt Helpline renders) the
   time to first token with nothing cached ("cold") and with the system prompt kept from the
   previous question ("warm", as in a running Helpline), prompt tokens and how many were evaluated,
   decode tokens/s.
2. The default model (or ``--model``) through Helpline against direct, for the same prompts:
   a. in-process: ``LocalProvider.stream`` against ``Llama.create_chat_completion`` on a second
      copy of the model, each warm with the previous question;
   b. over HTTP: ``POST /api/v1/chat/stream`` on a real ``helpline serve`` (demo data, guard on,
      temperature 0) from the request to the first token event, against the direct call on the
      prompt Helpline builds (its retrieval run in-process on the server's database, then
      ``build_context`` with the model's tokenizer). Identical answers show the prompts were the
      same. The gap is split into its parts: the context building (token counting) is timed
      in-process; retrieval and the rest is what remains.

Questions and direct calls alternate, so a busy moment of a shared machine hits both sides alike.
Run: ``uv run python bench/bench_local_model.py`` (about 5 minutes on 2 cores); ``--quick`` asks
fewer questions; ``--skip-http`` leaves out 2b.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Run as a script, this file's folder is on sys.path, not the checkout that holds "bench".
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BenchError, helpline_server, install_signal_handlers, register_and_login
from bench.bench_guard import PASSWORD, Question, load_questions, retrieve_all
from helpline.ai.base import ChatMessage, TextDelta
from helpline.ai.context import build_context
from helpline.ai.local_models import BUNDLED_MODELS, DEFAULT_MODEL, BundledModel
from helpline.ai.prompts import Article, system_prompt
from helpline.ai.providers.local import LocalProvider
from helpline.ai.tokens import LlamaTokenCounter
from helpline.core.config import LLMSettings, RetrievalSettings

CONTEXT = 2048  # HELPLINE_LLM_LOCAL_CONTEXT_TOKENS's default
HUGE = "100000000"


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def package_bytes(requirement: str) -> int:
    """Installed size of a package and the packages it requires (the chunk packages for Gemma)."""
    name = requirement.split("==")[0]
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return 0
    total = sum(f.size or 0 for f in dist.files or [])
    for req in dist.requires or []:
        total += package_bytes(req.split(";")[0].split(" ")[0].strip())
    return total


def installed(spec: BundledModel) -> Path | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    path = spec.locate()
    return path if path is not None and path.is_file() else None


class Direct:
    """llama_cpp.Llama on the model's GGUF with its chat format, set up as Helpline's provider sets
    it up (same template, stop tokens, context size, repeat penalty), without Helpline around it."""

    def __init__(self, spec: BundledModel, path: Path) -> None:
        llama_cpp = importlib.import_module("llama_cpp")
        chat_format = importlib.import_module("llama_cpp.llama_chat_format")
        t0 = time.perf_counter()
        self.llama: Any = llama_cpp.Llama(
            model_path=str(path), n_ctx=CONTEXT, swa_full=spec.swa_full or None, verbose=False
        )
        self.load_s = time.perf_counter() - t0
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        stops = [eos]
        if spec.end_of_turn:
            stops += self.llama.tokenize(spec.end_of_turn.encode(), add_bos=False, special=True)
        template = (
            spec.chat_template or self.llama.metadata.get("tokenizer.chat_template") or chat_format.CHATML_CHAT_TEMPLATE
        )
        self.formatter = chat_format.Jinja2ChatFormatter(
            template=template, eos_token=self._text(eos), bos_token=self._text(bos), stop_token_ids=stops
        )
        self.llama.chat_handler = self.formatter.to_chat_handler()
        self.counter = LlamaTokenCounter(lambda: self.llama, self.render)

    def _text(self, token: int) -> str:
        return "" if token < 0 else bytes(self.llama.detokenize([token], special=True)).decode(errors="replace")

    def render(self, messages: Sequence[ChatMessage]) -> str:
        prompt: str = self.formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
        return prompt

    def evaluated(self) -> int:
        llama_cpp = importlib.import_module("llama_cpp")
        return int(llama_cpp.llama_perf_context(self.llama.ctx).n_p_eval)

    def run(self, messages: Sequence[ChatMessage], max_tokens: int, *, cold: bool = False) -> Run:
        if cold:
            self.llama.reset()  # forget the previous prompt: nothing is reused
        before = self.evaluated()
        t0 = time.perf_counter()
        first = last = None
        parts: list[str] = []
        for chunk in self.llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            stream=True,
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=LLMSettings().local_repeat_penalty,
        ):
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                last = time.perf_counter() - t0
                first = last if first is None else first
                parts.append(text)
        total = time.perf_counter() - t0
        answer = "".join(parts)
        return Run(
            first or total,
            total,
            last or total,
            self.counter.count(answer),
            answer,
            self.counter.count_messages(messages),
            self.evaluated() - before,
        )

    def close(self) -> None:
        self.llama.close()


@dataclass(frozen=True)
class Run:
    first_s: float
    total_s: float
    last_s: float
    tokens: int
    answer: str
    prompt_tokens: int = 0
    evaluated: int = 0

    @property
    def decode_per_s(self) -> float:
        span = self.last_s - self.first_s
        return (self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def prompts_for(
    questions: Sequence[Question], retrieved: dict[str, list[Article]], counter: LlamaTokenCounter, max_tokens: int
) -> list[list[ChatMessage]]:
    """The messages Helpline's chat service builds for each question (chat.answer.build_messages)."""
    share = RetrievalSettings().knowledge_share
    max_answer = min(max_tokens, CONTEXT // 2)
    out = []
    for q in questions:
        built = build_context(
            system_prompt=system_prompt("en"),
            history=[],
            current=q.question,
            counter=counter,
            context_window=CONTEXT,
            max_answer_tokens=max_answer,
            knowledge=retrieved[q.id],
            knowledge_budget=int((CONTEXT - max_answer) * share),
            language="en",
        )
        out.append(built.messages)
    return out


def demo_articles(questions: Sequence[Question]) -> dict[str, list[Article]]:
    """The question's own retrieved articles are found over HTTP's database in part 2b; part 1 and
    2a use the demo FAQs the question expects and its two neighbours in the file, the same shape."""
    from bench.bench_guard import demo_faqs

    faqs = demo_faqs()
    index = {q: i for i, (q, _) in enumerate(faqs)}
    out = {}
    for q in questions:
        i = index[q.expect[0]]
        out[q.id] = [Article(t, b) for t, b in (faqs[i], faqs[(i + 1) % len(faqs)], faqs[(i + 2) % len(faqs)])]
    return out


# -- 1. the models side by side -------------------------------------------------------------


def compare_models(questions: Sequence[Question], max_tokens: int) -> None:
    print("\n1. The bundled models, called directly (grounded English prompts, temperature 0)")
    articles = demo_articles(questions)
    models: list[tuple[BundledModel, Path, Direct, list[list[ChatMessage]]]] = []
    for spec in BUNDLED_MODELS.values():
        path = installed(spec)
        if path is None:
            print(f"  {spec.key}: not installed ({spec.install_hint})")
            continue
        direct = Direct(spec, path)
        models.append((spec, path, direct, prompts_for(questions, articles, direct.counter, max_tokens)))
    cold: dict[str, list[Run]] = {spec.key: [] for spec, *_ in models}
    warm: dict[str, list[Run]] = {spec.key: [] for spec, *_ in models}
    try:
        # Model after model for each question, so a busy moment of the machine hits them alike:
        # a prompt with nothing cached, then the next question's, which finds the system prompt
        # kept from it, as in a running server.
        for i in range(len(questions) - 1):
            for spec, _, direct, prompts in models:
                cold[spec.key].append(direct.run(prompts[i], max_tokens, cold=True))
                warm[spec.key].append(direct.run(prompts[i + 1], max_tokens))
    finally:
        for *_, direct, _ in models:
            direct.close()
    for spec, path, direct, _ in models:
        c, w = cold[spec.key], warm[spec.key]
        size = package_bytes(spec.requirement)
        extra = f" + {mb(path.stat().st_size)} assembled file" if not path.is_relative_to(sys.prefix) else ""
        print(f"  {spec.key} ({spec.requirement}): installed {mb(size)}{extra}, GGUF {mb(path.stat().st_size)}")
        print(f"    load {direct.load_s:.2f} s; prompt tokens p50 {med([r.prompt_tokens for r in c]):.0f}")
        cold_ms, warm_ms = med([r.first_s for r in c]) * 1000, med([r.first_s for r in w]) * 1000
        print(
            f"    first token p50: cold {cold_ms:.0f} ms ({med([r.evaluated for r in c]):.0f} tokens evaluated), "
            f"warm {warm_ms:.0f} ms ({med([r.evaluated for r in w]):.0f} evaluated)"
        )
        p_rate = med([r.evaluated / r.first_s for r in c])
        decode = med([r.decode_per_s for r in c + w])
        print(
            f"    prompt evaluation p50 {p_rate:.0f} tok/s; decode p50 {decode:.1f} tok/s; "
            f"answer tokens p50 {med([r.tokens for r in c]):.0f} (max_tokens {max_tokens}), "
            f"stopped by itself {sum(r.tokens < max_tokens for r in c + w)} of {len(c + w)}"
        )
        print(f"    e.g. {questions[0].question!r} -> {' '.join(c[0].answer.split())[:160]!r}")


# -- 2. through Helpline against direct --------------------------------------------------------


async def provider_run(provider: LocalProvider, messages: Sequence[ChatMessage], max_tokens: int) -> Run:
    t0 = time.perf_counter()
    first = last = None
    parts: list[str] = []
    async for event in provider.stream(messages, max_tokens=max_tokens, temperature=0.0):
        if isinstance(event, TextDelta):
            last = time.perf_counter() - t0
            first = last if first is None else first
            parts.append(event.text)
    total = time.perf_counter() - t0
    answer = "".join(parts)
    evaluated = provider.last_prompt.evaluated if provider.last_prompt else 0
    return Run(first or total, total, last or total, provider.tokens.count(answer), answer, 0, evaluated)


def in_process(spec: BundledModel, path: Path, questions: Sequence[Question], max_tokens: int) -> None:
    print(f"\n2a. {spec.key}: LocalProvider.stream vs llama-cpp-python directly, same messages, both warm")
    articles = demo_articles(questions)
    direct = Direct(spec, path)
    provider = LocalProvider(model=spec.key, context_tokens=CONTEXT)
    try:
        prompts = prompts_for(questions, articles, direct.counter, max_tokens)
        # Token counting as the chat service does it before the model runs (build_context).
        t0 = time.perf_counter()
        prompts_for(questions, articles, provider.tokens, max_tokens)  # type: ignore[arg-type]
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        prompts_for(questions, articles, provider.tokens, max_tokens)  # type: ignore[arg-type]
        build_ms = (time.perf_counter() - t0) / len(questions) * 1000
        print(
            f"  build_context with the model's tokenizer: {build_ms:.1f} ms per prompt "
            f"(first pass, model load included: {t_first:.2f} s)"
        )
        d_runs, p_runs = [], []
        for i, messages in enumerate(prompts):
            d = direct.run(messages, max_tokens)
            p = asyncio.run(provider_run(provider, messages, max_tokens))
            if i:  # the first warms both up
                d_runs.append(d)
                p_runs.append(p)
        report_pair("provider", p_runs, d_runs)
    finally:
        direct.close()
        asyncio.run(provider.aclose())


def report_pair(label: str, helpline: Sequence[Run], direct: Sequence[Run]) -> None:
    h, d = med([r.first_s for r in helpline]) * 1000, med([r.first_s for r in direct]) * 1000
    pairs = ", ".join(f"{a.first_s * 1000:.0f}/{b.first_s * 1000:.0f}" for a, b in zip(helpline, direct, strict=True))
    print(f"  first token p50: {label} {h:.0f} ms, direct {d:.0f} ms, ratio {h / d:.2f} (pairs: {pairs})")
    print(
        f"  prompt tokens evaluated p50: {label} {med([r.evaluated for r in helpline]):.0f}, "
        f"direct {med([r.evaluated for r in direct]):.0f}; decode p50 {med([r.decode_per_s for r in helpline]):.1f} "
        f"vs {med([r.decode_per_s for r in direct]):.1f} tok/s"
    )
    same = sum(a.answer.strip() == b.answer.strip() for a, b in zip(helpline, direct, strict=True))
    print(f"  identical answers: {same} of {len(direct)}")


def http_run(client: httpx.Client, question: str) -> Run:
    first = last = None
    parts: list[str] = []
    final: dict[str, Any] | None = None
    t0 = time.perf_counter()
    with client.stream("POST", "/api/v1/chat/stream", json={"message": question, "language": "en"}) as r:
        if r.status_code != 200:
            r.read()
            raise BenchError(f"chat/stream answered {r.status_code}: {r.text[:300]}")
        kind = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("token", "response", "error"):
                data = json.loads(line.split(":", 1)[1])
                if kind == "token":
                    last = time.perf_counter() - t0
                    first = last if first is None else first
                    parts.append(str(data["content"]))
                else:
                    final = data
    total = time.perf_counter() - t0
    if final is None or final.get("status") != "sent":
        raise BenchError(f"the answer was not sent: {final}")
    # The streamed text is the model's (the final content may be the guard's stand-in article).
    return Run(first or total, total, last or total, 0, "".join(parts))


def over_http(spec: BundledModel, path: Path, questions: Sequence[Question], max_tokens: int) -> None:
    print(f"\n2b. {spec.key}: POST /chat/stream on helpline serve vs llama-cpp-python directly, same prompt")
    env = {
        "HELPLINE_LLM_PROVIDER": "local",
        "HELPLINE_LLM_LOCAL_MODEL": spec.key,
        "HELPLINE_LLM_TEMPERATURE": "0",
        "HELPLINE_LLM_MAX_TOKENS": str(max_tokens),
        "HELPLINE_EMBEDDING_PROVIDER": "local",
        "HELPLINE_DEMO_DATA": "true",
        "HELPLINE_MODERATION_PROVIDER": "off",
        "HELPLINE_LIMITS_RATE_PER_MINUTE": HUGE,
        "HELPLINE_LIMITS_RATE_PER_HOUR": HUGE,
        "HELPLINE_LIMITS_RATE_PER_DAY": HUGE,
        "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
    }
    data_dir = Path(tempfile.mkdtemp(prefix="helpline-local-model-"))
    direct = Direct(spec, path)
    min_sim = RetrievalSettings().min_similarity
    try:
        with helpline_server(f"Helpline ({spec.key})", env, data_dir=data_dir) as server:
            found = asyncio.run(retrieve_all(server, questions))
            articles = {qid: [Article(q, a) for q, a, s in hits.hits if s >= min_sim] for qid, hits in found.items()}
            prompts = prompts_for(questions, articles, direct.counter, max_tokens)
            token = register_and_login(server.base, "local-model@example.com", PASSWORD)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.base, timeout=300, trust_env=False, headers=headers) as client:
                h_runs, d_runs = [], []
                for i, (q, messages) in enumerate(zip(questions, prompts, strict=True)):
                    d = direct.run(messages, max_tokens)
                    h = http_run(client, q.question)
                    if i:
                        d_runs.append(d)
                        h_runs.append(h)
            report_pair("Helpline", h_runs, d_runs)
            articles_n = [len(a) for a in articles.values()]
            print(
                f"  articles in the prompt p50 {med(articles_n):.0f}; prompt tokens p50 "
                f"{med([r.prompt_tokens for r in d_runs]):.0f}"
            )
    finally:
        direct.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--questions", type=int, default=9, help="English questions per measurement (default 9)")
    parser.add_argument("--quick", action="store_true", help="5 questions")
    parser.add_argument("--max-tokens", type=int, default=48, help="answer tokens at most (default 48)")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(BUNDLED_MODELS), help="model for part 2")
    parser.add_argument("--skip-http", action="store_true", help="leave out 2b (no server)")
    parser.add_argument("--only", choices=("1", "2"), default=None, help="run only part 1 or part 2")
    args = parser.parse_args(argv)
    install_signal_handlers()
    n = 5 if args.quick else args.questions
    pool = [q for q in load_questions() if q.language == "en" and q.kind == "answerable" and not q.history]
    questions = [pool[int(i * len(pool) / n)] for i in range(n)]
    started = time.perf_counter()
    print(f"Local models: {n} English questions with an FAQ answer, max_tokens {args.max_tokens}")
    try:
        if args.only != "2":
            compare_models(questions, args.max_tokens)
        if args.only != "1":
            spec = BUNDLED_MODELS[args.model]
            path = installed(spec)
            if path is None:
                print(f"\n2. {spec.key} is not installed: {spec.install_hint}")
            else:
                in_process(spec, path, questions, args.max_tokens)
                if not args.skip_http:
                    over_http(spec, path, questions, args.max_tokens)
    except BenchError as exc:
        print(f"bench_local_model: {exc}", file=sys.stderr)
        return 1
    print(f"\nTotal wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
