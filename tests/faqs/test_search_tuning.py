"""Search tuning that lives outside the SQL text: HNSW's candidate list on every connection."""

from __future__ import annotations

from sqlalchemy import text

from helpline.core.db import HNSW_EF_SEARCH
from helpline.core.runtime import Runtime


async def test_every_connection_searches_hnsw_with_ef_search_100(runtime: Runtime) -> None:
    async with runtime.sessionmaker() as session:
        # Loading pgvector (a vector cast) must keep the value set at connect time.
        await session.execute(text("SELECT CAST('[1,2,3]' AS vector) <=> CAST('[1,2,4]' AS vector)"))
        assert await session.scalar(text("SHOW hnsw.ef_search")) == str(HNSW_EF_SEARCH) == "100"
