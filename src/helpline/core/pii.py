"""Masks obvious personal data (card numbers, IBANs, email addresses, phone numbers) in text kept
outside a conversation, such as the unanswered questions staff read and turn into FAQs.

Candidates are found with small regular expressions and, where a checksum exists, confirmed with
python-stdnum (Luhn for cards, ISO 13616 mod-97 for IBANs), so an order number is not taken for a
card. No PII library on PyPI fits: Presidio needs a spaCy model downloaded at run time, scrubadub
pulls in scikit-learn and textblob and is unmaintained since 2023; these four kinds need neither.

Phone numbers have no checksum: a run of 9 to 15 digits (7 with a leading +) with the usual
separators is masked unless it holds a date. An order or tracking number of that length is
masked too, which costs staff nothing (it is no use in a FAQ). Masking is idempotent: the
placeholders hold no digits and no @."""

from __future__ import annotations

import re

from stdnum import iban, luhn

CARD = "[card number]"
IBAN = "[iban]"
EMAIL = "[email]"
PHONE = "[phone]"

# The local part takes every character RFC 5322 allows unquoted.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.UNICODE)
# Two letters, two check digits, then 11 to 30 letters or digits, in groups of any size.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
# Digits with at most one space or dash between them: the shape a card number is typed in.
_DIGIT_RUN = re.compile(r"(?<![\d.,])\d(?:[ -]?\d)+(?![\d])")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().\-/]{5,22}\d(?!\w)")
# A date with a four-digit year (2024-01-05, 05.01.2024), also followed by a time: not a phone.
_DATE = re.compile(r"\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{4}")
_CARD_DIGITS = range(13, 20)


def _mask_cards(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = re.sub(r"\D", "", run)
    if len(digits) in _CARD_DIGITS and luhn.is_valid(digits):
        return CARD
    # A card followed or preceded by other digits ("4111 1111 1111 1111 12 26"): try the
    # stretches of whole groups that are as long as a card number.
    groups = re.split(r"[ -]", run)
    if len(groups) < 2:
        return run
    for start in range(len(groups)):
        for end in range(len(groups), start, -1):
            part = "".join(groups[start:end])
            if len(part) in _CARD_DIGITS and luhn.is_valid(part):
                before, after = " ".join(groups[:start]), " ".join(groups[end:])
                return " ".join(p for p in (before, CARD, after) if p)
    return run


def _mask_iban(match: re.Match[str]) -> str:
    # The pattern also takes in words after an IBAN typed in groups ("DE89 3704 ... 00 thanks"):
    # the longest run of leading groups that validates is the IBAN.
    groups = match.group(0).split(" ")
    for end in range(len(groups), 0, -1):
        if iban.is_valid("".join(groups[:end])):
            return " ".join([IBAN, *groups[end:]])
    return match.group(0)


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    international = text.startswith(("+", "00"))
    if not (7 if international else 9) <= digits <= 15:
        return text
    if not international and _DATE.search(text):
        return text
    return PHONE


def mask_pii(text: str) -> str:
    """``text`` with card numbers, IBANs, email addresses and phone numbers replaced by
    placeholders ([card number], [iban], [email], [phone]); everything else unchanged."""
    if not any(c.isdigit() or c == "@" for c in text):
        return text  # the common case: nothing to look for
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(_mask_iban, text)
    text = _DIGIT_RUN.sub(_mask_cards, text)
    return _PHONE.sub(_mask_phone, text)
