"""The in-process one-time store's bounds (the contract every store keeps: test_contracts.py)."""

from __future__ import annotations

import asyncio

from helpline.platform.onetime import MemoryOneTimeStore


def test_the_in_process_store_forgets_expired_codes_when_full() -> None:
    now = [0.0]
    store = MemoryOneTimeStore(max_entries=3, clock=lambda: now[0])

    async def run() -> None:
        await store.put("a", "1", 10)
        await store.put("b", "2", 100)
        now[0] = 50  # "a" has expired
        await store.put("c", "3", 100)
        await store.put("d", "4", 100)
        assert set(store._local) == {"b", "c", "d"}
        await store.put("e", "5", 100)  # full of live codes: the oldest goes
        assert set(store._local) == {"c", "d", "e"}
        assert await store.take("e") == "5"

    asyncio.run(run())
