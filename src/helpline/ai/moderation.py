"""Content moderation: OpenAI's moderation endpoint, or a local classifier with a few rules.

Results keep the spec's shape (``flagged``, ``categories``, ``category_scores``). Local category
names follow OpenAI's where the meaning is the same (``self-harm``, ``harassment/threatening``);
the classifier's own score is ``profanity``, since offensive language is what it detects."""

from __future__ import annotations

import asyncio
import importlib
import math
import re
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI

from helpline.ai.base import ModerationResult
from helpline.ai.lazy import LoadOnce
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


class LinearProfanityModel:
    """alt-profanity-check's model applied directly: its TF-IDF vocabulary and the coefficients
    of its calibrated linear SVMs, read once from the scikit-learn objects it ships.

    The package's own ``predict_prob`` runs scikit-learn's generic machinery on every call
    (input validation, a sparse matrix, five estimators and calibrators, ``apply_along_axis``):
    about 3 ms for one short text, where the arithmetic is a few dictionary look-ups. The same
    model, the same formula, in plain Python: for each calibrated member k,
    ``p_k = 1 / (1 + exp(a_k * (w_k . x + b_k) + c_k))`` with x the text's L2-normalised TF-IDF
    vector, and the score is the mean of the p_k (scikit-learn's ``CalibratedClassifierCV`` with
    sigmoid calibration). tests/ai/test_moderation_fast.py checks it against ``predict_prob``."""

    def __init__(self, vectorizer: Any, model: Any) -> None:
        members = model.calibrated_classifiers_
        if getattr(model, "method", None) != "sigmoid" or any(len(m.calibrators) != 1 for m in members):
            raise TypeError("expected a binary CalibratedClassifierCV with sigmoid calibration")
        params = vectorizer.get_params()
        if params["ngram_range"] != (1, 1) or params["analyzer"] != "word" or params["sublinear_tf"]:
            raise TypeError("expected a word-unigram TfidfVectorizer")
        if params["norm"] != "l2" or not params["lowercase"] or params["strip_accents"] is not None:
            raise TypeError("expected an L2-normalised, lowercasing TfidfVectorizer without accent stripping")
        self._token = re.compile(params["token_pattern"])
        idf = vectorizer.idf_.tolist()
        coefs = [m.estimator.coef_.ravel().tolist() for m in members]
        # Per word: its idf, and idf * coefficient for each member (stop words are not in the
        # vocabulary, so dropping unknown words drops them too).
        self._weights: dict[str, tuple[float, tuple[float, ...]]] = {
            word: (idf[i], tuple(c[i] * idf[i] for c in coefs)) for word, i in vectorizer.vocabulary_.items()
        }
        self._members = tuple(
            (float(m.estimator.intercept_.ravel()[0]), float(m.calibrators[0].a_), float(m.calibrators[0].b_))
            for m in members
        )

    def score(self, text: str) -> float:
        counts: dict[str, int] = {}
        for word in self._token.findall(text.lower()):
            if word in self._weights:
                counts[word] = counts.get(word, 0) + 1
        dots = [0.0] * len(self._members)
        square = 0.0
        for word, n in counts.items():
            idf, weights = self._weights[word]
            square += (n * idf) ** 2
            for k, w in enumerate(weights):
                dots[k] += n * w
        norm = math.sqrt(square) or 1.0  # no known word: the zero vector, as scikit-learn leaves it
        total = 0.0
        for dot, (intercept, a, b) in zip(dots, self._members, strict=True):
            z = a * (dot / norm + intercept) + b
            total += 1.0 / (1.0 + math.exp(z)) if z < 700 else 0.0  # expit(-z)
        return total / len(self._members)


def _load_profanity_model() -> LinearProfanityModel:
    # Importing alt-profanity-check unpickles its scikit-learn objects (1-3 s, more on a busy
    # machine); scoring then uses LinearProfanityModel, not scikit-learn.
    module = importlib.import_module("profanity_check.profanity_check")
    return LinearProfanityModel(module.vectorizer, module.model)


# The profanity model, loaded once, off the event loop: on first use or in ``warm_up``. Never
# refused: the moderator has no shutdown of its own.
profanity_model = LoadOnce(_load_profanity_model, lambda: RuntimeError("the profanity model was refused"))


class LocalModerator:
    """The offline moderator: the profanity classifier plus the threat and self-harm rules. A text
    is flagged when any category scores at least ``threshold``."""

    source = "local"

    def __init__(self, threshold: float | ModerationSettings = 0.8) -> None:
        # The settings object is accepted too: LocalModerator(settings.moderation).
        self.threshold = threshold.threshold if isinstance(threshold, ModerationSettings) else threshold

    def check_sync(self, text: str) -> ModerationResult:
        scores = {"profanity": round(profanity_model().score(text), 4), **rule_scores(text)}
        categories = {name: score >= self.threshold for name, score in scores.items()}
        return ModerationResult(
            flagged=any(categories.values()), categories=categories, category_scores=scores, source=self.source
        )

    async def check(self, text: str) -> ModerationResult:
        # Once loaded, the model costs tens of microseconds a message (see bench_moderation.py),
        # less than a thread hop: it runs on the event loop. Loading it must not stall every
        # other request, so the first call (without warm_up) loads it on a thread.
        if profanity_model.loaded is None:
            return await asyncio.to_thread(self.check_sync, text)
        return self.check_sync(text)

    async def warm_up(self) -> None:
        await asyncio.to_thread(profanity_model)


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
