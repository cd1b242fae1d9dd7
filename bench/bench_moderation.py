"""CPU per message of the local moderator (ai/moderation.py: the profanity model plus the rules),
with the profanity model applied from its vocabulary and coefficients (LinearProfanityModel, what
LocalModerator uses) against alt-profanity-check's scikit-learn ``predict_prob`` on one text at a
time (what it used before), in one run, alternating, on the same texts. Target (issue 26): at
most 0.3 ms CPU per message.

Texts: the questions of bench/guard_questions.json and bench/banking_queries.json (short, as users
write them), and the demo FAQs' answers (longer, as the model's answers are: each answer is
moderated too). CPU is this process's (time.process_time), over every text, three rounds, the
median round reported.

    uv run python bench/bench_moderation.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpline.ai.moderation import LocalModerator, profanity_model, rule_scores
from helpline.faqs.demo import demo_file

HERE = Path(__file__).resolve().parent


def _questions() -> list[str]:
    guard = json.loads((HERE / "guard_questions.json").read_text())
    banking = json.loads((HERE / "banking_queries.json").read_text())
    return [q["question"] for q in guard["questions"]] + [q["q"] for q in banking["queries"]]


def _answers() -> list[str]:
    return [faq["answer"] for faq in json.loads(demo_file())["faqs"]]


def _cpu_per_text(check: Callable[[str], object], texts: Sequence[str]) -> float:
    start = time.process_time()
    for text in texts:
        check(text)
    return (time.process_time() - start) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)  # scikit-learn's unpickling version notes

    sklearn_model = importlib.import_module("profanity_check.profanity_check")  # unpickles: 1-3 s

    profanity_model()
    moderator = LocalModerator(threshold=0.8)

    def before(text: str) -> object:
        """LocalModerator.check_sync as it was: scikit-learn's predict_prob for one text, and the rules."""
        scores = {"profanity": round(float(sklearn_model.predict_prob([text])[0]), 4), **rule_scores(text)}
        return any(score >= 0.8 for score in scores.values())

    sets = {"questions": _questions(), "FAQ answers": _answers()}
    print(f"local moderation, CPU per message (median of {args.rounds} rounds, this process)")
    head = f"{'texts':<14}{'n':>5}{'chars (mean)':>14}{'scikit-learn':>15}{'fast path':>12}{'ratio':>9}"
    print(head + f"{'rules alone':>13}")
    for name, texts in sets.items():
        for text in texts[:20]:  # warm caches (regexes, dictionaries)
            before(text)
            moderator.check_sync(text)
        old, new, rules = [], [], []
        for _ in range(args.rounds):
            old.append(_cpu_per_text(before, texts))
            new.append(_cpu_per_text(moderator.check_sync, texts))
            rules.append(_cpu_per_text(rule_scores, texts))
        o, n, r = (statistics.median(x) * 1000 for x in (old, new, rules))
        chars = statistics.mean(len(t) for t in texts)
        print(f"{name:<14}{len(texts):>5}{chars:>14.0f}{o:>12.3f} ms{n:>9.3f} ms{o / n:>8.0f}×{r:>10.3f} ms")
    print("target: at most 0.3 ms CPU per message (fast path column)")


if __name__ == "__main__":
    main()
