"""Garbage-collector pauses: measured, and kept short after start-up.

CPython's cyclic collector stops the event loop while it runs, and a full (generation 2)
collection walks every tracked object: a started Helpline holds 200,000+ of them (FastAPI,
SQLAlchemy, Pydantic, numpy, the models' wrappers), which it keeps for its whole life, so each
full collection is a pause of every request, socket and stream of the process (tens of ms on an
idle core, seconds on a loaded 2-core machine: bench/README.md, bench_ws_fanout.py). ``settle()``,
called once the app has started, collects once and then freezes what survived (``gc.freeze``:
those objects move to a permanent generation that later collections skip), so later collections
walk only what the process allocated since. ``instrument()`` records each collection's pause in
``helpline_gc_pause_seconds`` (by generation) for /metrics."""

from __future__ import annotations

import gc
import time
from typing import Any

import structlog

from helpline.core.metrics import GC_PAUSE

log = structlog.get_logger(__name__)

_began: list[float] = [0.0]


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _began[0] = time.perf_counter()
    else:
        GC_PAUSE.labels(str(info["generation"])).observe(time.perf_counter() - _began[0])


def instrument() -> None:
    """Observe every collection's pause (once per process)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def settle() -> int:
    """Collect the start-up's garbage, then freeze what is left; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("gc.frozen", objects=frozen)
    return frozen
