"""Garbage-collector pauses: each collection is observed in helpline_gc_pause_seconds, and
settle() freezes what start-up built so that later full collections skip it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from helpline.core import gcpause


def _pauses(generation: int) -> float:
    return REGISTRY.get_sample_value("helpline_gc_pause_seconds_count", {"generation": str(generation)}) or 0.0


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on collecting as before


def test_each_collection_is_observed_once() -> None:
    gcpause.instrument()
    gcpause.instrument()  # twice: still one callback
    assert gc.callbacks.count(gcpause._on_collection) == 1
    before = _pauses(2), _pauses(0)
    gc.collect()
    gc.collect(0)
    # At least: the interpreter may run a collection of its own in between.
    assert _pauses(2) >= before[0] + 1
    assert _pauses(0) >= before[1] + 1
    assert (REGISTRY.get_sample_value("helpline_gc_pause_seconds_sum", {"generation": "2"}) or 0.0) > 0


def test_settle_freezes_what_survived_and_keeps_later_garbage_collectable(unfrozen: None) -> None:
    kept = [[i] for i in range(1000)]
    frozen = gcpause.settle()
    assert frozen >= 1000
    assert gc.get_freeze_count() > 0  # (objects of it freed by reference counting since leave it)
    assert gc.is_tracked(kept[0])
    # A cycle made after start-up is still found and freed by a full collection.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
