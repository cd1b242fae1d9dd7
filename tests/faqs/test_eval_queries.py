"""The retrieval evaluation sets of bench/bench_retrieval.py stay usable: every query names a
demo FAQ that exists, in that FAQ's language, and the held-out set repeats no tuning query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpline.faqs.demo import demo_file
from helpline.faqs.slugs import slugify

BENCH = Path(__file__).resolve().parents[2] / "bench"
FILES = ("retrieval_queries.json", "retrieval_queries_heldout.json")


def _queries(name: str) -> list[dict[str, str]]:
    data = json.loads((BENCH / name).read_text(encoding="utf-8"))
    queries: list[dict[str, str]] = data["queries"]
    return queries


def _demo_languages() -> dict[str, str]:
    data = json.loads(demo_file())
    faqs = data["faqs"] if isinstance(data, dict) else data
    return {slugify(f["question"]): f.get("language", "en") for f in faqs}


@pytest.mark.parametrize("name", FILES)
def test_every_query_names_a_demo_faq_in_its_language(name: str) -> None:
    languages = _demo_languages()
    queries = _queries(name)
    assert len(queries) >= 60
    wrong = [q for q in queries if languages.get(q["expected"]) != q["language"] or not q["q"].strip()]
    assert wrong == []


def test_the_held_out_set_repeats_no_tuning_query_and_covers_every_faq() -> None:
    tuning = {q["q"].lower() for q in _queries(FILES[0])}
    held_out = _queries(FILES[1])
    assert [q["q"] for q in held_out if q["q"].lower() in tuning] == []
    assert {q["expected"] for q in held_out} == set(_demo_languages())
