"""FAQ embedding as a job: an edit the embedder could not embed queues faq_reindex, which embeds
what is missing once the embedder is back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import asyncpg
import httpx

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.core.runtime import Runtime
from helpline.faqs.backends import REINDEX_DELAY_SECONDS
from helpline.jobs.functions import FAQ_REINDEX_KEY, JobContext, faq_reindex
from tests.jobs.test_jobs_api import JOBS, admin_auth


class FlakyEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        if self.down:
            raise EmbeddingError("the embedder is down")
        return await super().embed(texts, input_type=input_type)


async def test_an_faq_saved_while_the_embedder_is_down_is_embedded_by_the_job(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection, backend: str
) -> None:
    embedder = FlakyEmbedder()
    runtime.embedder = embedder
    auth = await admin_auth(client, db)
    before = time.time()
    r = await client.post(
        "/api/v1/faqs",
        headers=auth,
        json={"question": "Where is my parcel?", "answer": "Track it.", "status": "published"},
    )
    assert r.status_code == 201, r.text
    faq_id = r.json()["id"]
    assert await db.fetchval("SELECT question_embedding IS NULL FROM faqs WHERE id = $1", faq_id)

    # Queued once (its key), for after the edit's commit.
    r = await client.get(f"{JOBS}/{FAQ_REINDEX_KEY}", headers=auth)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "queued"
    assert job["function"] == "faq_reindex"
    assert datetime.fromisoformat(job["scheduled_for"]).timestamp() >= before + REINDEX_DELAY_SECONDS - 1

    # When it runs (here by hand rather than waiting the minute), the embedder is back.
    embedder.down = False
    report = await faq_reindex(cast(JobContext, {"runtime": runtime}))
    assert report["faqs_updated"] == 1
    assert not await db.fetchval("SELECT question_embedding IS NULL FROM faqs WHERE id = $1", faq_id)
