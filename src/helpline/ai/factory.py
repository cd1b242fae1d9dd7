"""The one place that turns settings into the language model, the moderator and the embedder."""

from __future__ import annotations

from urllib.parse import urlsplit

from helpline.ai.base import Embedder, LLMProvider, Moderator
from helpline.core.config import Settings, SettingsError


def create_provider(settings: Settings) -> LLMProvider:
    """The chat model chosen by ``HELPLINE_LLM_PROVIDER`` (``auto``: an OpenAI-compatible server
    when a key or base URL is set, else the bundled local model). Nothing is loaded or called
    here: the local model loads on first use, or when /health/ready probes it."""
    llm = settings.llm
    provider = llm.resolved_provider
    if provider == "fake":
        from helpline.ai.providers.fake import FakeProvider

        return FakeProvider()
    if provider == "openai":
        from helpline.ai.providers.openai import OpenAIProvider

        return OpenAIProvider(
            model=llm.model,
            api_key=llm.api_key,
            base_url=llm.base_url,
            timeout=llm.timeout_seconds,
            max_retries=llm.max_retries,
            context_window=llm.context_window,
        )
    from helpline.ai.local_models import BUNDLED_MODELS
    from helpline.ai.prompts import system_prompt
    from helpline.ai.providers.local import LocalProvider

    # The system prompt of each language the model answers in opens every one of its prompts
    # (chat.answer.build_messages): evaluated once, then reused by every answer.
    languages = llm.languages or BUNDLED_MODELS[llm.local_model].languages
    return LocalProvider(
        model=llm.local_model,
        prefixes=[system_prompt(language) for language in languages],
        model_path=llm.local_model_path,
        context_tokens=llm.local_context_tokens,
        threads=llm.local_threads,
        repeat_penalty=llm.local_repeat_penalty,
    )


def _talks_to_openai(settings: Settings) -> bool:
    """An OpenAI key aimed at OpenAI itself: self-hosted compatible servers have no moderation API."""
    base = settings.llm.base_url
    return bool(settings.llm.api_key) and (base is None or urlsplit(base).hostname == "api.openai.com")


def create_moderator(settings: Settings) -> Moderator:
    """The moderator chosen by ``HELPLINE_MODERATION_PROVIDER`` (``auto``: OpenAI's endpoint when
    an OpenAI key is set, else the local classifier)."""
    from helpline.ai.moderation import LocalModerator, NoModeration, OpenAIModerator

    mod = settings.moderation
    choice = mod.provider
    if choice == "auto":
        choice = "openai" if _talks_to_openai(settings) else "local"
    if choice == "off":
        return NoModeration()
    local = LocalModerator(threshold=mod.threshold)
    if choice == "local":
        return local
    return OpenAIModerator(
        api_key=settings.llm.api_key,
        base_url=settings.llm.base_url,
        timeout=min(settings.llm.timeout_seconds, 10.0),
        fallback=local,
    )


def create_embedder(settings: Settings) -> Embedder:
    """The embedder chosen by ``HELPLINE_EMBEDDING_PROVIDER`` (``auto``: OpenAI's when an embedding
    key or base URL is set or the chat model is OpenAI itself, else the bundled MiniLM, or the bundled
    multilingual-e5-small when ``HELPLINE_EMBEDDING_MODEL`` names it). Nothing is
    loaded or called here: the local model loads on first use or in its ``warm_up()``.

    Raises SettingsError when the model cannot make vectors of ``HELPLINE_EMBEDDING_DIMENSION``."""
    emb = settings.embedding
    provider = emb.resolved_provider(settings.llm)
    if provider == "fake":
        from helpline.ai.embeddings.fake import FakeEmbedder

        return FakeEmbedder(emb.dimension)
    if provider == "openai":
        from helpline.ai.embeddings import openai as remote

        base_url, api_key = emb.endpoint(settings.llm)
        return remote.OpenAIEmbedder(
            dimension=emb.dimension,
            model=emb.model or remote.DEFAULT_MODEL,
            api_key=api_key,
            base_url=base_url,
            timeout=emb.timeout_seconds,
            max_retries=emb.max_retries,
            batch_size=emb.batch_size or remote.DEFAULT_BATCH_SIZE,
        )
    from helpline.ai.embeddings import e5, local

    if emb.model is not None and emb.model.lower() in e5.MODEL_ALIASES:
        return e5.E5Embedder(
            dimension=emb.dimension,
            batch_size=emb.batch_size or e5.DEFAULT_BATCH_SIZE,
            threads=emb.local_threads,
        )
    if emb.model is not None and emb.model.lower() not in local.MODEL_ALIASES:
        raise SettingsError(
            f"invalid configuration: HELPLINE_EMBEDDING_MODEL is {emb.model!r}, but the local embedder runs only "
            f"the bundled {local.MODEL} (default) or {e5.MODEL} (multilingual-e5-small); leave it empty, "
            "or set HELPLINE_EMBEDDING_PROVIDER=openai for a server"
        )
    return local.LocalEmbedder(
        dimension=emb.dimension,
        batch_size=emb.batch_size or local.DEFAULT_BATCH_SIZE,
        threads=emb.local_threads,
    )
