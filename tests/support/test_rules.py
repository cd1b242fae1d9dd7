"""The words that ask for a person, the keyword list, opening hours and the expectation text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpline.core.config import SupportSettings
from helpline.support.hours import is_open, parse_hours
from helpline.support.rules import asks_for_person, escalation_reason, keyword_in, rule_on
from helpline.support.service import expectation


@pytest.mark.parametrize(
    "text",
    [
        "talk to a human",
        "Can I speak to someone?",
        "I need a live agent",
        "let me talk with a real person please",
        "customer service representative",
        "quiero hablar con una persona",
        "¿Puedo hablar con un agente?",
        "Je veux parler à un humain",
        "parler a une vraie personne",
        "Je voudrais parler avec quelqu\u2019un",
        "Ich möchte mit einem Menschen sprechen",
        "bitte mit einem echten Mitarbeiter verbinden",
    ],
)
def test_asking_for_a_person(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I change my address?",
        "human resources department opening times",
        "¿Cuánto cuesta el envío?",
        "Une personne a signé pour mon colis",
        "Mein Paket ist nicht angekommen",
    ],
)
def test_other_messages_do_not(text: str) -> None:
    assert not asks_for_person(text)


def test_keywords_match_whole_words_ignoring_case_and_accents() -> None:
    assert keyword_in("I want a REFUND", ["refund"]) == "refund"
    assert keyword_in("refunds policy", ["refund"]) is None
    assert keyword_in("Ich will eine Ruckerstattung", ["Rückerstattung"]) == "Rückerstattung"
    settings = SupportSettings.model_validate({"escalate_keywords": "lawyer, refund"})
    assert settings.escalate_keywords == ["lawyer", "refund"]
    assert escalation_reason(settings, "my lawyer says") == "keyword"
    assert escalation_reason(settings, "talk to a human") == "phrase"
    assert escalation_reason(SupportSettings(enabled=False), "talk to a human") is None


def test_opening_hours() -> None:
    spans = parse_hours("mon-fri 09:00-17:00; sat 10:00-14:00")
    assert is_open(spans, datetime(2026, 12, 7, 9, 0))  # a Monday
    assert not is_open(spans, datetime(2026, 12, 7, 17, 0))
    assert is_open(spans, datetime(2026, 12, 12, 13, 59))  # Saturday
    assert not is_open(spans, datetime(2026, 12, 13, 12, 0))  # Sunday
    assert is_open(parse_hours("fri-mon 00:00-24:00"), datetime(2026, 12, 13, 23, 59))
    for bad in ("weekdays 9-5", "mon-fri 17:00-09:00", "mon 25:00-26:00", ""):
        with pytest.raises(ValueError, match="opening hours"):
            parse_hours(bad)


def test_bad_settings_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="should look like"):
        SupportSettings(opening_hours="always")
    with pytest.raises(ValueError, match="time zone"):
        SupportSettings(timezone="Mars/Olympus")


def test_the_expectation_is_honest_about_opening_hours() -> None:
    settings = SupportSettings(opening_hours="mon-fri 09:00-17:00", timezone="Europe/Paris", reply_within_minutes=15)
    monday_10_paris = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert expectation(settings, email=True, now=monday_10_paris).model_dump() == {
        "kind": "reply_within",
        "minutes": 15,
        "opening_hours": None,
        "timezone": None,
        "email": True,
    }
    closed = expectation(settings, email=False, now=sunday)
    assert (closed.kind, closed.opening_hours, closed.timezone, closed.email) == (
        "closed",
        "mon-fri 09:00-17:00",
        "Europe/Paris",
        False,
    )


def test_a_rule_hands_over_only_when_support_and_the_rule_are_on() -> None:
    on = SupportSettings(escalate_flagged=True, escalate_after_no_source=2)
    assert rule_on(on, "flagged")
    assert rule_on(on, "no_source")
    assert not rule_on(SupportSettings(enabled=False, escalate_flagged=True), "flagged")
    assert not rule_on(SupportSettings(enabled=False, escalate_after_no_source=2), "no_source")
    assert not rule_on(SupportSettings(escalate_flagged=False), "flagged")
    assert not rule_on(SupportSettings(escalate_after_no_source=0), "no_source")
