"""What /metrics says about chat answers: where each came from (chat_answers_total, the direct-FAQ
answer rate) and the model's calls (ai_requests_total by outcome, tokens, response time)."""

from __future__ import annotations

import asyncpg
import httpx
from prometheus_client import REGISTRY

from helpline.core.runtime import Runtime
from tests.chat.conftest import send
from tests.chat.fakes import ScriptedProvider
from tests.chat.test_grounding import FAQ, publish


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_answers_are_counted_by_origin_and_only_model_calls_as_ai_requests(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    provider = ScriptedProvider(chunks=["Hello", " there"], name="scripted", model="scripted-1")
    runtime.llm = provider
    runtime.settings.guard.enabled = False  # the model's words as they are
    before = {origin: value("chat_answers_total", origin=origin) for origin in ("faq", "model", "failed", "moderation")}
    calls = value("ai_requests_total", provider="scripted", outcome="ok")
    errors = value("ai_requests_total", provider="scripted", outcome="error")
    completion = value("ai_tokens_used_total", provider="scripted", model="scripted-1", kind="completion")
    timed = value("ai_response_time_seconds_count", provider="scripted")

    body = (await send(client, auth, "How do I reset my password?")).json()
    assert body["model_used"] == "faq"
    assert body["content"] == FAQ["answer"]
    assert value("chat_answers_total", origin="faq") == before["faq"] + 1
    assert value("ai_requests_total", provider="scripted", outcome="ok") == calls  # no model call

    body = (await send(client, auth, "Tell me a joke about the weather")).json()
    assert body["model_used"] == "scripted-1"
    assert value("chat_answers_total", origin="model") == before["model"] + 1
    assert value("ai_requests_total", provider="scripted", outcome="ok") == calls + 1
    assert value("ai_response_time_seconds_count", provider="scripted") == timed + 1
    assert value("ai_tokens_used_total", provider="scripted", model="scripted-1", kind="completion") > completion

    runtime.llm = ScriptedProvider(fail_after=0, name="scripted")
    body = (await send(client, auth, "Tell me another one")).json()
    assert body["status"] == "failed"
    assert value("chat_answers_total", origin="failed") == before["failed"] + 1
    assert value("ai_requests_total", provider="scripted", outcome="error") == errors + 1
