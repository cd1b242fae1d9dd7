"""When a conversation goes to a person without a button: the user asks for one in words ("talk
to a human", in English, Spanish, French or German), or says a word from the configured list."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal

from helpline.core.config import SupportSettings

# Matched on text folded to lowercase ASCII-ish (accents dropped, curly apostrophes straight).
_ASKS = [
    # en
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some|real|actual)?\s*(real\s+|live\s+|actual\s+)?"
    r"(human|person|people|agent|representative|rep|someone|somebody|operator)\b",
    r"\b(human|live|real)\s+(agent|person|support|being|operator)\b",
    r"\b(get|want|need)\s+(me\s+)?(a|an)\s+(human|person|agent|operator)\b",
    r"\bcustomer\s+(service|support)\s+(agent|representative|rep)\b",
    # es
    r"\bhablar\s+con\s+(una?\s+)?(persona|humano|agente|operador|alguien)\b",
    r"\b(persona|agente)\s+(real|humano|humana)\b",
    # fr
    r"\bparler\s+(a|avec)\s+(un|une|quelqu'un|un\s+vrai|une\s+vraie)?\s*(humain|personne|conseiller|"
    r"conseillere|agent|operateur|vrai|vraie)\b",
    r"\bparler\s+(a|avec)\s+quelqu'un\b",
    r"\b(agent|conseiller)\s+humain\b",
    r"\bvraie\s+personne\b",
    # de
    r"\bmit\s+(einem|einer|jemandem)\s+(echten\s+|richtigen\s+)?(menschen|mensch|person|mitarbeiter|"
    r"mitarbeiterin|berater|beraterin)\b",
    r"\b(echten|richtigen)\s+(menschen|mitarbeiter)\b",
    r"\bmenschliche[nr]?\s+(mitarbeiter|ansprechpartner|berater)\b",
]
_ASKS_RE = re.compile("|".join(f"(?:{p})" for p in _ASKS))


# The words that can start a request for a person (each pattern's first word): a message with
# none of them is not one, found with a set lookup instead of running the patterns over it. A
# chat turn pays this on every message, so it is kept to microseconds.
_ANCHORS = frozenset(
    {
        "talk",
        "speak",
        "chat",
        "human",
        "live",
        "real",
        "get",
        "want",
        "need",
        "customer",
        "hablar",
        "persona",
        "agente",
        "parler",
        "agent",
        "conseiller",
        "vraie",
        "mit",
        "echten",
        "richtigen",
        "menschliche",
        "menschlichen",
        "menschlicher",
    }
)
_PUNCTUATION = str.maketrans(dict.fromkeys('!"#$%&()*+,./:;<=>?@[\\]^_`{|}~¿¡«»…“”„', " "))


def fold(text: str) -> str:
    """Lowercase, accents dropped, curly apostrophes straightened, spaces collapsed."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u02bc", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


def _asks(folded: str) -> bool:
    if _ANCHORS.isdisjoint(folded.translate(_PUNCTUATION).split()):
        return False
    return _ASKS_RE.search(folded) is not None


def asks_for_person(text: str) -> bool:
    """Whether the message asks for a person ("talk to a human", "hablar con una persona",
    "parler à un conseiller", "mit einem Menschen sprechen", ...)."""
    return _asks(fold(text))


@functools.lru_cache(maxsize=8)
def _keywords(keywords: tuple[str, ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern for the whole list (compiled once per list), and each folded keyword's original."""
    originals = {fold(k): k for k in reversed(keywords) if fold(k)}
    if not originals:
        return None, {}
    alternatives = "|".join(re.escape(k) for k in sorted(originals, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"), originals


def _keyword(folded: str, keywords: list[str]) -> str | None:
    pattern, originals = _keywords(tuple(keywords))
    match = pattern.search(folded) if pattern is not None else None
    return originals[match.group(0)] if match else None


def keyword_in(text: str, keywords: list[str]) -> str | None:
    """A configured keyword the message contains (whole words, case and accents ignored)."""
    return _keyword(fold(text), keywords)


def escalation_reason(settings: SupportSettings, text: str) -> str | None:
    """Why this message hands the conversation to a person at once ("phrase", "keyword"), or None."""
    if not settings.enabled:
        return None
    folded = fold(text)
    if _asks(folded):
        return "phrase"
    if settings.escalate_keywords and _keyword(folded, settings.escalate_keywords):
        return "keyword"
    return None


# The rules that hand a conversation over after the fact (support.relay.escalate_by_rule).
Rule = Literal["flagged", "no_source"]


def rule_on(settings: SupportSettings, rule: Rule) -> bool:
    """Whether this rule hands conversations over here: support on, and the rule's setting
    (escalate_flagged; escalate_after_no_source above 0)."""
    if not settings.enabled:
        return False
    if rule == "flagged":
        return settings.escalate_flagged
    return settings.escalate_after_no_source > 0
