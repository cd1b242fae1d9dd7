// The widget's own strings in the app's four languages. Kept here rather than in i18next's
// locale files: the widget must stay one small script without the app's i18n runtime.

const STRINGS = {
  en: {
    open: "Open chat",
    close: "Close chat",
    title: "Help",
    message: "Message",
    placeholder: "Ask a question…",
    send: "Send",
    typing: "Typing…",
    you: "You:",
    assistant: "Assistant:",
    sources: "Sources",
    related: "Closest articles",
    newTab: "(opens in a new tab)",
    loading: "Loading…",
    unavailable: "Chat is unavailable right now. Please try again later.",
    signIn: "Sign in on {site} to chat.",
    keep: "Create an account to keep this conversation",
    tooMany: "Too many messages. Please wait {seconds} seconds and try again.",
    tooManySoon: "Too many messages. Please wait a moment and try again.",
    failed: "Sorry, the answer could not be completed.",
    retry: "Try again",
    invalid: "This message could not be sent.",
  },
  es: {
    open: "Abrir chat",
    close: "Cerrar chat",
    title: "Ayuda",
    message: "Mensaje",
    placeholder: "Haz una pregunta…",
    send: "Enviar",
    typing: "Escribiendo…",
    you: "Tú:",
    assistant: "Asistente:",
    sources: "Fuentes",
    related: "Artículos más cercanos",
    newTab: "(se abre en una pestaña nueva)",
    loading: "Cargando…",
    unavailable: "El chat no está disponible en este momento. Inténtalo más tarde.",
    signIn: "Inicia sesión en {site} para chatear.",
    keep: "Crea una cuenta para conservar esta conversación",
    tooMany: "Demasiados mensajes. Espera {seconds} segundos e inténtalo de nuevo.",
    tooManySoon: "Demasiados mensajes. Espera un momento e inténtalo de nuevo.",
    failed: "Lo sentimos, no se pudo completar la respuesta.",
    retry: "Reintentar",
    invalid: "No se pudo enviar este mensaje.",
  },
  fr: {
    open: "Ouvrir le chat",
    close: "Fermer le chat",
    title: "Aide",
    message: "Message",
    placeholder: "Posez une question…",
    send: "Envoyer",
    typing: "En train d’écrire…",
    you: "Vous :",
    assistant: "Assistant :",
    sources: "Sources",
    related: "Articles les plus proches",
    newTab: "(s’ouvre dans un nouvel onglet)",
    loading: "Chargement…",
    unavailable: "Le chat n’est pas disponible pour le moment. Réessayez plus tard.",
    signIn: "Connectez-vous sur {site} pour discuter.",
    keep: "Créez un compte pour garder cette conversation",
    tooMany: "Trop de messages. Patientez {seconds} secondes puis réessayez.",
    tooManySoon: "Trop de messages. Patientez un instant puis réessayez.",
    failed: "Désolé, la réponse n’a pas pu être terminée.",
    retry: "Réessayer",
    invalid: "Ce message n’a pas pu être envoyé.",
  },
  de: {
    open: "Chat öffnen",
    close: "Chat schließen",
    title: "Hilfe",
    message: "Nachricht",
    placeholder: "Stellen Sie eine Frage…",
    send: "Senden",
    typing: "Schreibt…",
    you: "Sie:",
    assistant: "Assistent:",
    sources: "Quellen",
    related: "Ähnlichste Artikel",
    newTab: "(öffnet in einem neuen Tab)",
    loading: "Wird geladen…",
    unavailable: "Der Chat ist gerade nicht verfügbar. Bitte versuchen Sie es später erneut.",
    signIn: "Melden Sie sich bei {site} an, um zu chatten.",
    keep: "Erstellen Sie ein Konto, um dieses Gespräch zu behalten",
    tooMany: "Zu viele Nachrichten. Bitte warten Sie {seconds} Sekunden und versuchen Sie es erneut.",
    tooManySoon: "Zu viele Nachrichten. Bitte warten Sie kurz und versuchen Sie es erneut.",
    failed: "Die Antwort konnte leider nicht fertiggestellt werden.",
    retry: "Erneut versuchen",
    invalid: "Diese Nachricht konnte nicht gesendet werden.",
  },
} as const;

export type Lang = keyof typeof STRINGS;
export type Strings = { [K in keyof (typeof STRINGS)["en"]]: string };

/** The supported language closest to a tag such as "es-MX" (English when none fits). */
export function pickLanguage(...tags: (string | null | undefined)[]): Lang {
  for (const tag of tags) {
    const base = (tag ?? "").trim().toLowerCase().split(/[-_]/)[0] ?? "";
    if (base in STRINGS) return base as Lang;
  }
  return "en";
}

export function strings(lang: Lang): Strings {
  return STRINGS[lang];
}

/** Fill `{name}` placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (all, name: string) => String(values[name] ?? all));
}
