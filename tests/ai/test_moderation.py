"""Moderation: the local classifier and rules, OpenAI's endpoint (on the scripted server), off."""

from __future__ import annotations

import pytest

from helpline.ai.moderation import LocalModerator, NoModeration, OpenAIModerator, rule_scores
from helpline.core.config import ModerationSettings
from tests.ai.conftest import Upstream


@pytest.fixture(scope="module")
def local() -> LocalModerator:
    return LocalModerator(threshold=0.8)


ORDINARY = [
    "How do I reset my password?",
    "My invoice from March is wrong, can you check it?",
    "How do I kill a process that hangs on Linux?",
    "This bug is killing me, the export button does nothing.",
    "Can I shoot you an email with the screenshots?",
    "I'll shoot you a message when the fix is live.",
]
FLAGGED = [
    ("You are a fucking idiot and your company is shit", "profanity"),
    ("I will kill you if my refund doesn't arrive", "harassment/threatening"),
    ("I know where you live and I'll find you", "harassment/threatening"),
    ("I want to kill myself", "self-harm/intent"),
    ("I don't want to live anymore", "self-harm"),
]


@pytest.mark.parametrize("text", ORDINARY)
async def test_ordinary_support_questions_pass(local: LocalModerator, text: str) -> None:
    result = await local.check(text)

    assert not result.flagged, result.category_scores
    assert result.source == "local"
    assert set(result.categories) == set(result.category_scores)


@pytest.mark.parametrize(("text", "category"), FLAGGED)
async def test_offensive_threatening_and_self_harm_texts_are_flagged(
    local: LocalModerator, text: str, category: str
) -> None:
    result = await local.check(text)

    assert result.flagged
    assert result.categories[category] is True
    assert result.category_scores[category] >= 0.8


async def test_the_threshold_decides() -> None:
    text = "this update is crap"
    score = (await LocalModerator(threshold=1.0).check(text)).category_scores["profanity"]
    assert 0 < score < 1

    assert (await LocalModerator(threshold=score).check(text)).flagged
    assert not (await LocalModerator(threshold=min(1.0, score + 1e-3)).check(text)).flagged


def test_threshold_can_come_from_the_settings() -> None:
    assert LocalModerator(ModerationSettings(threshold=0.3)).threshold == 0.3


def test_rules_are_case_and_quote_insensitive() -> None:
    assert rule_scores("I’LL KILL YOU")["harassment/threatening"] == 1.0
    assert rule_scores("kill -9 the worker")["harassment/threatening"] == 0.0


async def test_openai_moderation_keeps_the_endpoints_verdict(upstream: Upstream) -> None:
    moderator = OpenAIModerator(api_key="sk-test", base_url=upstream.url, max_retries=0)

    flagged = await moderator.check("I will kill the competition")
    fine = await moderator.check("How do I reset my password?")

    assert flagged.flagged
    assert flagged.source == "openai"
    assert flagged.categories["violence"] is True
    assert flagged.category_scores["violence"] == pytest.approx(0.93)
    assert "self-harm" in flagged.categories  # OpenAI's category names, as the spec shows them
    assert not fine.flagged
    await moderator.aclose()


async def test_openai_moderation_failure_falls_back_to_the_local_check(upstream: Upstream) -> None:
    moderator = OpenAIModerator(api_key="bad-key", base_url=upstream.url, max_retries=0)

    result = await moderator.check("You are a fucking idiot")

    assert result.source == "local"
    assert result.flagged
    await moderator.aclose()


async def test_off_flags_nothing() -> None:
    result = await NoModeration().check("You are a fucking idiot")

    assert not result.flagged
    assert result.source == "off"
