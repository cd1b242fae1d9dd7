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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

FactKind = Literal["email", "url", "phone", "money", "percent", "duration", "date", "reference", "name", "number"]
Problem = Literal["unsupported_fact", "repetition", "cut_off", "wrong_language", "empty"]

_NUMBER = r"\d+(?:[.,]\d+)*"
_UNITS = (
    r"(?:business |working |calendar )?(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|"
    r"months?|years?|segundos?|minutos?|horas?|d[ií]as?|semanas?|mes(?:es)?|años?|secondes?|heures?|"
    r"jours?|semaines?|mois|ans?|années?|Sekunden?|Minuten?|Stunden?|Tage?n?|Wochen?|Monate?n?|Jahre?n?|"
    r"días? hábiles|jours ouvrés|Werktage?n?)"
)
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|januar|februar|märz|juni|juli|oktober|dezember)"
)
_CURRENCY = r"(?:[$€£¥₹]|USD|EUR|GBP|CHF|dollars?|euros?|pounds?|dólares?)"

# In order: a span taken by one kind is not read again by the next ones.
_PATTERNS: list[tuple[FactKind, re.Pattern[str]]] = [
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    (
        "url",
        re.compile(
            r"(?:https?://|www\.)[^\s<>()\[\]]+|(?<![\w@./-])(?:[a-z0-9][a-z0-9-]*\.)+[a-z]{2,24}(?:/[^\s<>()\[\]]*)?(?![\w@])",
            re.IGNORECASE,
        ),
    ),
    ("phone", re.compile(r"(?<![\w.,])\+?\(?\d[\d\s().-]{5,}\d(?![\w%])")),
    (
        "money",
        re.compile(rf"{_CURRENCY}\s?{_NUMBER}(?:\s?(?:k|m|bn))?|{_NUMBER}\s?{_CURRENCY}", re.IGNORECASE),
    ),
    ("percent", re.compile(rf"{_NUMBER}\s?(?:%|percent|por ciento|pour cent|Prozent)", re.IGNORECASE)),
    (
        "date",
        re.compile(
            rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b|"
            rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?{_MONTHS}\b(?:\s+(?:de\s+)?\d{{4}})?|"
            r"\b\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b\d{1,2}:\d{2}\b",
            re.IGNORECASE,
        ),
    ),
    (
        "duration",
        re.compile(rf"{_NUMBER}(?:\s?(?:-|–|to|a|à|bis)\s?{_NUMBER})?[\s-]?{_UNITS}\b", re.IGNORECASE),
    ),
    # Order numbers, tracking codes, plan codes: capitals and digits mixed, or #12345.
    ("reference", re.compile(r"#\d{3,}\b|\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)*\b")),
    # Brand-like names: an inner capital (PayPal, iPhone, ParceloPro) or a trademark sign.
    ("name", re.compile(r"\b[A-Za-z]*[a-z][A-Z][A-Za-z]*\b|\b[\w-]+\s?[™®]")),
]
_ANY_NUMBER = re.compile(_NUMBER)
_CITATION = re.compile(r"\[\d{1,2}\](?!\()")  # [1], not a markdown link [1](...)
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
# Small numbers spelled out in the articles ("within thirty days") count as the number.
_NUMBER_WORDS = {
    word: n
    for n, words in {
        1: "one uno una un eins ein eine",
        2: "two dos deux zwei",
        3: "three tres trois drei",
        4: "four cuatro quatre vier",
        5: "five cinco cinq fünf",
        6: "six seis sechs",
        7: "seven siete sept sieben",
        8: "eight ocho huit acht",
        9: "nine nueve neuf neun",
        10: "ten diez dix zehn",
        11: "eleven once onze elf",
        12: "twelve doce douze zwölf",
        14: "fourteen catorce quatorze vierzehn",
        15: "fifteen quince quinze fünfzehn",
        20: "twenty veinte vingt zwanzig",
        24: "twenty-four veinticuatro",
        30: "thirty treinta trente dreißig",
        48: "forty-eight",
        60: "sixty sesenta soixante sechzig",
        90: "ninety noventa",
        100: "hundred cien cent hundert",
    }.items()
    for word in words.split()
}
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class Fact:
    kind: FactKind
    text: str


def _value(number: str) -> str:
    """A number as its value: "1,200" and "1200" and "1200.00" are the same; "2,5" is 2.5."""
    digits = number.strip()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):
        digits = digits.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", digits):
        digits = digits.replace(".", "").replace(",", ".")
    else:
        digits = digits.replace(",", ".")
    try:
        return format(Decimal(digits).normalize(), "f")
    except InvalidOperation:
        return digits


def _numbers(text: str) -> set[str]:
    return {_value(m.group()) for m in _ANY_NUMBER.finditer(text)}


def _link(text: str) -> str:
    key = text.lower().rstrip(".,;:!?'\"")
    key = re.sub(r"^https?://", "", key)
    key = key.removeprefix("www.")
    return key.rstrip("/")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def facts(text: str) -> list[Fact]:
    """The checkable facts of ``text``, in order. Citation markers, list numbers and small bare
    numbers (counts, steps: up to 10) are not facts; a number with a unit always is."""
    text = _LIST_MARKER.sub(" ", _CITATION.sub(" ", text))
    taken = [False] * len(text)
    found: list[tuple[int, Fact]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            value = m.group().strip()
            if kind == "url":
                value = value.rstrip(".,;:!?'\")")
                host = re.sub(r"^https?://", "", value, flags=re.IGNORECASE).split("/")[0]
                if not re.search(r"[a-z]", host.rsplit(".", 1)[-1], re.IGNORECASE):
                    continue
            if kind == "phone" and len(_digits(value)) < 7:
                continue
            if kind == "reference" and (len(value) < 4 or value.isdigit()):
                continue
            found.append((m.start(), Fact(kind, value)))
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
    for m in _ANY_NUMBER.finditer(text):
        if any(taken[m.start() : m.end()]):
            continue
        try:
            small = Decimal(_value(m.group())) <= 10
        except InvalidOperation:
            small = False
        if not small:
            found.append((m.start(), Fact("number", m.group())))
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


class Support:
    """What an answer may take its facts from, indexed once for many checks."""

    def __init__(self, texts: Iterable[str]) -> None:
        material = "\n".join(t for t in texts if t)
        self.lower = material.lower()
        self.links = re.sub(r"https?://|www\.", "", self.lower)
        self.numbers = _numbers(material) | {
            str(n) for word, n in _NUMBER_WORDS.items() if re.search(rf"\b{re.escape(word)}\b", self.lower)
        }
        self.phones = {_digits(m.group()) for m in _PATTERNS[2][1].finditer(material) if len(_digits(m.group())) >= 7}

    def supports(self, fact: Fact) -> bool:
        if fact.kind == "email":
            return fact.text.lower() in self.lower
        if fact.kind == "url":
            return _link(fact.text) in self.links
        if fact.kind == "phone":
            digits = _digits(fact.text)
            return any(p.endswith(digits) or digits.endswith(p) for p in self.phones)
        if fact.kind in ("reference", "name"):
            return fact.text.lower().rstrip("™® ") in self.lower
        # money, percent, duration, date, number: every number in it must be in the material.
        return _numbers(fact.text) <= self.numbers


def unsupported(answer: str, support: Support) -> list[Fact]:
    return [fact for fact in facts(answer) if not support.supports(fact)]


def repetitive(text: str) -> bool:
    """A loop: one stretch of words said again and again, or text that compresses like one."""
    words = _WORD.findall(text.lower())
    if len(words) >= 18:
        grams = Counter(tuple(words[i : i + 6]) for i in range(len(words) - 5))
        if grams.most_common(1)[0][1] >= 3:
            return True
    data = text.encode()
    return len(data) >= 300 and len(zlib.compress(data, 9)) / len(data) < 0.2


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
    plain = _CITATION.sub(" ", text)
    if expected not in DETECTED or len(_WORD.findall(plain)) < 8:
        return False
    detected, confidence = detect_language(plain)
    return detected != expected and confidence >= 0.95


def question_language(question: str, language: str) -> str:
    """The language to answer ``question`` in: the conversation's, unless the question is plainly
    written in another one (four words or more, detected with confidence), as when a customer
    writes Spanish in an English conversation."""
    plain = _CITATION.sub(" ", question)
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
    """Whether ``answer`` may be shown as is. The first problem found is the verdict."""
    if not answer.strip():
        return Verdict("empty")
    if repetitive(answer):
        return Verdict("repetition")
    if finish_reason == "length":
        return Verdict("cut_off")
    missing = unsupported(answer, support)
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
