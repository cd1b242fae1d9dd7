"""A deterministic embedder for tests: texts sharing words get similar vectors (hashed
bag of words), so ranking tests behave sensibly without a model."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from helpline.ai.embeddings import InputType

_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    name = "fake"

    def __init__(self, dimension: int = 384) -> None:
        self.model = "fake-bow"
        self.dimension = dimension

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        if norm == 1.0 and not any(vec):
            vec[0] = 1.0
            return vec
        return [v / norm for v in vec]

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        # input_type (query or document) makes no difference to this model.
        return [self._vector(t) for t in texts]

    async def aclose(self) -> None:
        return None
