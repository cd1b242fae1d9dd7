"""The chat context builder and the prompts: property tests on the budget rules, examples for the rest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpline.ai.base import ChatMessage, Role, TokenCounter
from helpline.ai.context import KNOWLEDGE_SEPARATOR, TRUNCATION_MARKER, BuiltContext, build_context
from helpline.ai.prompts import (
    SUPPORTED_LANGUAGES,
    SYSTEM_PROMPTS,
    Article,
    knowledge_block,
    language_chain,
    resolve_language,
    system_prompt,
)
from helpline.ai.providers.fake import WordCounter

# --- counters --------------------------------------------------------------------------------


class CharCounter:
    """One token per character, 4 tokens of overhead per message and 2 per prompt (additive)."""

    def count(self, text: str) -> int:
        return len(text)

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content) + 4 for m in messages) + 2


class LumpyCounter:
    """Not additive, like a real tokenizer can be: text rounds up to 4-character chunks (so parts
    cost more than the whole) and every 5 messages cost one token more (so the whole costs more
    than its parts)."""

    def count(self, text: str) -> int:
        return math.ceil(len(text) / 4)

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        return sum(self.count(m.content) + 3 for m in messages) + 3 + len(messages) // 5


class RecordingCounter:
    """A WordCounter that tallies how many messages it was asked to count."""

    def __init__(self) -> None:
        self.inner = WordCounter()
        self.messages_counted = 0

    def count(self, text: str) -> int:
        return self.inner.count(text)

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        self.messages_counted += len(messages)
        return self.inner.count_messages(messages)


ADDITIVE: list[TokenCounter] = [WordCounter(), CharCounter()]
ALL_COUNTERS: list[TokenCounter] = [*ADDITIVE, LumpyCounter()]


# --- strategies ------------------------------------------------------------------------------

# Words, spaces and newlines so that word and character counts differ; no "…", so the marker can
# only come from the builder.
texts = st.text(alphabet="abcdxyzé ü\n", max_size=80)
ROLE_MIX: list[Role] = ["user", "user", "assistant", "assistant", "assistant", "system"]
roles = st.sampled_from(ROLE_MIX)


@st.composite
def messages(draw: st.DrawFn) -> ChatMessage:
    return ChatMessage(draw(roles), draw(texts))


articles = st.builds(Article, title=st.text(alphabet="abc xy", max_size=20), body=texts)


@dataclass
class Case:
    system_prompt: str
    history: list[ChatMessage]
    current: str
    context_window: int
    max_answer_tokens: int
    knowledge: list[Article]
    knowledge_budget: int
    language: str

    def build(self, counter: TokenCounter) -> BuiltContext:
        return build_context(
            system_prompt=self.system_prompt,
            history=self.history,
            current=self.current,
            counter=counter,
            context_window=self.context_window,
            max_answer_tokens=self.max_answer_tokens,
            knowledge=self.knowledge,
            knowledge_budget=self.knowledge_budget,
            language=self.language,
        )

    @property
    def budget(self) -> int:
        return self.context_window - self.max_answer_tokens


@st.composite
def cases(draw: st.DrawFn, counter: TokenCounter) -> Case:
    """A case whose prompt budget ranges from a little less than the least possible prompt (the
    system prompt and a bare marker) to a little more than everything, so that every outcome is
    common: refusal, a cut message, some history, some articles."""
    system = draw(st.text(alphabet="ab c\n", min_size=1, max_size=150))
    history = draw(st.lists(messages(), max_size=40))
    current = draw(st.one_of(texts, st.text(alphabet="abcdxyz \n", min_size=100, max_size=600)))
    knowledge = draw(st.lists(articles, max_size=6))
    language = draw(st.sampled_from(["en", "es", "fr", "de", "pt-BR", "ja"]))
    least = counter.count_messages([ChatMessage("system", system), ChatMessage("user", TRUNCATION_MARKER)])
    everything = counter.count_messages(
        [
            ChatMessage("system", system + KNOWLEDGE_SEPARATOR + knowledge_block(language, knowledge)),
            *history,
            ChatMessage("user", current),
        ]
    )
    # A share of the span rather than a number in it, so that draws spread over the whole span.
    low, high = max(1, least - 3), everything + 10
    budget = low + (high - low) * draw(st.integers(min_value=0, max_value=100)) // 100
    max_answer_tokens = draw(st.integers(min_value=0, max_value=400))
    knowledge_cost = everything - counter.count_messages(
        [ChatMessage("system", system), *history, ChatMessage("user", current)]
    )
    return Case(
        system_prompt=system,
        history=history,
        current=current,
        context_window=budget + max_answer_tokens,
        max_answer_tokens=max_answer_tokens,
        knowledge=knowledge,
        knowledge_budget=draw(st.integers(min_value=0, max_value=knowledge_cost + 10)),
        language=language,
    )


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers ---------------------------------------------------------------------------------


def turn_start_before(history: Sequence[ChatMessage], end: int) -> int:
    """The start of the turn that ends just before ``end``: back to the nearest user message."""
    i = end - 1
    while i > 0 and history[i].role != "user":
        i -= 1
    return i


def split_cut(text: str) -> tuple[str, str]:
    """The kept start and end of a cut message."""
    before, marker, after = text.partition(TRUNCATION_MARKER)
    assert marker == TRUNCATION_MARKER
    assert not before or before.endswith("\n")
    assert not after or after.startswith("\n")
    return before[:-1], after[1:]


def knowledge_cost(counter: TokenCounter, case: Case, chosen: Sequence[Article]) -> int:
    text = KNOWLEDGE_SEPARATOR + knowledge_block(case.language, chosen) if chosen else ""
    return counter.count(case.system_prompt + text) - counter.count(case.system_prompt)


def check_structure(case: Case, counter: TokenCounter, out: BuiltContext) -> None:
    """What holds for every counter, additive or not."""
    msgs = out.messages
    event("current cut" if out.current_truncated else "current whole")
    event(f"history kept: {'all' if out.history_used == len(case.history) else 'some' if out.history_used else 'none'}")
    event(f"articles: {len(out.articles_used)} of {len(case.knowledge)} used")
    # The budget, with the count the caller will see.
    assert out.prompt_tokens == counter.count_messages(msgs)
    assert out.prompt_tokens <= case.budget

    # System prompt first, whole, with exactly the used articles after it.
    assert msgs[0].role == "system"
    expected_system = case.system_prompt
    if out.articles_used:
        expected_system += KNOWLEDGE_SEPARATOR + knowledge_block(case.language, out.articles_used)
    assert msgs[0].content == expected_system

    # Current message last: whole, or its start and end around the marker.
    assert msgs[-1].role == "user"
    if out.current_truncated:
        head, tail = split_cut(msgs[-1].content)
        assert case.current.startswith(head)
        assert case.current.endswith(tail)
        assert len(head) + len(tail) < len(case.current)
    else:
        assert msgs[-1].content == case.current

    # History: a most-recent suffix, in order, starting at a turn boundary.
    start = len(case.history) - out.history_used
    assert 0 <= start <= len(case.history)
    assert msgs[1:-1] == case.history[start:]
    assert start in (0, len(case.history)) or case.history[start].role == "user"
    assert out.truncated == (out.current_truncated or start > 0)

    # Knowledge: a subsequence of the ranking, in rank order, within its budget.
    ranks = [next(i for i, a in enumerate(case.knowledge) if a is used) for used in out.articles_used]
    assert ranks == sorted(set(ranks))
    assert out.knowledge_tokens == knowledge_cost(counter, case, out.articles_used)
    assert out.knowledge_tokens <= case.knowledge_budget


def check_maximal(case: Case, counter: TokenCounter, out: BuiltContext) -> None:
    """With an additive counter the greedy choices are exact: nothing more would have fitted."""
    system, user = out.messages[0], out.messages[-1]
    # History: the next older whole turn would not fit.
    start = len(case.history) - out.history_used
    if start > 0:
        older = turn_start_before(case.history, start)
        assert counter.count_messages([system, *case.history[older:], user]) > case.budget

    # Knowledge: every skipped article would have overflowed the limit when it was tried.
    core = counter.count_messages([ChatMessage("system", case.system_prompt), user])
    limit = min(case.knowledge_budget, case.budget - core)
    chosen: list[Article] = []
    used_ids = {id(a) for a in out.articles_used}
    for article in case.knowledge:
        if id(article) in used_ids:
            chosen.append(article)
        else:
            assert knowledge_cost(counter, case, [*chosen, article]) > limit
    assert chosen == out.articles_used


def check_refusal(case: Case, counter: TokenCounter) -> None:
    """A ValueError only when even the system prompt and a bare marker cannot fit."""
    event("refused")
    if case.budget <= 0:
        return
    system = ChatMessage("system", case.system_prompt)
    assert counter.count_messages([system, ChatMessage("user", case.current)]) > case.budget
    assert counter.count_messages([system, ChatMessage("user", TRUNCATION_MARKER)]) > case.budget


# --- properties ------------------------------------------------------------------------------


def counter_and_case(counters: Sequence[TokenCounter]) -> st.SearchStrategy[tuple[TokenCounter, Case]]:
    return st.sampled_from(counters).flatmap(lambda c: st.tuples(st.just(c), cases(c)))


@PROPERTY
@given(counter_and_case(ADDITIVE))
def test_additive_counters_fill_the_budget_without_exceeding_it(drawn: tuple[TokenCounter, Case]) -> None:
    counter, case = drawn
    try:
        out = case.build(counter)
    except ValueError:
        check_refusal(case, counter)
        return
    check_structure(case, counter, out)
    check_maximal(case, counter, out)


@PROPERTY
@given(counter_and_case([LumpyCounter()]))
def test_a_non_additive_counter_never_exceeds_the_budget(drawn: tuple[TokenCounter, Case]) -> None:
    counter, case = drawn
    try:
        out = case.build(counter)
    except ValueError:
        check_refusal(case, counter)
        return
    check_structure(case, counter, out)


@settings(max_examples=100, deadline=None)
@given(
    history=st.lists(messages(), min_size=1, max_size=30),
    window=st.integers(min_value=60, max_value=400),
    counter=st.sampled_from(ALL_COUNTERS),
)
def test_a_bigger_window_never_keeps_less_history(
    history: list[ChatMessage], window: int, counter: TokenCounter
) -> None:
    def used(w: int) -> int:
        return build_context(
            system_prompt="Be brief.",
            history=history,
            current="hi",
            counter=counter,
            context_window=w,
            max_answer_tokens=10,
        ).history_used

    assert used(window) <= used(window + 25)


# --- the builder, by example -----------------------------------------------------------------


def build(**overrides: object) -> BuiltContext:
    args: dict[str, object] = {
        "system_prompt": "You help.",
        "history": [],
        "current": "hello",
        "counter": WordCounter(),
        "context_window": 1000,
        "max_answer_tokens": 100,
    }
    args.update(overrides)
    return build_context(**args)  # type: ignore[arg-type]


def conversation(turns: int, words: int = 5) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for n in range(turns):
        out.append(ChatMessage("user", " ".join(f"q{n}" for _ in range(words))))
        out.append(ChatMessage("assistant", " ".join(f"a{n}" for _ in range(words))))
    return out


def test_everything_fits_in_a_roomy_window() -> None:
    history = conversation(3)
    out = build(history=history)
    assert out.messages == [ChatMessage("system", "You help."), *history, ChatMessage("user", "hello")]
    assert out.history_used == 6
    assert not out.truncated
    assert out.prompt_tokens == WordCounter().count_messages(out.messages)


def test_old_turns_go_first_and_turns_are_not_split() -> None:
    # WordCounter: 3 per prompt, 3 + words per message. System 2 + 3, current 1 + 3: 12 in all.
    history = conversation(3)  # each message 5 words: 8 tokens, a turn 16
    # Room for two turns and a half: the half-turn is left out, the older turn with it.
    out = build(history=history, context_window=12 + 16 * 2 + 8, max_answer_tokens=0)
    assert out.history_used == 4
    assert out.messages[1:-1] == history[2:]
    assert out.truncated
    assert out.prompt_tokens == 12 + 32


def test_an_answer_is_not_kept_without_its_question() -> None:
    history = conversation(1)
    out = build(history=history, context_window=12 + 8, max_answer_tokens=0)  # room for one message
    assert out.history_used == 0
    assert out.messages == [ChatMessage("system", "You help."), ChatMessage("user", "hello")]


def test_messages_before_the_first_question_are_one_turn() -> None:
    greeting = ChatMessage("assistant", "Hi! How can I help?")
    history = [greeting, *conversation(1, words=1)]
    out = build(history=history, context_window=12 + 4 * 2, max_answer_tokens=0)
    assert out.messages[1:-1] == history[1:]
    out = build(history=history, context_window=12 + 4 * 2 + 8, max_answer_tokens=0)
    assert out.messages[1:-1] == history


def test_an_unanswered_question_is_a_turn_of_its_own() -> None:
    history = [*conversation(1, words=1), ChatMessage("user", "still there?")]
    out = build(history=history, context_window=12 + 5, max_answer_tokens=0)
    assert out.messages[1:-1] == history[-1:]


def test_counting_stops_once_the_budget_is_full() -> None:
    counter = RecordingCounter()
    history = conversation(2500)  # 5,000 messages
    out = build(history=history, counter=counter, context_window=12 + 16 * 10, max_answer_tokens=0)
    assert out.history_used == 20
    # The kept messages are counted twice (alone, then in the final list), plus a few others.
    assert counter.messages_counted < 2 * out.history_used + 20


def test_a_long_current_message_is_cut_in_the_middle_to_fill_the_budget() -> None:
    counter = CharCounter()
    current = "START" + "x" * 5000 + "END"
    out = build(
        current=current,
        history=conversation(2),
        counter=counter,
        context_window=400,
        max_answer_tokens=100,
    )
    text = out.messages[-1].content
    assert out.current_truncated
    assert out.truncated
    assert out.history_used == 0
    assert text.startswith("START")
    assert text.endswith("END")
    assert f"\n{TRUNCATION_MARKER}\n" in text
    assert out.prompt_tokens == 300  # characters are exact: the cut fills the budget


def test_a_current_message_with_no_room_but_the_marker() -> None:
    # System prompt 2 words + 3, marker 1 + 3, prompt 3: 12 tokens.
    out = build(current="one two three four", context_window=12, max_answer_tokens=0)
    assert out.messages[-1] == ChatMessage("user", TRUNCATION_MARKER)
    assert out.prompt_tokens == 12


def test_a_system_prompt_that_leaves_no_room_is_an_error() -> None:
    with pytest.raises(ValueError, match="system prompt"):
        build(system_prompt="word " * 200, context_window=150, max_answer_tokens=0)
    # Just too long for the marker, but the (shorter) message itself fits: no error.
    out = build(system_prompt="a b", current="", context_window=12, max_answer_tokens=0)
    assert out.messages[-1] == ChatMessage("user", "")


@pytest.mark.parametrize(
    ("window", "answer", "knowledge_budget"),
    [(0, 0, 0), (100, 100, 0), (100, 200, 0), (100, -1, 0), (100, 10, -1)],
)
def test_impossible_settings_are_errors(window: int, answer: int, knowledge_budget: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per argument
        build(context_window=window, max_answer_tokens=answer, knowledge_budget=knowledge_budget)


# --- knowledge -------------------------------------------------------------------------------


def test_knowledge_goes_in_the_system_message_numbered_for_citations() -> None:
    reset = Article("How do I reset my password?", "Open Settings, then Security.", ref="faq-1")
    billing = Article("When am I billed?", "On the first day of each month.", ref="faq-2")
    out = build(knowledge=[reset, billing], knowledge_budget=200, language="en")
    system = out.messages[0].content
    assert system.startswith("You help." + KNOWLEDGE_SEPARATOR + "Knowledge-base articles")
    assert "[1] How do I reset my password?\nOpen Settings, then Security." in system
    assert "[2] When am I billed?\nOn the first day of each month." in system
    assert "faq-1" not in system
    assert out.articles_used == [reset, billing]
    assert 0 < out.knowledge_tokens <= 200


def test_an_article_too_big_is_skipped_and_the_rest_renumbered() -> None:
    big = Article("Everything", "word " * 300)
    small = Article("Short", "One line.")
    smaller = Article("Tiny", "Yes.")
    out = build(knowledge=[big, small, smaller], knowledge_budget=40, language="de")
    system = out.messages[0].content
    assert out.articles_used == [small, smaller]
    assert "Artikel aus der Wissensdatenbank" in system
    assert "[1] Short\nOne line." in system
    assert "[2] Tiny\nYes." in system
    assert "Everything" not in system


def test_knowledge_never_takes_the_room_of_the_current_message() -> None:
    article = Article("Title", "body " * 50)
    out = build(knowledge=[article], knowledge_budget=1000, context_window=40, max_answer_tokens=0)
    assert out.articles_used == []
    assert out.messages[0].content == "You help."
    assert out.messages[-1].content == "hello"


def test_no_knowledge_budget_no_knowledge() -> None:
    out = build(knowledge=[Article("T", "B")], knowledge_budget=0)
    assert out.articles_used == []
    assert out.knowledge_tokens == 0
    assert out.messages[0].content == "You help."


def test_knowledge_block_format() -> None:
    block = knowledge_block("fr", [Article("  Titre \n sur deux lignes ", "  Corps.  "), Article("", "Sans titre")])
    assert block == (
        "Articles de la base de connaissances (cite-les par leur numéro, p. ex. [1]) :\n\n"
        "[1] Titre sur deux lignes\nCorps.\n\n"
        "[2]\nSans titre"
    )
    assert knowledge_block("en", []) == ""
    assert knowledge_block("pt-BR", [Article("T", "B")]).startswith("Artigos da base de conhecimento")
    assert knowledge_block("ja", [Article("T", "B")]).startswith("Knowledge-base articles")


# --- prompts ---------------------------------------------------------------------------------


def test_the_main_languages_have_their_own_prompt() -> None:
    assert {"en", "es", "fr", "de"} <= set(SUPPORTED_LANGUAGES)
    markers = {
        "en": "knowledge-base articles",
        "es": "base de conocimiento",
        "fr": "base de connaissances",
        "de": "Wissensdatenbank",
        "pt": "base de conhecimento",
        "it": "base di conoscenza",
    }
    assert set(markers) == set(SUPPORTED_LANGUAGES)
    assert len(set(SYSTEM_PROMPTS.values())) == len(SYSTEM_PROMPTS)
    for language, marker in markers.items():
        prompt = system_prompt(language)
        assert prompt == SYSTEM_PROMPTS[language]
        assert marker in prompt
        assert "[1]" in prompt
        assert "[2]" in prompt
        assert len(prompt) < 1500  # concise: it is sent with every turn


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pt-BR", "pt"),
        ("pt_br", "pt"),
        ("PT", "pt"),
        ("es-MX", "es"),
        (" de-AT ", "de"),
        ("fr-CA", "fr"),
        ("en-GB", "en"),
        ("ja", "en"),
        ("zh-Hant-TW", "en"),
        ("", "en"),
    ],
)
def test_language_fallback(language: str, expected: str) -> None:
    assert resolve_language(language) == expected
    assert system_prompt(language) == SYSTEM_PROMPTS[expected]


def test_language_chain() -> None:
    assert language_chain("pt-BR") == ["pt-br", "pt", "en"]
    assert language_chain("zh-Hant-TW") == ["zh-hant-tw", "zh-hant", "zh", "en"]
    assert language_chain("en-GB") == ["en-gb", "en"]
    assert language_chain("") == ["en"]


def test_overrides_win_for_their_language() -> None:
    overrides = {"pt-BR": "Brasil", "fr": "Maison", "EN": "House"}
    assert system_prompt("pt-BR", overrides) == "Brasil"
    assert system_prompt("pt_br", overrides) == "Brasil"
    assert system_prompt("pt", overrides) == SYSTEM_PROMPTS["pt"]
    assert system_prompt("fr-CA", overrides) == "Maison"
    assert system_prompt("en", overrides) == "House"
    assert system_prompt("en-US", overrides) == "House"
    # An English override is the fallback for languages without a prompt, not for built-in ones.
    assert system_prompt("ja", overrides) == "House"
    assert system_prompt("de", overrides) == SYSTEM_PROMPTS["de"]
    assert system_prompt("de", {}) == SYSTEM_PROMPTS["de"]
    assert system_prompt("de", None) == SYSTEM_PROMPTS["de"]


def test_a_star_override_replaces_every_language_without_its_own_override() -> None:
    overrides = {"*": "Everywhere", "es": "Aquí"}
    assert system_prompt("de", overrides) == "Everywhere"
    assert system_prompt("ja", overrides) == "Everywhere"
    assert system_prompt("en", overrides) == "Everywhere"
    assert system_prompt("es-AR", overrides) == "Aquí"


def test_a_real_prompt_through_the_builder() -> None:
    prompt = system_prompt("es")
    out = build_context(
        system_prompt=prompt,
        history=conversation(50),
        current="¿Cómo cambio mi contraseña?",
        counter=WordCounter(),
        context_window=600,
        max_answer_tokens=200,
        knowledge=[Article("Cambiar la contraseña", "Ve a Ajustes > Seguridad.")],
        knowledge_budget=100,
        language="es",
    )
    system = out.messages[0].content
    assert system.startswith(prompt + KNOWLEDGE_SEPARATOR + "Artículos de la base de conocimiento")
    assert "[1] Cambiar la contraseña" in system
    assert 0 < out.history_used < 100
    assert out.prompt_tokens <= 400
    assert out.messages[-1] == ChatMessage("user", "¿Cómo cambio mi contraseña?")
