"""ai.lazy.LoadOnce: the local models' one loading mechanism."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpline.ai.base import EmbeddingError
from helpline.ai.lazy import LoadOnce


def test_the_model_is_loaded_once_whichever_threads_ask() -> None:
    loads: list[object] = []
    started = threading.Event()

    def load() -> object:
        started.wait(5)  # every caller is waiting before the first load ends
        loads.append(object())
        return loads[-1]

    model = LoadOnce(load, lambda: EmbeddingError("closed"))
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(model) for _ in range(4)]
        started.set()
        got = {id(f.result(5)) for f in futures}
    assert len(loads) == 1
    assert got == {id(loads[0])}
    assert model.loaded is loads[0]


def test_a_failed_load_is_tried_again_and_a_closed_one_refused() -> None:
    attempts: list[int] = []

    def load() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise EmbeddingError("not yet")
        return "model"

    released: list[str] = []
    model = LoadOnce(load, lambda: EmbeddingError("the local embedder has been shut down"))
    with pytest.raises(EmbeddingError, match="not yet"):
        model()
    assert model() == "model"
    model.refuse()
    assert model() == "model"  # what is loaded stays usable until dropped
    model.drop(released.append)
    assert released == ["model"]
    with pytest.raises(EmbeddingError, match="shut down"):
        model()
