"""The local moderator's profanity score, computed from the model's vocabulary and coefficients
(LinearProfanityModel), against alt-profanity-check's own scikit-learn ``predict_prob``: the same
scores (within float rounding) and the same verdicts, on the moderation tests' texts, the demo
FAQs' questions and answers, and a generated set (seeded) that mixes the model's most and least
offensive words with stop words, unknown words, case, punctuation and repeats."""

from __future__ import annotations

import importlib
import json
import random
import re
from functools import cache
from typing import Any

import pytest

from helpline.ai.base import ModerationResult
from helpline.ai.moderation import LinearProfanityModel, LocalModerator, profanity_model, rule_scores
from helpline.faqs.demo import demo_file
from tests.ai.test_moderation import FLAGGED, ORDINARY

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # scikit-learn's version warnings on unpickling

OTHERS = [
    "this update is crap",
    "I’LL KILL YOU",
    "kill -9 the worker",
    "I will kill the competition",
    "You are a fucking idiot",
    "",
    "   ",
    "!!!",
    "12345 67890",
    "Ça ne marche pas, merde !",
    "¿Dónde está mi paquete? Es una mierda",
    "WHERE IS MY PARCEL??? SHIT SHIT SHIT",
    "a",
]


@cache
def _sklearn() -> Any:
    return importlib.import_module("profanity_check.profanity_check")  # unpickles the model


def _demo_texts() -> list[str]:
    faqs = json.loads(demo_file())["faqs"]
    return [faq[key] for faq in faqs for key in ("question", "answer")]


def _generated(count: int, seed: int = 26) -> list[str]:
    """Texts of 0-120 words drawn from the model's strongest words either way, its other words,
    English stop words and words it does not know, with case, punctuation and repeats varied."""
    reference = _sklearn()
    vocabulary: dict[str, int] = reference.vectorizer.vocabulary_
    coef = sum(m.estimator.coef_.ravel() for m in reference.model.calibrated_classifiers_)
    ranked = sorted(vocabulary, key=lambda w: coef[vocabulary[w]])
    strong = ranked[-300:] + ranked[:300]
    common = ranked[300:-300]
    stop = sorted(reference.vectorizer.get_stop_words())
    unknown = ["parcelo", "zzkx", "qwertyuiop", "été", "naïve", "mañana", "x", "7", "x2", "ünïcödé"]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        words = []
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 40, 120])):
            pool = rng.choices([strong, common, stop, unknown], weights=[3, 5, 3, 1])[0]
            word = rng.choice(pool)
            word = rng.choice([word, word, word.upper(), word.capitalize()])
            words.append(word * rng.choice([1, 1, 1, 1, 2]) if len(word) < 3 else word)
            if rng.random() < 0.15:
                words.append(words[-1])
        glue = rng.choice([" ", " ", ", ", "-", "... ", "\n", "'s "])
        texts.append(glue.join(words) + rng.choice(["", ".", "?", "!!", " :)"]))
    return texts


TEXTS = ORDINARY + [text for text, _ in FLAGGED] + OTHERS + _demo_texts() + _generated(3000)


@cache
def _expected() -> list[float]:
    """scikit-learn's scores of TEXTS, in one call (one call per text would take minutes)."""
    return [float(s) for s in _sklearn().predict_prob(TEXTS)]


def _reference_result(text: str, score: float, threshold: float) -> ModerationResult:
    """What LocalModerator returned before the fast path: scikit-learn's score, rounded, and the rules."""
    scores = {"profanity": round(score, 4), **rule_scores(text)}
    categories = {name: score >= threshold for name, score in scores.items()}
    return ModerationResult(
        flagged=any(categories.values()), categories=categories, category_scores=scores, source="local"
    )


def test_the_test_set_is_varied() -> None:
    scores = _expected()

    assert len(set(TEXTS)) > 2500
    assert sum(s >= 0.8 for s in scores) > 300  # plenty of texts on either side of the threshold
    assert sum(s < 0.5 for s in scores) > 300
    assert sum(0.3 < s < 0.9 for s in scores) > 100  # and near it


def test_scores_match_scikit_learn() -> None:
    fast = profanity_model()
    for text, want in zip(TEXTS, _expected(), strict=True):
        assert fast.score(text) == pytest.approx(want, abs=1e-9), text


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.95])
def test_verdicts_match_the_scikit_learn_moderator(threshold: float) -> None:
    moderator = LocalModerator(threshold=threshold)

    differ = [
        text
        for text, score in zip(TEXTS, _expected(), strict=True)
        if moderator.check_sync(text) != _reference_result(text, score, threshold)
    ]

    assert differ == []


def test_the_model_is_read_from_the_package_as_shipped() -> None:
    reference = _sklearn()
    model = LinearProfanityModel(reference.vectorizer, reference.model)

    assert model.score("shit") == pytest.approx(float(reference.predict_prob(["shit"])[0]), abs=1e-12)
    assert reference.vectorizer.token_pattern == model._token.pattern
    assert re.compile(reference.vectorizer.token_pattern).findall("it's a café") == ["it", "café"]


def test_an_unexpected_model_is_refused() -> None:
    reference = _sklearn()

    class Isotonic:
        method = "isotonic"
        calibrated_classifiers_ = reference.model.calibrated_classifiers_

    with pytest.raises(TypeError):
        LinearProfanityModel(reference.vectorizer, Isotonic())


async def test_check_without_warm_up_loads_the_model_off_the_loop() -> None:
    result = await LocalModerator(threshold=0.8).check("You are a fucking idiot")

    assert result.flagged
    assert profanity_model.loaded is not None
