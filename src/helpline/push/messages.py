"""What a push says, per kind and language (en, es, fr, de, as the mails): a title and a body,
with ``{placeholders}`` filled from the values the sender gave. Short on purpose: a notification
shows a line or two, and a push carries no personal content (the app shows that once opened)."""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

from helpline.notifications.mail import language_of

# kind -> language -> (title, body)
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "export_ready": {
        "en": ("Your data is ready", "Your data export can be downloaded from your account for {days} days."),
        "es": (
            "Tus datos están listos",
            "Puedes descargar la exportación de tus datos desde tu cuenta durante {days} días.",
        ),
        "fr": (
            "Vos données sont prêtes",
            "L'export de vos données est téléchargeable depuis votre compte pendant {days} jours.",
        ),
        "de": (
            "Deine Daten sind bereit",
            "Dein Datenexport kann {days} Tage lang in deinem Konto heruntergeladen werden.",
        ),
    },
    "human_reply": {
        "en": ("A person answered you", "Open your conversation to read the reply."),
        "es": ("Una persona te ha respondido", "Abre tu conversación para leer la respuesta."),
        "fr": ("Une personne vous a répondu", "Ouvrez votre conversation pour lire la réponse."),
        "de": ("Eine Person hat dir geantwortet", "Öffne deine Unterhaltung, um die Antwort zu lesen."),
    },
    "answer_ready": {
        "en": ("Your answer is ready", "The assistant answered your question. Open the conversation to read it."),
        "es": (
            "Tu respuesta está lista",
            "El asistente ha respondido a tu pregunta. Abre la conversación para leerla.",
        ),
        "fr": (
            "Votre réponse est prête",
            "L'assistant a répondu à votre question. Ouvrez la conversation pour la lire.",
        ),
        "de": (
            "Deine Antwort ist da",
            "Der Assistent hat deine Frage beantwortet. Öffne die Unterhaltung, um sie zu lesen.",
        ),
    },
    "admin_alerts": {
        "en": (
            "Questions need your attention",
            "In the last {minutes} minutes: {flagged} flagged messages, {unanswered} unanswered questions.",
        ),
        "es": (
            "Hay preguntas que requieren tu atención",
            "En los últimos {minutes} minutos: {flagged} mensajes marcados, {unanswered} preguntas sin respuesta.",
        ),
        "fr": (
            "Des questions demandent votre attention",
            "Ces {minutes} dernières minutes : {flagged} messages signalés, {unanswered} questions sans réponse.",
        ),
        "de": (
            "Fragen brauchen deine Aufmerksamkeit",
            "In den letzten {minutes} Minuten: {flagged} gemeldete Nachrichten, {unanswered} unbeantwortete Fragen.",
        ),
    },
}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def render(kind: str, language: str | None, values: Mapping[str, object]) -> tuple[str, str]:
    """The title and body of a push of ``kind`` in ``language`` (English when there is none).
    KeyError for an unknown kind or a placeholder without a value: a bug of the sender's."""
    title, body = TEXTS[kind][language_of(language)]
    missing = (_fields(title) | _fields(body)) - set(values)
    if missing:
        raise KeyError(f"push {kind!r} needs {', '.join(sorted(missing))}")
    return title.format_map(values), body.format_map(values)
