"""Query normalisation and follow-up rewriting (faqs/query.py): pure functions, no services."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpline.faqs.query import contextual, is_follow_up, normalise, own_words, with_context


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("Hi there, I was wondering if you could tell me how to reset my password?", "how to reset my password?"),
        ("Good morning, quick question: what is the exchange rate?", "what is the exchange rate?"),
        ("hello, can you please tell me how long a transfer takes", "how long a transfer takes"),
        ("I would like to know if I can get a refund", "I can get a refund"),
        ("I want to know why my card doesn't work", "why my card doesn't work"),
        ("please help me cancel a transfer pls", "cancel a transfer"),
        ("I need help with my card payment being declined", "my card payment being declined"),
        ("my card was stolen please help!", "my card was stolen"),
        ("Hello, help me with a top up that failed, any help would be appreciated", "a top up that failed"),
        ("refund for a cancelled order asap", "refund for a cancelled order"),
        ("My card hasn’t arrived and I can't log in, thanks in advance", "My card hasn't arrived and I can't log in"),
        ("Hola, ¿cómo cambio mi dirección? Gracias", "¿cómo cambio mi dirección?"),
    ],
)
def test_filler_goes_and_the_question_stays(typed: str, searched: str) -> None:
    assert normalise(typed) == searched


@pytest.mark.parametrize(
    "kept",
    [
        "How do I reset my password?",
        "Was kostet der Versand im Ausland?",
        "I want a refund",
        "student discount for events",
        "Where is the help center?",
        "Which cards help me save on fees?",
    ],
)
def test_a_plain_question_is_left_as_typed(kept: str) -> None:
    assert normalise(kept) == kept


@pytest.mark.parametrize("only_filler", ["hello!", "Hi there", "thanks!", "¡Hola!"])
def test_a_message_of_filler_alone_is_kept_whole(only_filler: str) -> None:
    assert normalise(only_filler) == only_filler


@given(st.text(max_size=200))
def test_normalising_never_fails_and_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == " ".join(once.split())


@pytest.mark.parametrize(
    ("question", "previous", "searched"),
    [
        ("and how long does that take?", ["How do I transfer money abroad?"],
         "How do I transfer money abroad? and how long does that take?"),
        ("what about for business accounts?", ["Is there a monthly fee?"],
         "Is there a monthly fee? what about for business accounts?"),
        ("How long is that link valid?", ["How do I reset my password?"],
         "How do I reset my password? How long is that link valid?"),
        ("¿y cuánto cuesta?", ["¿Cómo envío un paquete?"], "¿Cómo envío un paquete? ¿y cuánto cuesta?"),
        # The latest earlier user question is the context, not an older one.
        ("and how much is it?", ["How do I sign up?", "Which plans do you have?"],
         "Which plans do you have? and how much is it?"),
    ],
)  # fmt: skip
def test_a_follow_up_is_searched_with_the_previous_question(question: str, previous: list[str], searched: str) -> None:
    assert is_follow_up(question)
    assert contextual(question, previous) == searched


@pytest.mark.parametrize(
    "question",
    [
        "How do I cancel my card?",
        "What does international shipping to Canada cost for heavy parcels?",
        # Refers back, but names its own topic at length: searched alone.
        "Can I also change the delivery address and the phone number of that order online?",
    ],
)
def test_a_question_with_its_own_topic_is_searched_alone(question: str) -> None:
    assert not is_follow_up(question)
    assert contextual(question, ["How do I transfer money?"]) == question


def test_without_earlier_questions_nothing_is_added() -> None:
    assert contextual("and how long does that take?", []) == "and how long does that take?"
    assert contextual("and how long does that take?", ["  "]) == "and how long does that take?"
    assert with_context("and then?", ["", "How do I pay?", " "]) == "How do I pay? and then?"


def test_own_words_leave_out_function_words_and_back_references() -> None:
    assert own_words("And how long does that take?") == []
    assert own_words("what about business accounts") == ["business", "accounts"]
