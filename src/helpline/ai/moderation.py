"""Content moderation: OpenAI's moderation endpoint, or a local classifier with a few rules.

Results keep the spec's shape (``flagged``, ``categories``, ``category_scores``). Local category
names follow OpenAI's where the meaning is the same (``self-harm``, ``harassment/threatening``);
the classifier's own score is ``profanity``, since offensive language is what it detects."""

from __future__ import annotations

import asyncio
import importlib
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI

from helpline.ai.base import ModerationResult
from helpline.core.config import ModerationSettings

log = structlog.get_logger(__name__)

# Rules for what a word classifier misses: plain-worded threats and self-harm, which contain no
# offensive words ("I will kill you" is polite English to a profanity model). Deliberately narrow:
# "how do I kill a process" or "this bug is killing me" must pass.
_YOU = r"(?:you|u|ya|your (?:family|kids?|wife|husband)|him|her|them|everyone)"
_SPEAKER = r"(?:i(?:'m| am)? (?:going to|gonna|will)|i'll|i'd|we(?:'ll| will)|i want to|i'm coming to)"
_HARM = r"(?:kill|murder|shoot|stab|strangle|hurt|beat up|rape)"
_RULES: dict[str, tuple[re.Pattern[str], ...]] = {
    "harassment/threatening": (
        # ...but "I'll shoot you an email" is an offer.
        re.compile(rf"\b{_SPEAKER} {_HARM} {_YOU}\b(?! (?:an?|over|the|some)\b)"),
        re.compile(r"\bi(?:'ll| will) (?:find|hunt) (?:you|where you live)\b"),
        re.compile(rf"\byou(?:'re| are) (?:going to|gonna) die\b|\b{_YOU} (?:deserves?|should) (?:to )?die\b"),
        re.compile(r"\b(?:plant|place|set off|detonate) a bomb\b"),
    ),
    "self-harm/intent": (
        re.compile(r"\b(?:kill|hurt|harm|cut|hang|shoot) my ?self\b"),
        re.compile(r"\b(?:end|take) my (?:own )?life\b"),
        re.compile(r"\b(?:i (?:want|wanna|am going|plan) to die|commit suicide|suicidal)\b"),
        re.compile(r"\b(?:don'?t|do not) want to (?:live|be alive) any ?more\b"),
    ),
}
_IMPLIES = {"self-harm/intent": "self-harm"}  # as in OpenAI's taxonomy


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def rule_scores(text: str) -> dict[str, float]:
    """1.0 for each rule category that matches ``text``, else 0.0."""
    norm = _normalise(text)
    scores = {name: float(any(p.search(norm) for p in patterns)) for name, patterns in _RULES.items()}
    for specific, general in _IMPLIES.items():
        scores[general] = max(scores.get(general, 0.0), scores[specific])
    return scores


class _Classifier:
    """alt-profanity-check's scikit-learn model. Importing it unpickles the model (1-3 s, more on a
    busy machine), so that happens once, off the event loop, on first use or in ``warm_up``."""

    _lock = threading.Lock()
    _predict: Callable[[Sequence[str]], Any] | None = None

    @classmethod
    def predict(cls) -> Callable[[Sequence[str]], Any]:
        with cls._lock:
            if cls._predict is None:
                module = importlib.import_module("profanity_check")
                cls._predict = module.predict_prob
            return cls._predict

    @classmethod
    def score(cls, text: str) -> float:
        return float(cls.predict()([text])[0])


class LocalModerator:
    """The offline moderator: the profanity classifier plus the threat and self-harm rules. A text
    is flagged when any category scores at least ``threshold``."""

    source = "local"

    def __init__(self, threshold: float | ModerationSettings = 0.8) -> None:
        # The settings object is accepted too: LocalModerator(settings.moderation).
        self.threshold = threshold.threshold if isinstance(threshold, ModerationSettings) else threshold

    def check_sync(self, text: str) -> ModerationResult:
        scores = {"profanity": round(_Classifier.score(text), 4), **rule_scores(text)}
        categories = {name: score >= self.threshold for name, score in scores.items()}
        return ModerationResult(
            flagged=any(categories.values()), categories=categories, category_scores=scores, source=self.source
        )

    async def check(self, text: str) -> ModerationResult:
        # scikit-learn releases no GIL worth mentioning on one short text (~1 ms), but the first
        # call loads the model, which must not stall every other request.
        return await asyncio.to_thread(self.check_sync, text)

    async def warm_up(self) -> None:
        await asyncio.to_thread(_Classifier.predict)


class OpenAIModerator:
    """OpenAI's moderation endpoint; its own ``flagged`` verdict is used as is (OpenAI calibrates a
    threshold per category; ``HELPLINE_MODERATION_THRESHOLD`` applies to the local classifier).

    If the endpoint fails (outage, rate limit, bad key) the local classifier decides instead, and
    the failure is logged: failing open would let abuse through whenever OpenAI is down, failing
    closed would refuse every message, and the local check is a real if cruder moderator."""

    source = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str = "omni-moderation-latest",
        timeout: float = 10.0,
        max_retries: int = 1,
        fallback: LocalModerator | None = None,
    ) -> None:
        self.model = model
        self.fallback = fallback or LocalModerator()
        self._client = AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def check(self, text: str) -> ModerationResult:
        try:
            response = await self._client.moderations.create(model=self.model, input=text)
            result = response.results[0]
        except (openai.OpenAIError, IndexError) as exc:
            log.warning("moderation.openai_failed", error=str(exc), fallback="local")
            return await self.fallback.check(text)
        categories = {k: bool(v) for k, v in result.categories.model_dump(by_alias=True).items() if v is not None}
        scores = {k: float(v) for k, v in result.category_scores.model_dump(by_alias=True).items() if v is not None}
        return ModerationResult(
            flagged=result.flagged, categories=categories, category_scores=scores, source=self.source
        )

    async def aclose(self) -> None:
        await self._client.close()


class NoModeration:
    """``HELPLINE_MODERATION_PROVIDER=off``: nothing is checked."""

    source = "off"

    async def check(self, text: str) -> ModerationResult:
        return ModerationResult(flagged=False, source=self.source)
