"""Embedders (local MiniLM ONNX, local multilingual-e5-small, OpenAI-compatible, fake), chosen in
ai/factory.py.

Every ``embed()`` takes ``input_type``: ``"query"`` for what a user asks, ``"document"`` (the
default) for what is searched. Only models trained with prefixes (e5) use it; the others accept and
ignore it, so a caller may always pass it."""

from typing import Literal

InputType = Literal["query", "document"]
