"""The question set of bench/bench_guard.py stays usable: enough questions, every kind and
language, ids unique, and every FAQ it expects exists in the demo knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpline.faqs.demo import demo_file

QUESTIONS = Path(__file__).resolve().parents[2] / "bench" / "guard_questions.json"
KINDS = {"answerable", "partial", "unanswerable", "followup"}


def _questions() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    return items


def _demo_questions() -> set[str]:
    data = json.loads(demo_file())
    faqs = data["faqs"] if isinstance(data, dict) else data
    return {str(f["question"]) for f in faqs}


def test_enough_questions_of_every_kind_and_language_with_unique_ids() -> None:
    items = _questions()
    assert len(items) >= 150
    assert len({q["id"] for q in items}) == len(items)
    assert {q["kind"] for q in items} == KINDS
    assert {"en", "es", "fr", "de"} <= {q["language"] for q in items}
    assert all(q["question"].strip() for q in items)


def test_every_expected_faq_exists_in_the_demo_knowledge_base() -> None:
    known = _demo_questions()
    expected = [f for q in _questions() for f in [q["expect_faq"], *q.get("also_faq", [])] if f is not None]
    assert expected
    assert [f for f in expected if f not in known] == []


def test_answerable_questions_say_what_a_right_answer_states_and_unanswerable_ones_expect_nothing() -> None:
    for q in _questions():
        if q["kind"] in ("answerable", "partial"):
            assert q["expect_faq"] is not None, q["id"]
            assert q["must_contain"], q["id"]
        if q["kind"] == "unanswerable":
            assert q["expect_faq"] is None, q["id"]
        if q["kind"] == "followup":
            assert q["history"], q["id"]
        else:
            assert not q.get("history"), q["id"]
