"""What a customer typed, made ready for retrieval: query normalisation and follow-up rewriting.

Normalisation (``normalise``) drops what carries no topic and only pulls the query's vector and
words away from the FAQ it means: greetings and sign-offs ("hi there", "thanks in advance"),
politeness and preambles ("I was wondering if", "can you tell me", "please"), and calls for help
("please help me with", "I need help with", "... please help!", "asap"). Case, punctuation
and contractions are left to the embedders and the full-text parser, which were trained on or
fold them already: spelling contractions out ("hasn't" -> "has not") changed no result for the
better on bench/bench_retrieval_public.py and one for the worse, so it is not done. A message
that is all filler ("hello!") is kept as it is.

Written here rather than with a library: the filler lists are a support desk's, not a general
stop-word list (which would drop "how", "not" and "my").

Follow-ups (``contextual``): "and how long does that take?" says nothing about its topic on its
own. When a question is short and leans on what came before (it starts like a continuation, or
refers back with "that", "it", "them" and has few words of its own), it is searched together with
the previous user question. No model call: the signal is the wording, and ``chat.grounding``
also retries a short question with the previous one when its own retrieval finds nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A preamble or greeting at the start of a message, repeated ("hi, quick question: ...").
_LEADING = re.compile(
    r"^\s*(?:"
    r"(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day)|dear (?:sir|madam|team|support))"
    r"(?: there| team| guys| all| everyone)?"
    r"|hola|buenos d[ií]as|buenas(?: tardes| noches)?|bonjour|salut|hallo|guten (?:tag|morgen|abend)"
    r"|(?:quick|short|simple) question"
    r"|(?:please |pls |plz )?help (?:me|us)(?: please| pls| plz)?(?: with| to| on)?"
    r"|(?:please|pls|plz|kindly)"
    r"|i (?:need|want|would like|'d like) (?:some )?help(?: please)?(?: with| on)?"
    r"|(?:i was|i am|i'm|im) (?:just )?(?:wondering|curious)(?: if| whether| about)?"
    r"|i (?:would|'d) like to (?:know|ask)(?: if| whether| about)?"
    r"|i (?:want|need|wanted) to (?:know|ask)(?: if| whether| about)?"
    r"|(?:(?:can|could|would) (?:you|u)|(?:you|u) (?:can|could|would|might)) (?:please )?(?:tell|help|show) me"
    r"(?: with| about| if| whether)?"
    r"|(?:can|could) (?:you|u) (?:please )?(?:let me know|explain)(?: if| whether)?"
    r"|(?:do|does) (?:anyone|anybody|someone) know(?: if| whether)?"
    r"|i have a question(?: about)?"
    r")\b[\s,.:;!?-]*",
    re.IGNORECASE,
)
# Thanks and sign-offs at the end ("..., thanks in advance!").
_TRAILING = re.compile(
    r"[\s,.;:!-]*\b(?:"
    r"(?:many |big )?thanks?(?: you)?(?: so much| a lot| in advance| very much)?"
    r"|thx|ty|cheers|please|pls|plz|regards|best regards|kind regards"
    r"|(?:please |pls |plz )?help(?: me| us)?(?: please| pls| plz)?|asap|urgently"
    r"|any help (?:is|would be) (?:much |greatly |really )?appreciated"
    r"|gracias|merci|danke"
    r")\b[\s.!]*$",
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """``text`` without greetings, politeness and preambles, typographic apostrophes made plain
    and whitespace collapsed. Returns the text so (nothing removed) when nothing but filler would
    be left."""
    plain = " ".join(text.translate(APOSTROPHES).split())
    if not plain:
        return plain
    core = plain
    for _ in range(3):  # "hi, quick question, I was wondering if ..."
        stripped = _LEADING.sub("", core, count=1)
        if stripped == core:
            break
        core = stripped
    core = _TRAILING.sub("", core)
    core = " ".join(core.split()).strip(" ,;:-")
    if not _WORD.search(core):
        return plain
    return core


# How a follow-up starts: it continues the previous question instead of naming its own topic.
_CONTINUATION = re.compile(
    r"^\s*(?:and|also|plus|but|so|then|what about|how about|what if|same (?:for|with)|and if|or"
    r"|y|e|et|und|aber|mais|pero|¿y|qué tal|y si|et si|und wenn|was ist mit)\b",
    re.IGNORECASE,
)
# Words that point back at the previous question's topic.
_ANAPHORA = _words(
    "it its it's that this those these them they there one ones he she him her such same eso esto ello lo la  "
    "los las ça cela ce ceci le les das dies diese dieser es sie"
)
# Words that carry no topic of their own, for counting what a question says by itself.
_FUNCTION = _words(
    "a an the is are was were be been do does did can could will would should may might must i me my we our  "
    "you your to of in on at for from with by about how what when where why which who much many long take  "
    "takes took does done get got have has had and or but so if then also not no yes please any some more  "
    "less than too very just still"
)
# A follow-up has few words of its own; beyond this it names its topic.
MAX_OWN_WORDS = 4


def own_words(text: str) -> list[str]:
    """The topic words of ``text``: its words without function words and back-references."""
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _FUNCTION and w not in _ANAPHORA]


def is_follow_up(text: str) -> bool:
    """``text`` reads as a continuation of the previous question: it starts like one ("and ...",
    "what about ...") or refers back ("that", "it", "them") while naming at most MAX_OWN_WORDS
    topic words of its own."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return False
    if len(own_words(text)) > MAX_OWN_WORDS:
        return False
    return bool(_CONTINUATION.match(text)) or any(w in _ANAPHORA for w in words)


def with_context(question: str, previous: Sequence[str]) -> str:
    """The question preceded by the latest earlier user question, for retrieval."""
    prior = next((p for p in reversed(previous) if p.strip()), "")
    return f"{' '.join(prior.split())} {question}".strip() if prior else question


def contextual(question: str, previous: Sequence[str]) -> str:
    """What to retrieve for ``question`` given the conversation's earlier user questions (oldest
    first): the question with the latest of them when it is a follow-up, else the question."""
    if previous and is_follow_up(question):
        return with_context(question, previous)
    return question
