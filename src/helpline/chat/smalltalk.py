"""Small talk: a message that is only a greeting, thanks, a goodbye, an acknowledgement, or a
question about the assistant itself ("who are you?", "what can you do?"), in the four languages
of the prompts. Such a message needs no article: the model answers it in its own friendly words,
while any other question that no article clears the bar for gets the honest "I don't know"
(chat.service: a support assistant does not answer trivia from the model's memory).

Written as phrase lists rather than with a classifier: the phrases are few and closed, and a
wrong "small talk" costs a model answer the guard still checks, while a wrong "not small talk"
costs a greeting answered with "I don't know"; both lists are easy to read and extend."""

from __future__ import annotations

import re

from helpline.faqs.query import APOSTROPHES

_PHRASES = [
    # greetings
    r"hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)|morning|evening",
    r"hola|buenas|buenos d[ií]as|buenas (?:tardes|noches)|bonjour|bonsoir|salut|coucou",
    r"hallo|guten (?:tag|morgen|abend)|servus|moin|gr[üu](?:ß|ss) (?:gott|dich|sie)",
    # thanks and goodbyes
    r"(?:many |big )?thanks?(?: you)?(?: (?:so|very) much| a lot| again| for (?:your|the) help)?|thx|ty|cheers",
    r"(?:muchas )?gracias|merci(?: beaucoup)?|danke(?: sch[öo]n| sehr)?|vielen dank",
    r"bye|goodbye|good bye|see you(?: later| soon)?|have a (?:nice|good|great) day|take care",
    r"adi[óo]s|hasta (?:luego|pronto)|chao|au revoir|à bient[ôo]t|bonne journ[ée]e|tsch[üu]ss|auf wiedersehen",
    # acknowledgements
    r"ok(?:ay)?|k|great|cool|nice|perfect|awesome|sure|fine|alright|all right|got it|understood|"
    r"i see|sounds good|that helps|that helped|it worked|yes|yeah|yep|no|nope",
    r"vale|perfecto|genial|entendido|de acuerdo|s[ií]|d'accord|parfait|super|entendu|oui|non|"
    r"alles klar|verstanden|gut|ja|nein",
    # how are you
    r"how are you(?: doing)?(?: today)?|how's it going|how are things|what's up|sup",
    r"qu[ée] tal|c[óo]mo est[áa]s?|[çc]a va|comment [çc]a va|comment allez-vous|wie geht'?s(?: dir| ihnen)?",
    # the assistant itself
    r"who are you|what are you|what's your name|what is your name|who am i (?:talking|speaking) (?:to|with)|"
    r"are you (?:a |an )?(?:bot|robot|human|person|real person|ai|machine)|are you real|"
    r"what can you do|what do you do|how can you help(?: me)?|what can you help (?:me )?with|"
    r"can you help me|i need help|help",
    r"qui[ée]n eres|qu[ée] eres|c[óo]mo te llamas|eres (?:un )?(?:bot|robot|humano|persona)|"
    r"qu[ée] puedes hacer|en qu[ée] (?:me )?puedes ayudar|puedes ayudarme|necesito ayuda|ayuda",
    r"qui es-tu|qui [êe]tes-vous|tu es (?:un )?(?:bot|robot|humain)|vous [êe]tes (?:un )?(?:bot|robot|humain)|"
    r"que (?:peux-tu|pouvez-vous) faire|(?:peux-tu|pouvez-vous) m'aider|j'ai besoin d'aide|aide",
    r"wer bist du|wer sind sie|was bist du|bist du (?:ein )?(?:bot|roboter|mensch)|was kannst du|"
    r"was k[öo]nnen sie|kannst du mir helfen|k[öo]nnen sie mir helfen|ich brauche hilfe|hilfe",
]
_PHRASES.append(r"robot|bot|assistant|friend|buddy|mate|amigo|ami")  # "hello there, robot"
# Who the message is addressed to ("hi there", "thanks team").
_ADDRESS = r"(?: there| team| all| everyone| folks| guys| bot| assistant| again| equipo| à tous| zusammen)?"
_PHRASE = rf"(?:{'|'.join(_PHRASES)}){_ADDRESS}"
_SMALL_TALK = re.compile(rf"(?:{_PHRASE})(?:[\s,;.!?¡¿:)-]+(?:{_PHRASE}))*", re.IGNORECASE)
_NOISE = re.compile(r"[\s,;.!?¡¿:()\-~*_\"'“”«»]+|[^\w\s',;.!?¡¿:()\-]+")  # punctuation and emoji


def small_talk(message: str) -> bool:
    """Whether ``message`` is nothing but small talk ("Hi! Who are you?", "thanks, bye")."""
    text = _NOISE.sub(" ", message.translate(APOSTROPHES)).strip()
    if not text or len(text) > 120:
        return not text
    return _SMALL_TALK.fullmatch(text) is not None
