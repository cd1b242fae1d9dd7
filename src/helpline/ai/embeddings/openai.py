"""Embeddings from OpenAI or any server speaking its ``/v1/embeddings`` protocol (Azure-style
gateways, vLLM, Ollama, llama.cpp's server, LiteLLM, ...), through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import openai
from openai import AsyncOpenAI
from openai.types import CreateEmbeddingResponse

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.core.config import SettingsError

DEFAULT_MODEL = "text-embedding-3-small"
DEFAULT_BATCH_SIZE = 128  # OpenAI takes up to 2048 inputs and 300k tokens per request
# Widths OpenAI's models produce. text-embedding-3 models are trained to be shortened: they return
# fewer dimensions on request (``dimensions=``); ada-002 always returns all of its own.
_NATIVE_WIDTH = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
_SHORTENABLE_PREFIX = "text-embedding-3"


class OpenAIEmbedder:
    name = "openai"

    def __init__(
        self,
        *,
        dimension: int,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.dimension = dimension
        self.batch_size = batch_size
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = timeout
        bare = model.rsplit("/", 1)[-1]
        # Only models known to honour `dimensions` get it: other compatible servers may reject the
        # parameter, and their vectors' width is checked against the setting instead.
        self._shortenable = bare.startswith(_SHORTENABLE_PREFIX)
        native = _NATIVE_WIDTH.get(bare)
        if native is not None and (dimension > native or (dimension != native and not self._shortenable)):
            allowed = f"at most {native}" if self._shortenable else f"exactly {native}"
            raise SettingsError(
                f"invalid configuration: HELPLINE_EMBEDDING_DIMENSION is {dimension}, but {model} makes vectors "
                f"of {allowed} dimensions; change HELPLINE_EMBEDDING_DIMENSION or HELPLINE_EMBEDDING_MODEL"
            )
        self._missing_key = urlsplit(self.base_url).hostname == "api.openai.com" and not api_key
        # Retries are the SDK's: 408/409/429/5xx, connection errors and timeouts are retried
        # max_retries times with exponential backoff and jitter, honouring Retry-After.
        self._client = AsyncOpenAI(
            # Explicit, so the SDK never picks up an unrelated OPENAI_API_KEY from the environment;
            # self-hosted servers usually need no key, but the SDK insists on one.
            api_key=api_key or "unused",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        # input_type (query or document) makes no difference to this model.
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if not texts:
            return []
        if self._missing_key:
            raise EmbeddingError(
                "HELPLINE_EMBEDDING_API_KEY (or HELPLINE_LLM_API_KEY) is not set: OpenAI needs an API key; "
                "or set HELPLINE_EMBEDDING_PROVIDER=local for the bundled model"
            )
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await self._client.embeddings.create(
                    model=self.model,
                    input=batch,
                    dimensions=self.dimension if self._shortenable else openai.omit,
                )
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
            except ValueError as exc:  # the SDK's "No embedding data received", undecodable base64
                raise EmbeddingError(f"{self._where()} sent a malformed embeddings response: {exc}") from exc
            vectors += self._unit_vectors(response, len(batch))
        return vectors

    async def aclose(self) -> None:
        await self._client.close()

    def _unit_vectors(self, response: CreateEmbeddingResponse, expected: int) -> list[list[float]]:
        where = self._where()
        try:
            items = sorted(response.data, key=lambda item: item.index)
            indexes = [item.index for item in items]
            matrix = np.array([item.embedding for item in items], dtype=np.float64)
        except (AttributeError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"{where} sent a malformed embeddings response: {exc}") from exc
        if indexes != list(range(expected)):
            raise EmbeddingError(f"{where} returned {len(indexes)} embeddings for {expected} texts")
        if matrix.ndim != 2 or matrix.shape[1] != self.dimension:
            width = matrix.shape[1] if matrix.ndim == 2 else "ragged"
            raise EmbeddingError(
                f"{where} returned {width}-dimensional embeddings from {self.model!r}, but "
                f"HELPLINE_EMBEDDING_DIMENSION is {self.dimension}; set it to the model's width"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise EmbeddingError(f"{where} returned an empty (zero or non-finite) embedding")
        unit: list[list[float]] = (matrix / norms).tolist()
        return unit

    def _where(self) -> str:
        return f"the embeddings server at {self.base_url}"

    def _error(self, exc: openai.OpenAIError) -> EmbeddingError:
        """An EmbeddingError whose message says what happened and what to do about it."""
        where = self._where()
        if isinstance(exc, openai.APITimeoutError):
            return EmbeddingError(
                f"{where} did not answer within {self.timeout:g} s; raise HELPLINE_EMBEDDING_TIMEOUT_SECONDS "
                "or lower HELPLINE_EMBEDDING_BATCH_SIZE"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            detail = str(cause) or type(cause).__name__
            return EmbeddingError(
                f"cannot reach {where}: {detail}; check HELPLINE_EMBEDDING_BASE_URL "
                "(default: HELPLINE_LLM_BASE_URL) and the network"
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        return EmbeddingError(f"calling {where} failed: {exc}")

    def _status_error(self, exc: openai.APIStatusError) -> EmbeddingError:
        status, where = exc.status_code, self._where()
        detail = _message(exc.body)
        said = f": {detail}" if detail else ""
        if status == 401:
            return EmbeddingError(
                f"{where} rejected the API key (401){said}; check HELPLINE_EMBEDDING_API_KEY "
                "(default: HELPLINE_LLM_API_KEY)"
            )
        if status == 403:
            return EmbeddingError(f"{where} refused access (403){said}; check the key's permissions")
        if status == 404:
            return EmbeddingError(
                f"{where} has no embedding model {self.model!r} or no embeddings endpoint (404){said}; "
                "check HELPLINE_EMBEDDING_MODEL and HELPLINE_EMBEDDING_BASE_URL (it usually ends in /v1)"
            )
        if status == 429:
            if exc.code == "insufficient_quota":
                return EmbeddingError(f"{where} says the account is out of quota (429){said}")
            return EmbeddingError(f"{where} is rate limiting us (429) and retries did not help{said}")
        if status >= 500:
            return EmbeddingError(f"{where} failed ({status}) and retries did not help{said}")
        hint = ""
        if "dimension" in detail.lower():
            hint = f"; {self.model!r} may not support HELPLINE_EMBEDDING_DIMENSION={self.dimension}"
        elif "token" in detail.lower() or "length" in detail.lower():
            hint = "; a text is longer than the model accepts"
        return EmbeddingError(f"{where} rejected the request ({status}){said}{hint}")


def _message(body: object) -> str:
    """The server's own explanation: the SDK hands over the ``error`` object, or the whole body."""
    if isinstance(body, dict):
        inner: Any = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str):
            return message
    return ""
