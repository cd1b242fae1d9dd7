"""The grounded-answer guard: a model's answer may only state facts a customer acts on (phone
numbers, emails, links, amounts, durations, dates, references, product names) that appear in what
the model was given: the knowledge-base articles, the conversation, the system prompt. And it must
read as an answer: not a loop of repeated text, not cut off, not in another language.

The checks are deliberately literal. A fact is "supported" when the same value appears in the
material (numbers compared as numbers, "thirty" counting as 30, phone numbers by their digits,
links without scheme or "www."), so a paraphrase passes and an invented value never does. A
correct answer that writes a value differently from the article ("1 month" for "30 days") is
replaced by the article's own text: the cost of that false alarm is a quoted article instead of
a paraphrase, never a wrong fact."""

from __future__ import annotations

import re
import threading
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from helpline.chat.facts import CITATION, Fact, FactKind, Support, facts, unsupported

__all__ = ["Fact", "FactKind", "LoopWatch", "Support", "Verdict", "check", "facts", "repetitive", "unsupported"]

Problem = Literal["unsupported_fact", "repetition", "cut_off", "wrong_language", "empty"]

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")


def repetitive(text: str) -> bool:
    """A loop: one stretch of words said again and again (six words three times, or twelve words
    twice: a long paragraph repeated shows at its second time, not its third), or text that
    compresses like one."""
    words = _WORD.findall(text.lower())
    if len(words) >= 18:
        grams = Counter(tuple(words[i : i + 6]) for i in range(len(words) - 5))
        if grams.most_common(1)[0][1] >= 3:
            return True
    if len(words) >= 24:
        seen: set[tuple[str, ...]] = set()
        for i in range(len(words) - 11):
            run = tuple(words[i : i + 12])
            if run in seen:
                return True
            seen.add(run)
    data = text.encode()
    return len(data) >= 300 and len(zlib.compress(data, 9)) / len(data) < 0.2


class LoopWatch:
    """Watches an answer while it streams, so a loop is stopped when it shows instead of running
    to ``max_tokens`` (a looping SmolLM2 answer took 49.9 s at 1000 tokens). ``feed`` each piece;
    it says True once the text so far is ``repetitive``. A loop only grows: the answer that loops
    now would be found repetitive when finished too, so stopping early changes the verdict's
    timing, never the verdict. The check runs every ``step`` characters on the last ``window``
    (about 0.1 ms), where a loop shows."""

    def __init__(self, *, step: int = 48, window: int = 1500) -> None:
        self.step, self.window = step, window
        self._text = ""
        self._checked = 0
        self.looped = False

    def feed(self, piece: str) -> bool:
        self._text += piece
        if not self.looped and len(self._text) - self._checked >= self.step:
            self._checked = len(self._text)
            self.looped = repetitive(self._text[-self.window :])
        return self.looped


# The languages told apart; a conversation in another one is not checked for language.
DETECTED = ("en", "es", "fr", "de", "it", "pt", "nl")
_identifier: Any = None
_identifier_lock = threading.Lock()


def _language_identifier() -> Any:
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(DETECTED))
            _identifier = identifier
    return _identifier


def warm_up() -> None:
    """Load the language identifier (about 0.5 s): call it off the event loop, once."""
    _language_identifier()


def detect_language(text: str) -> tuple[str, float]:
    """(language, confidence) of ``text`` among DETECTED, by py3langid's character n-grams."""
    language, confidence = _language_identifier().classify(text)
    return str(language), float(confidence)


def wrong_language(text: str, language: str) -> bool:
    """The answer is clearly in another language than the conversation's. Short answers and
    uncertain guesses pass: a product name or a greeting is not a change of language."""
    expected = language.split("-")[0].lower()
    plain = CITATION.sub(" ", text)
    if expected not in DETECTED or len(_WORD.findall(plain)) < 8:
        return False
    detected, confidence = detect_language(plain)
    return detected != expected and confidence >= 0.95


def question_language(question: str, language: str) -> str:
    """The language to answer ``question`` in: the conversation's, unless the question is plainly
    written in another one (four words or more, detected with confidence), as when a customer
    writes Spanish in an English conversation."""
    plain = CITATION.sub(" ", question)
    if len(_WORD.findall(plain)) < 4:
        return language
    detected, confidence = detect_language(plain)
    if confidence < 0.95 or detected == language.split("-")[0].lower():
        return language
    return detected


@dataclass(frozen=True, slots=True)
class Verdict:
    problem: Problem | None = None
    unsupported: tuple[Fact, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def public(self) -> dict[str, Any]:
        """What the stored message says of it (the problem is its ``reason``)."""
        return {"unsupported": [{"kind": f.kind, "text": f.text} for f in self.unsupported]}


def check(
    answer: str,
    *,
    support: Support,
    language: str,
    finish_reason: str | None = None,
) -> Verdict:
    """Whether ``answer`` may be shown as is. The first problem found is the verdict.
    ``finish_reason`` "repetition": the answer was stopped by a LoopWatch."""
    if not answer.strip():
        return Verdict("empty")
    if finish_reason == "repetition" or repetitive(answer):
        return Verdict("repetition")
    if finish_reason == "length":
        return Verdict("cut_off")
    missing = unsupported(answer, support, language)
    if missing:
        return Verdict("unsupported_fact", tuple(missing))
    if wrong_language(answer, language):
        return Verdict("wrong_language")
    return Verdict()


_CITED = re.compile(r"\[(\d{1,2})\]")


def used_sources(answer: str, count: int, texts: Sequence[str]) -> list[int]:
    """Indexes of the sources the answer used: those it cites ([1] is the first), or when it cites
    none, those it shares most of its content words with."""
    cited = sorted({int(n) - 1 for n in _CITED.findall(answer) if 0 < int(n) <= count})
    if cited:
        return cited
    words = {w for w in _WORD.findall(answer.lower()) if len(w) > 3}
    if not words:
        return []
    used = []
    for i, text in enumerate(texts[:count]):
        shared = words & {w for w in _WORD.findall(text.lower()) if len(w) > 3}
        if len(shared) >= max(3, len(words) // 4):
            used.append(i)
    return used
