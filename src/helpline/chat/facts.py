"""The facts a customer acts on, as the guard (chat/guard.py) reads them in an answer and in the
material the answer may take them from.

A fact is "supported" when the material states the same value OF THE SAME KIND: a percentage must
be a percentage there ("1%" is not supported by "step 1" or "[1]"), an amount an amount in the same
currency, a duration the same length of time ("24 hours" and "1 day" agree; "10 days" is not "10
seats"), a quantity the same measure ("2 kg" and "2000 g" agree). Links, emails and phone numbers
are compared by their normalized text, names by their words. Bare numbers (counts over 10) and
dates are compared by value, as the material rarely says what they count.

Written by hand rather than with a library: the fact patterns are a support desk's (prices,
delivery times, parcel weights, order codes) in the four languages of the prompts; general
quantity parsers (pint, quantulum3) know neither "días hábiles" nor order codes, and would not tell
a price from a count the way a customer reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Literal

FactKind = Literal[
    "email",
    "url",
    "phone",
    "money",
    "percent",
    "duration",
    "quantity",
    "date",
    "reference",
    "name",
    "number",
]

_NUMBER = r"\d+(?:[.,]\d+)*"
# Time units: (pattern, dimension, factor to the dimension's unit). Business days are not days,
# and months are not a fixed number of days, so each is a dimension of its own.
_TIME_UNITS: list[tuple[str, str, Decimal]] = [
    (r"(?:business|working) days?|d[ií]as? h[aá]biles|jours? ouvr(?:é|e|és|es|ables?)|werktage?n?", "bday", Decimal(1)),
    (r"seconds?|secs?|segundos?|secondes?|sekunden?", "minute", Decimal(1) / 60),
    (r"minutes?|mins?|minutos?|minuten?", "minute", Decimal(1)),
    (r"hours?|hrs?|h|horas?|heures?|stunden?", "minute", Decimal(60)),
    (r"(?:calendar )?days?|nights?|d[ií]as?|jours?|tage?n?", "minute", Decimal(1440)),
    (r"weeks?|semanas?|semaines?|wochen?", "minute", Decimal(10080)),
    (r"months?|mes(?:es)?|mois|monate?n?", "month", Decimal(1)),
    (r"years?|años?|ans?|années?|jahre?n?", "month", Decimal(12)),
]
# Measures a customer acts on: weights, sizes, data, volumes, temperatures. "in", "m" and "t" are
# left out: "5 in stock", "2 m(illion)" read as units would be false alarms.
_MEASURES: list[tuple[str, str, Decimal]] = [
    (r"kg|kgs|kilos?|kilograms?|kilogrammes?|kilogramos?|kilogramm", "gram", Decimal(1000)),
    (r"g|grams?|grammes?|gramos?|gramm", "gram", Decimal(1)),
    (r"lbs?", "pound", Decimal(1)),
    (r"oz|ounces?", "ounce", Decimal(1)),
    (r"tonnes?|tons?", "ton", Decimal(1)),
    (r"km|kilometers?|kilometres?|kilómetros?|kilomètres?|kilometer", "metre", Decimal(1000)),
    (r"meters?|metres?|metros?|mètres?|meter", "metre", Decimal(1)),
    (r"cm|centimeters?|centimetres?|centímetros?|centimètres?|zentimeter", "metre", Decimal("0.01")),
    (r"mm|millimeters?|millimetres?|milímetros?|millimètres?|millimeter", "metre", Decimal("0.001")),
    (r"inch(?:es)?|″", "inch", Decimal(1)),
    (r"ft|feet|foot", "foot", Decimal(1)),
    (r"mi|miles?|millas?", "mile", Decimal(1)),
    (r"kb|kilobytes?", "byte", Decimal(10) ** 3),
    (r"mb|megabytes?", "byte", Decimal(10) ** 6),
    (r"gb|gigabytes?", "byte", Decimal(10) ** 9),
    (r"tb|terabytes?", "byte", Decimal(10) ** 12),
    (r"ml|millilit(?:er|re)s?", "litre", Decimal("0.001")),
    (r"l|lit(?:er|re)s?|litros?", "litre", Decimal(1)),
    (r"°\s?c|degrees? celsius|celsius", "celsius", Decimal(1)),
    (r"°\s?f|degrees? fahrenheit|fahrenheit", "fahrenheit", Decimal(1)),
]
_CURRENCIES: list[tuple[str, str]] = [
    (r"\$|usd|us\$|dollars?|dólares?|dollars? américains", "USD"),
    (r"€|eur|euros?", "EUR"),
    (r"£|gbp|pounds? sterling|pounds?|libras?", "GBP"),
    (r"chf|swiss francs?", "CHF"),
    (r"¥|jpy|yen", "JPY"),
    (r"₹|inr|rupees?", "INR"),
]


def _alternation(table: Iterable[tuple[str, object, object]] | Iterable[tuple[str, str]]) -> str:
    return "(?:" + "|".join(row[0] for row in table) + ")"


_TIME = _alternation(_TIME_UNITS)
_MEASURE = _alternation(_MEASURES)
_CURRENCY = _alternation(_CURRENCIES)
_SCALE = r"(?:\s?(?:k|m|bn|million|millones|millions|Millionen)(?!\w))?"
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|januar|februar|märz|juni|juli|oktober|dezember)"
)
_RANGE = rf"(?:\s?(?:-|–|to|a|à|bis|or|o|ou|oder)\s?{_NUMBER})?"
_CAPITALS = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -](?:de |del |la |von |van )?[A-ZÀ-Ý][a-zà-ÿ]+)+\b")
_PHONE = re.compile(r"(?<![\w.,])\+?\(?\d[\d\s().-]{5,}\d(?![\w%])")

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
    # ISO dates before phone numbers: "2018-03-24" is a date, not a number to call.
    ("date", re.compile(r"\b\d{4}-\d{2}-\d{2}\b")),
    ("phone", _PHONE),
    (
        "money",
        re.compile(
            rf"(?<![\w$€£¥₹]){_CURRENCY}\s?{_NUMBER}{_SCALE}(?:\s?(?:-|–|to|a|à|bis)\s?{_CURRENCY}?\s?{_NUMBER})?"
            rf"|{_NUMBER}{_SCALE}{_RANGE}\s?{_CURRENCY}(?!\w)",
            re.IGNORECASE,
        ),
    ),
    (
        "percent",
        re.compile(rf"{_NUMBER}(?:\s?%)?{_RANGE}\s?(?:%|percent|per cent|por ciento|pour cent|Prozent)", re.IGNORECASE),
    ),
    (
        "date",
        re.compile(
            rf"\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b|"
            rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?{_MONTHS}\b(?:\s+(?:de\s+)?\d{{4}})?|"
            r"\b\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b\d{1,2}:\d{2}\b",
            re.IGNORECASE,
        ),
    ),
    ("duration", re.compile(rf"{_NUMBER}{_RANGE}[\s-]?{_TIME}(?!\w)", re.IGNORECASE)),
    ("quantity", re.compile(rf"{_NUMBER}{_RANGE}[\s-]?{_MEASURE}(?!\w)", re.IGNORECASE)),
    # Order numbers, tracking codes, plan codes: capitals and digits mixed, or #12345.
    ("reference", re.compile(r"#\d{3,}\b|\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)*\b")),
    # Brand-like names: an inner capital (PayPal, iPhone, ParceloPro) or a trademark sign.
    ("name", re.compile(r"\b[A-Za-z]*[a-z][A-Z][A-Za-z]*\b|\b[\w-]+\s?[™®]")),
    # Names of people, places, companies: two or more capitalized words in a row ("Elena Pareja",
    # "Royal Mail", "New York City"), and acronyms (DHL, USPS, GDPR).
    ("name", _CAPITALS),
    ("name", re.compile(r"\b[A-Z]{2,6}s?\b")),
]
_ANY_NUMBER = re.compile(_NUMBER)
CITATION = re.compile(r"\[\d{1,2}\](?!\()")  # [1], not a markdown link [1](...)
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
# What ends the text before a sentence's first word, which is capitalized whatever it is.
_SENTENCE_END = frozenset('.!?:;•\n*-#>"“«(')
# Acronyms that are words of the trade, not facts.
_COMMON_ACRONYMS = frozenset(
    [
        "I",
        "OK",
        "FAQ",
        "FAQS",
        "API",
        "APIS",
        "URL",
        "URLS",
        "PDF",
        "PDFS",
        "CSV",
        "ID",
        "IDS",
        "AI",
        "PIN",
        "SMS",
        "QR",
        "FYI",
        "ASAP",
        "PS",
        "NB",
        "TV",
        "PC",
        "AM",
        "PM",
        "USD",
        "EUR",
        "GBP",
        "CHF",
        "JPY",
        "INR",
        "VAT",
        "IVA",
        "TVA",
        "KB",
        "MB",
        "GB",
        "TB",
        "KG",
        "LB",
        "LBS",
        "CM",
        "MM",
        "KM",
        "ETA",
        "EN",
        "ES",
        "FR",
        "DE",
        "IT",
        "PT",
        "NL",
        "HTTP",
        "HTTPS",
        "CEO",
        "CTO",
        "CFO",
        "COO",
        "HR",
        "IT",
        "SKU",
        "SKUS",
        "SLA",
        "CRM",
        "ERP",
        "FAQ",
        "USB",
        # The web's vocabulary (an answer about webhooks names them) and common abbreviations.
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "HEAD",
        "JSON",
        "XML",
        "HTML",
        "REST",
        "ATM",
        "ATMS",
        "US",
        "USA",
        "UK",
        "EU",
    ]
)
# Small numbers spelled out in the material ("within thirty days") count as the number.
NUMBER_WORDS = {
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
_NUMBER_WORD = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
# Words that name nothing by themselves in a run of capitals: a model writes "Customer Support
# Team", "Billing Page", "Best Regards" or "Track Your Parcel" in Title Case, and no customer acts on
# them as a name. Function words, a support desk's generic nouns (a team, a page, a button), and
# courtesies, in the four languages of the prompts. Not "app", "service", "portal" or "account":
# "Apple Watch App" and "Refund Service" are what an invented product is called. A run of capitals
# made of these alone is no name; in a longer one ("Parcelo Express Team") the other words must be
# in the material.
_GENERIC_TEXT = """
    a an the and or of for to in on at by with from your my our their its this that these those you we i
    is are be it all any new more how what when where why who here there now then not no yes
    y o de del la las el los para por con en su sus tu tus mi mis nuestro nuestra
    et ou le les des du pour par avec sur votre vos mon mes notre
    und oder der die das den dem des für mit auf ihr ihre ihren mein meine unser unsere
    team teams support customer customers help desk center centre page pages button buttons tab tabs
    menu menus section sections screen screens link links option options step steps field fields form
    forms list lists box icon details detail information info overview home note notes tip tips
    important warning contact contacts department office staff agent agents representative manager
    content type
    dear hello hi hey thanks thank regards best kind warm sincerely cheers happy good luck great day
    welcome congratulations sorry please yours truly faithfully
"""
_GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Fact:
    kind: FactKind
    text: str


def value(number: str) -> str:
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
    return {value(m.group()) for m in _ANY_NUMBER.finditer(text)}


def _link(text: str) -> str:
    key = text.lower().rstrip(".,;:!?'\"")
    key = re.sub(r"^https?://", "", key)
    key = key.removeprefix("www.")
    return key.rstrip("/")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _unit(text: str, table: list[tuple[str, str, Decimal]]) -> tuple[str, Decimal] | None:
    """The dimension and factor of the unit ``text`` ends with."""
    tail = _ANY_NUMBER.split(text)[-1].strip(" -").lower()
    for pattern, dimension, factor in table:
        if re.fullmatch(pattern, tail, re.IGNORECASE):
            return dimension, factor
    return None


def _currency(text: str) -> str:
    for pattern, code in _CURRENCIES:
        if re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE):
            return code
    return "?"


def _scaled(text: str) -> Decimal:
    """``k``, ``m``, ``bn`` after a number multiply it ("$2k")."""
    lowered = text.lower()
    if re.search(r"\d\s?k\b", lowered):
        return Decimal(1000)
    if re.search(r"\d\s?(?:m|million|millones|millions|millionen)\b", lowered):
        return Decimal(10) ** 6
    if re.search(r"\d\s?bn\b", lowered):
        return Decimal(10) ** 9
    return Decimal(1)


def _amounts(text: str, factor: Decimal = Decimal(1)) -> list[str]:
    out = []
    for m in _ANY_NUMBER.finditer(text):
        try:
            scaled = (Decimal(value(m.group())) * factor).quantize(Decimal("0.000001"))
            out.append(format(scaled.normalize(), "f"))
        except InvalidOperation:
            out.append(value(m.group()))
    return out


Key = tuple[str, ...]


def keys(fact: Fact) -> list[Key]:
    """What the fact states, one key per value: (kind, unit or currency, value). A range gives
    one key per end."""
    if fact.kind == "percent":
        return [("percent", n) for n in _amounts(fact.text)]
    if fact.kind == "money":
        currency = _currency(fact.text)
        return [("money", currency, n) for n in _amounts(fact.text, _scaled(fact.text))]
    if fact.kind in ("duration", "quantity"):
        unit = _unit(fact.text, _TIME_UNITS if fact.kind == "duration" else _MEASURES)
        if unit is None:
            return [("number", n) for n in _amounts(fact.text)]
        dimension, factor = unit
        return [(fact.kind, dimension, n) for n in _amounts(fact.text, factor)]
    return []


def facts(text: str, language: str = "en", *, names: bool = True) -> list[Fact]:
    """The checkable facts of ``text``, in order. Citation markers, list numbers and small bare
    numbers (counts, steps: up to 10) are not facts; a number with a unit always is. In German,
    where every noun is capitalized, capitals in a row are no name."""
    text = _LIST_MARKER.sub(" ", CITATION.sub(" ", text))
    taken = [False] * len(text)
    found: list[tuple[int, Fact]] = []
    german = language.split("-")[0].lower() == "de"
    for kind, pattern in _PATTERNS:
        if kind == "name" and (not names or (german and pattern is _CAPITALS)):
            continue
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if any(taken[start:end]):
                continue
            found_text = m.group().strip()
            if kind == "url":
                found_text = found_text.rstrip(".,;:!?'\")")
                host = re.sub(r"^https?://", "", found_text, flags=re.IGNORECASE).split("/")[0]
                if not re.search(r"[a-z]", host.rsplit(".", 1)[-1], re.IGNORECASE):
                    continue
            if kind == "phone" and len(_digits(found_text)) < 7:
                continue
            if kind == "reference" and (len(found_text) < 4 or found_text.isdigit()):
                continue
            if kind == "name":
                found_text = _name(text, m)
                if not found_text:
                    continue
                start = end - len(found_text)
            found.append((start, Fact(kind, found_text)))
            taken[start:end] = [True] * (end - start)
    for m in _ANY_NUMBER.finditer(text):
        if any(taken[m.start() : m.end()]):
            continue
        try:
            small = Decimal(value(m.group())) <= 10
        except InvalidOperation:
            small = False
        if not small:
            found.append((m.start(), Fact("number", m.group())))
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


def _name(text: str, m: re.Match[str]) -> str:
    """The name matched, without a sentence's first word ("Open Settings" is no name; "Contact
    Royal Mail" names "Royal Mail"); empty when nothing is left of it."""
    name = m.group()
    if re.fullmatch(r"[A-Z]{2,6}s?", name):
        return "" if name.rstrip("s") in _COMMON_ACRONYMS or name in _COMMON_ACRONYMS else name
    if " " not in name and "-" not in name:
        return name  # an inner capital or a trademark
    i = m.start() - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    if i < 0 or text[i] in _SENTENCE_END:
        rest = re.split(r"[ -]", name, maxsplit=1)[1]
        name = rest if re.search(r"[ -][A-ZÀ-Ý]", rest) else ""
    if all(w in _GENERIC_WORDS for w in _WORDS.findall(name.lower())):
        return ""  # "Customer Support Team", "Best Regards": Title Case, not a name
    return name


def _forms(word: str) -> tuple[str, ...]:
    """``word`` and its singular, for comparing a name's words with the material's ("Labels" and
    "label", "Returns" and "return", "Boxes" and "box")."""
    forms = [word]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
        if word.endswith("es"):
            forms.append(word[:-2])
    return tuple(forms)


def _digitized(text: str) -> str:
    """``text`` with small numbers spelled out written as digits ("thirty days" -> "30 days")."""
    return _NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[m.group().lower()]), text)


class Support:
    """What an answer may take its facts from, indexed once for many checks. Each index is made
    the first time a fact needs it: an answer with no facts (or only names) costs no pass over
    the material, which is most of a check's CPU (the prompt is much longer than the answer)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.material = "\n".join(t for t in texts if t)

    @cached_property
    def lower(self) -> str:
        return self.material.lower()

    @cached_property
    def links(self) -> str:
        return re.sub(r"https?://|www\.", "", self.lower)

    @cached_property
    def words(self) -> set[str]:
        return set(_WORDS.findall(self.lower))

    @cached_property
    def _digitized(self) -> str:
        # Small numbers spelled out count as digits ("within thirty days" supports "30 days").
        return _digitized(self.material)

    @cached_property
    def numbers(self) -> set[str]:
        return _numbers(self._digitized)

    @cached_property
    def phones(self) -> set[str]:
        return {_digits(m.group()) for m in _PHONE.finditer(self.material) if len(_digits(m.group())) >= 7}

    @cached_property
    def keys(self) -> set[Key]:
        found: set[Key] = set()
        for fact in facts(self._digitized, names=False):
            found.update(keys(fact))
        return found

    def supports(self, fact: Fact) -> bool:
        if fact.kind == "email":
            return fact.text.lower() in self.lower
        if fact.kind == "url":
            return _link(fact.text) in self.links
        if fact.kind == "phone":
            digits = _digits(fact.text)
            return any(p.endswith(digits) or digits.endswith(p) for p in self.phones)
        if fact.kind == "reference":
            return fact.text.lower() in self.lower
        if fact.kind == "name":
            return self._name(fact.text)
        typed = keys(fact)
        if typed:  # percent, money, duration, quantity: the same value of the same kind
            return all(key in self.keys for key in typed)
        # date, number: every number in it must be in the material.
        return _numbers(fact.text) <= self.numbers

    def _has(self, word: str) -> bool:
        return any(form in self.words or f"{form}s" in self.words for form in _forms(word))

    def _name(self, name: str) -> bool:
        """Every word of the name in the material, but for generic words, singular or plural:
        "Royal Mail" and "royal mail" alike, "Parcelo Support Team" where the material names
        Parcelo, "Return Labels" where it speaks of a return label. A name with an inner capital is
        also its words in a row ("RoyalMail", a link text, where the material says "Royal Mail"):
        only in a row, so "ParceloPlus" is not supported by "Parcelo" and "plus" apart."""
        words = _WORDS.findall(name.lower())
        if all(w in _GENERIC_WORDS or self._has(w) for w in words):
            return True
        if " " not in name and "-" not in name:
            parts = _CAMEL.split(name)
            if len(parts) > 1:
                return re.search(r"\b" + r"[\s-]?".join(map(re.escape, parts)).lower() + r"\b", self.lower) is not None
        return False


def unsupported(answer: str, support: Support, language: str = "en") -> list[Fact]:
    return [fact for fact in facts(answer, language) if not support.supports(fact)]
