"""When a conversation goes to a person without a button: the user asks for one in words ("talk
to a human", in English, Spanish, French or German), or says a word from the configured list."""

from __future__ import annotations

import re
import unicodedata

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


def fold(text: str) -> str:
    """Lowercase, accents dropped, curly apostrophes straightened, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u02bc", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


def asks_for_person(text: str) -> bool:
    """Whether the message asks for a person ("talk to a human", "hablar con una persona",
    "parler à un conseiller", "mit einem Menschen sprechen", ...)."""
    return _ASKS_RE.search(fold(text)) is not None


def keyword_in(text: str, keywords: list[str]) -> str | None:
    """The first configured keyword the message contains (whole words, case and accents ignored)."""
    folded = fold(text)
    for keyword in keywords:
        word = fold(keyword)
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            return keyword
    return None


def escalation_reason(settings: SupportSettings, text: str) -> str | None:
    """Why this message hands the conversation to a person at once ("phrase", "keyword"), or None."""
    if not settings.enabled:
        return None
    if asks_for_person(text):
        return "phrase"
    if settings.escalate_keywords and keyword_in(text, settings.escalate_keywords):
        return "keyword"
    return None
