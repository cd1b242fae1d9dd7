"""What the assistant says instead of an answer the guard rejected, or instead of asking a model
that cannot write the conversation's language: the best article's own answer with a short
lead-in when an article is close enough to the question, else an honest "I don't know" with the
closest articles to look at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from helpline.chat.grounding import Bar, Source

DIRECT_MODEL = "faq"  # model_used of an answer taken straight from a FAQ
GUARD_MODEL = "guard"  # model_used of an "I don't know" written by the guard

_LEAD_IN = {
    "en": "Here is what our help article “{title}” says:",
    "es": "Esto es lo que dice nuestro artículo de ayuda «{title}»:",
    "fr": "Voici ce que dit notre article d'aide « {title} » :",
    "de": "Das steht in unserem Hilfeartikel „{title}“:",
}
_DONT_KNOW = {
    "en": "I'm sorry, I don't know the answer to that, and I'd rather not guess.",
    "es": "Lo siento, no sé la respuesta y prefiero no adivinar.",
    "fr": "Désolé, je ne connais pas la réponse et je préfère ne pas deviner.",
    "de": "Das weiß ich leider nicht, und raten möchte ich nicht.",
}
_WITH_RELATED = {
    "en": "These help articles are the closest I found; if they don't help, try asking in other words "
    "or contact our support team.",
    "es": "Estos artículos de ayuda son los más cercanos que encontré; si no te sirven, prueba a "
    "preguntarlo de otra forma o contacta con nuestro equipo de soporte.",
    "fr": "Voici les articles d'aide les plus proches que j'ai trouvés ; s'ils ne vous aident pas, "
    "reformulez votre question ou contactez notre équipe d'assistance.",
    "de": "Diese Hilfeartikel kommen der Frage am nächsten; wenn sie nicht helfen, formulieren Sie "
    "die Frage anders oder wenden Sie sich an unser Support-Team.",
}
_WITHOUT_RELATED = {
    "en": "Try asking in other words, or contact our support team.",
    "es": "Prueba a preguntarlo de otra forma o contacta con nuestro equipo de soporte.",
    "fr": "Reformulez votre question ou contactez notre équipe d'assistance.",
    "de": "Formulieren Sie die Frage anders oder wenden Sie sich an unser Support-Team.",
}
RELATED_COUNT = 3


def _text(table: dict[str, str], language: str) -> str:
    return table.get(language.split("-")[0].lower(), table["en"])


_GREETING = {
    "en": "Hello! I'm the support assistant: ask me about our products and services, and I'll answer from "
    "our help articles.",
    "es": "¡Hola! Soy el asistente de soporte: pregúntame sobre nuestros productos y servicios y te "
    "responderé con nuestros artículos de ayuda.",
    "fr": "Bonjour ! Je suis l'assistant du support : posez-moi vos questions sur nos produits et services, "
    "je vous répondrai à partir de nos articles d'aide.",
    "de": "Hallo! Ich bin der Support-Assistent: Fragen Sie mich zu unseren Produkten und Diensten, ich "
    "antworte mit unseren Hilfeartikeln.",
}

Action = Literal["article", "dont_know", "greeting"]


@dataclass(frozen=True, slots=True)
class Fallback:
    action: Action
    content: str
    sources: list[Source]  # what the reply is taken from (the article), shown as its source
    related: list[Source]  # the closest articles, offered with "I don't know"

    @property
    def model(self) -> str:
        return DIRECT_MODEL if self.action == "article" else GUARD_MODEL

    def meta(self, reason: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"action": self.action, "reason": reason, **(details or {})}


def fallback(language: str, ranked: Sequence[Source], *, bar: Bar, small_talk: bool = False) -> Fallback:
    """The reply without the model: ``ranked`` are the question's FAQs in the search's order,
    best first. The first stands in when it clears ``bar``; never
    a lower-ranked one that happens to be more similar by cosine alone (for a Spanish question
    and an English embedder that was another article, sharing a word or two). Small talk ("Hi!",
    "thanks") the model answered with invented facts gets a short greeting that says what the
    assistant is for: "I don't know" is no reply to "hello"."""
    if small_talk:
        return Fallback("greeting", _text(_GREETING, language), [], [])
    if ranked and ranked[0].clears(bar):
        best = ranked[0]
        content = _text(_LEAD_IN, language).format(title=best.question) + "\n\n" + best.answer
        return Fallback("article", content, [best], [])
    related = list(ranked[:RELATED_COUNT])
    tail = _text(_WITH_RELATED if related else _WITHOUT_RELATED, language)
    return Fallback("dont_know", f"{_text(_DONT_KNOW, language)} {tail}", [], related)
