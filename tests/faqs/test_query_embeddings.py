"""Query embeddings: cached, and made once per text however many callers ask at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.faqs.backends import FAQDeps
from helpline.faqs.embeddings import embed_queries, embed_query
from helpline.faqs.views import ViewCounter
from helpline.platform.cache import MemoryFAQCache


class GatedEmbedder(FakeEmbedder):
    """Embeds only once ``gate`` is set; records every batch it was asked for."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.batches: list[list[str]] = []
        self.fail = fail

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        self.batches.append(list(texts))
        await self.gate.wait()
        if self.fail:
            raise EmbeddingError("the embedder is down")
        return await super().embed(texts, input_type=input_type)


def deps_for(embedder: FakeEmbedder) -> FAQDeps:
    return FAQDeps(embedder=embedder, cache=MemoryFAQCache(), views=ViewCounter(), sessionmaker=None)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):  # a few turns of the loop: every waiter reaches its wait
        await asyncio.sleep(0)


async def test_concurrent_requests_for_one_text_embed_it_once() -> None:
    embedder = GatedEmbedder()
    deps = deps_for(embedder)
    callers = [asyncio.create_task(embed_query(deps, "where is my parcel")) for _ in range(3)]
    both = asyncio.create_task(embed_queries(deps, ["where is my parcel", "a refund"]))
    await settle()
    embedder.gate.set()

    vectors = await asyncio.gather(*callers)
    pair = await both

    assert embedder.batches == [["where is my parcel"], ["a refund"]]
    expected = await FakeEmbedder().embed(["where is my parcel", "a refund"])
    assert all(v == pytest.approx(expected[0]) for v in vectors)
    assert pair is not None
    assert [pair[0], pair[1]] == [pytest.approx(expected[0]), pytest.approx(expected[1])]
    assert deps.cache.inflight == {}
    assert await embed_query(deps, "where is my parcel") == vectors[0]  # from the cache now
    assert len(embedder.batches) == 2


async def test_a_caller_that_leaves_does_not_cancel_the_others_embedding() -> None:
    embedder = GatedEmbedder()
    deps = deps_for(embedder)
    leaving = asyncio.create_task(embed_query(deps, "track my parcel"))
    staying = asyncio.create_task(embed_query(deps, "track my parcel"))
    await settle()

    leaving.cancel()
    await settle()
    embedder.gate.set()

    assert await staying is not None
    assert leaving.cancelled()
    assert embedder.batches == [["track my parcel"]]


async def test_a_failed_embedding_fails_every_waiter_and_the_next_call_tries_again() -> None:
    embedder = GatedEmbedder(fail=True)
    deps = deps_for(embedder)
    callers = [asyncio.create_task(embed_query(deps, "refund please")) for _ in range(2)]
    await settle()
    embedder.gate.set()

    assert await asyncio.gather(*callers) == [None, None]  # search falls back to full text
    assert deps.cache.inflight == {}
    embedder.fail = False
    assert await embed_query(deps, "refund please") is not None
    assert embedder.batches == [["refund please"], ["refund please"]]
