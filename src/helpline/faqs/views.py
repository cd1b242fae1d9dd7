"""View counts without a write per page view: views are counted in memory and added to
``faqs.view_count`` in one UPDATE every few seconds by whichever request finds the batch due.
Each process (or instance) flushes its own counts; they add up. A crash loses at most the views
of the last interval, an acceptable price for a popularity figure."""

from __future__ import annotations

import time
from collections import Counter

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.core.db import session_scope

log = structlog.get_logger(__name__)

# Raw SQL on purpose: an ORM update would also touch updated_at, and a view is not an edit.
_FLUSH = text(
    "UPDATE faqs SET view_count = faqs.view_count + v.n "
    "FROM unnest(CAST(:ids AS int[]), CAST(:ns AS int[])) AS v(id, n) WHERE faqs.id = v.id"
)


class ViewCounter:
    def __init__(self, flush_interval_seconds: float = 5.0) -> None:
        self.flush_interval = flush_interval_seconds
        self._pending: Counter[int] = Counter()
        self._last_flush = time.monotonic()
        self._flushing = False

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    def add(self, faq_id: int) -> bool:
        """Count one view; True when the batch is due to be written."""
        self._pending[faq_id] += 1
        return not self._flushing and time.monotonic() - self._last_flush >= self.flush_interval

    async def flush(self, maker: async_sessionmaker[AsyncSession]) -> int:
        """Write the pending views in one short transaction of its own; returns how many."""
        if self._flushing or not self._pending:
            return 0
        self._flushing = True
        counts, self._pending = self._pending, Counter()
        self._last_flush = time.monotonic()
        ids = sorted(counts)  # one lock order for every writer
        try:
            async for session in session_scope(maker):
                await session.execute(_FLUSH, {"ids": ids, "ns": [counts[i] for i in ids]})
        except Exception as exc:
            # Keep them for the next flush rather than lose them.
            self._pending.update(counts)
            log.warning("faq_views.flush_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return 0
        finally:
            self._flushing = False
        return sum(counts.values())
