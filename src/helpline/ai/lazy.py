"""A local model loaded once, on first use: the one mechanism of the embedders (e5, MiniLM) and the
local chat model (llama-cpp)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class LoadOnce(Generic[_T]):
    """``load()`` run by the first caller (on whichever thread asks: a lock keeps two from loading
    at once, and the others wait for that one), its value kept until ``drop()``. Once ``refuse()``
    is called, a caller that finds nothing loaded gets ``closed()``'s error instead of a new load.
    A load that raises keeps nothing, so the next caller tries again."""

    def __init__(self, load: Callable[[], _T], closed: Callable[[], Exception]) -> None:
        self._load = load
        self._closed_error = closed
        self._lock = threading.Lock()
        self._value: _T | None = None
        self._closed = False

    def __call__(self) -> _T:
        with self._lock:
            if self._value is not None:
                return self._value
            if self._closed:
                raise self._closed_error()
            self._value = self._load()
            return self._value

    @property
    def loaded(self) -> _T | None:
        return self._value

    def refuse(self) -> None:
        """No more loads. Not under the lock: a load in progress on a worker thread finishes, and
        the caller (shutting down) does not wait for it here."""
        self._closed = True

    def drop(self, release: Callable[[_T], None] | None = None) -> None:
        """Forget the loaded value (after ``release`` of it), once a load in progress is done."""
        with self._lock:
            if self._value is not None and release is not None:
                release(self._value)
            self._value = None
