"""The widget's "contact us" (window.HelplineWidget.contact) asks for a person in words: in each of
its languages, those words must be ones the server reads as a request for a person
(support/rules.py), or the message would go to the assistant instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpline.support.rules import asks_for_person

STRINGS = Path(__file__).resolve().parents[2] / "web" / "src" / "widget" / "i18n.ts"


def _strings(key: str) -> dict[str, str]:
    text = STRINGS.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for lang, body in re.findall(r"\n  (\w\w): \{(.*?)\n  \}", text, flags=re.S):
        match = re.search(rf'\n    {key}: "([^"]*)"', body)
        if match:
            found[lang] = match.group(1)
    return found


@pytest.mark.parametrize("key", ["contact", "contactAbout"])
def test_contact_messages_ask_for_a_person_in_every_language(key: str) -> None:
    messages = _strings(key)
    assert set(messages) == {"en", "es", "fr", "de"}
    for lang, message in messages.items():
        text = message.replace("{topic}", "my package never arrived")
        assert asks_for_person(text), (lang, text)
