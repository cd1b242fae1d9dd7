"""The messages sent to the model for one chat turn, fitted into the model's context window.

``build_context`` is pure (no I/O, no settings, no clock): the chat service passes the system prompt
(``prompts.system_prompt``), a bounded tail of the conversation, the new message, the retrieved
articles and the model's token counter.

Result layout::

    system     the system prompt, then (if any article fits) KNOWLEDGE_SEPARATOR + knowledge block
    ...        kept history: a most-recent suffix of ``history``, whole turns only, oldest first
    user       the current message (cut in the middle around TRUNCATION_MARKER only if it alone
               does not fit)

The knowledge block is appended to the one system message rather than sent as a second one: every
chat template accepts a single leading system message, not all accept two.

The prompt budget is ``context_window - max_answer_tokens``; it is never exceeded. It is spent in
this order:

1. the system prompt: never cut. ``ValueError`` if it leaves no room for the current message even
   when that is cut down to the bare marker (the caller bounds message lengths before);
2. the current message: always sent; cut from the middle (its start and end kept) only if it
   cannot fit whole next to the system prompt;
3. knowledge: whole articles in rank order, at most ``knowledge_budget`` tokens (and what is left;
   measured as ``count(system content) - count(system_prompt)``, i.e. separator and heading included);
   an article that does not fit is skipped and the next, possibly smaller, one is tried. The
   articles are renumbered 1..n in the block: citation ``[n]`` is ``articles_used[n - 1]``;
4. history: whole turns, newest first, until the next older turn does not fit; then sent in
   chronological order.

Turn rule: a turn is a user message together with the messages that follow it up to the next user
message (its assistant answer(s), or any other non-user message, which is passed through as given);
messages before the first user message form one leading turn.
Turns are never split, so the model never sees an answer without the question that prompted it,
and kept history starts with a user message (when the given history does). The price: when the
newest turn alone does not fit, no history is sent at all.

Cost: each history message is counted once, newest first, and counting stops at the first turn
that does not fit, so a long history costs only what is kept (plus one turn). Messages are counted
on their own (``count_messages([m])`` minus the empty-list overhead) and the final list is counted
once more with ``count_messages``. Should a counter not be additive, so that a total comes out
over budget, articles are dropped from the lowest-ranked while the system and current messages
alone are over, then the oldest kept turns while the whole list is: the budget holds regardless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from helpline.ai.base import ChatMessage, TokenCounter
from helpline.ai.prompts import Article, knowledge_block

__all__ = ["KNOWLEDGE_SEPARATOR", "TRUNCATION_MARKER", "Article", "BuiltContext", "build_context"]

TRUNCATION_MARKER = "[…]"
"""Stands, on a line of its own, for the middle part cut out of an over-long current message."""

KNOWLEDGE_SEPARATOR = "\n\n"
"""Between the system prompt and the knowledge block in the system message."""


@dataclass(frozen=True, slots=True)
class BuiltContext:
    messages: list[ChatMessage]
    """System message first, then kept history (chronological), then the current user message."""
    prompt_tokens: int
    """``counter.count_messages(messages)``; never more than ``context_window - max_answer_tokens``."""
    history_used: int
    """How many of the most recent history messages were kept (``messages[1:-1]``)."""
    articles_used: list[Article]
    """The articles in the prompt, in rank order; citation ``[n]`` is ``articles_used[n - 1]``."""
    truncated: bool
    """Some history was left out or the current message was cut."""
    current_truncated: bool = False
    """The current message was cut to fit (see ``TRUNCATION_MARKER``)."""
    knowledge_tokens: int = 0
    """Tokens the knowledge block added to the system message (at most ``knowledge_budget``)."""


def build_context(
    *,
    system_prompt: str,
    history: Sequence[ChatMessage],
    current: str,
    counter: TokenCounter,
    context_window: int,
    max_answer_tokens: int,
    knowledge: Sequence[Article] = (),
    knowledge_budget: int = 0,
    language: str = "en",
) -> BuiltContext:
    """Fit the system prompt, knowledge, history and the current message into the prompt budget.

    ``history`` holds the prior messages of the conversation, oldest first, without the current
    one. ``knowledge`` is in rank order (best first). ``language`` only chooses the heading of the
    knowledge block. See the module documentation for the rules.
    """
    if context_window <= 0:
        raise ValueError(f"context_window must be positive, not {context_window}")
    if max_answer_tokens < 0:
        raise ValueError(f"max_answer_tokens must not be negative, not {max_answer_tokens}")
    if knowledge_budget < 0:
        raise ValueError(f"knowledge_budget must not be negative, not {knowledge_budget}")
    budget = context_window - max_answer_tokens
    if budget <= 0:
        raise ValueError(
            f"max_answer_tokens ({max_answer_tokens}) leaves no room for a prompt in a "
            f"context window of {context_window} tokens"
        )

    system = ChatMessage("system", system_prompt)
    user, current_truncated = _fit_current(system, current, counter, budget)
    core_tokens = counter.count_messages([system, user])  # exact, and within budget

    articles, knowledge_tokens = _select_knowledge(
        system_prompt, knowledge, language, counter, min(knowledge_budget, budget - core_tokens)
    )
    system, head_tokens = _with_knowledge(system_prompt, articles, language, user, counter)
    while head_tokens > budget and articles:  # only for a counter that is not additive
        articles.pop()
        system, head_tokens = _with_knowledge(system_prompt, articles, language, user, counter)
        knowledge_tokens = counter.count(system.content) - counter.count(system_prompt)

    start = _select_history(history, counter, budget - head_tokens)
    messages = [system, *_tail(history, start), user]
    prompt_tokens = counter.count_messages(messages)
    while prompt_tokens > budget and start < len(history):  # only for a counter that is not additive
        start = _next_turn(history, start)
        messages = [system, *_tail(history, start), user]
        prompt_tokens = counter.count_messages(messages)

    history_used = len(history) - start
    return BuiltContext(
        messages=messages,
        prompt_tokens=prompt_tokens,
        history_used=history_used,
        articles_used=articles,
        truncated=current_truncated or history_used < len(history),
        current_truncated=current_truncated,
        knowledge_tokens=knowledge_tokens,
    )


def _cut(text: str, keep: int) -> str:
    """``text`` with all but ``keep`` characters (half from the start, half from the end) replaced
    by the marker on a line of its own."""
    tail_len = keep // 2
    head = text[: keep - tail_len].rstrip()
    tail = text[len(text) - tail_len :].lstrip() if tail_len else ""
    return "\n".join(part for part in (head, TRUNCATION_MARKER, tail) if part)


def _fit_current(system: ChatMessage, current: str, counter: TokenCounter, budget: int) -> tuple[ChatMessage, bool]:
    """The current message, whole if it fits beside the system prompt, else the longest middle cut
    that does (binary search on the number of characters kept; only counted fits are accepted)."""
    whole = ChatMessage("user", current)
    if counter.count_messages([system, whole]) <= budget:
        return whole, False
    best = ChatMessage("user", _cut(current, 0))
    if counter.count_messages([system, best]) > budget:
        raise ValueError(
            f"the system prompt ({counter.count_messages([system])} tokens with its message overhead) "
            f"leaves no room for the user's message in the prompt budget of {budget} tokens "
            "(context_window - max_answer_tokens)"
        )
    good, bad = 0, len(current)
    while bad - good > 1:
        mid = (good + bad) // 2
        candidate = ChatMessage("user", _cut(current, mid))
        if counter.count_messages([system, candidate]) <= budget:
            good, best = mid, candidate
        else:
            bad = mid
    return best, True


def _knowledge_text(articles: Sequence[Article], language: str) -> str:
    return KNOWLEDGE_SEPARATOR + knowledge_block(language, articles) if articles else ""


def _select_knowledge(
    system_prompt: str, knowledge: Sequence[Article], language: str, counter: TokenCounter, limit: int
) -> tuple[list[Article], int]:
    """Greedy in rank order: each article is taken if the block with it still costs at most
    ``limit`` tokens (measured as what it adds to the system prompt's count)."""
    chosen: list[Article] = []
    tokens = 0
    if limit <= 0 or not knowledge:
        return chosen, tokens
    base = counter.count(system_prompt)
    for article in knowledge:
        trial = [*chosen, article]
        cost = counter.count(system_prompt + _knowledge_text(trial, language)) - base
        if cost <= limit:
            chosen, tokens = trial, cost
    return chosen, tokens


def _with_knowledge(
    system_prompt: str, articles: Sequence[Article], language: str, user: ChatMessage, counter: TokenCounter
) -> tuple[ChatMessage, int]:
    system = ChatMessage("system", system_prompt + _knowledge_text(articles, language))
    return system, counter.count_messages([system, user])


def _select_history(history: Sequence[ChatMessage], counter: TokenCounter, remaining: int) -> int:
    """The start index of the longest suffix of whole turns whose messages cost at most
    ``remaining`` tokens, counting newest first and stopping at the first turn that does not fit."""
    base = counter.count_messages([])
    cheapest = counter.count_messages([ChatMessage("user", "")]) - base
    start = len(history)
    while start > 0 and remaining >= cheapest:
        turn_cost = 0
        i = start
        while True:
            i -= 1
            turn_cost += counter.count_messages([history[i]]) - base
            if turn_cost > remaining:
                return start
            if i == 0 or history[i].role == "user":
                break
        remaining -= turn_cost
        start = i
    return start


def _tail(history: Sequence[ChatMessage], start: int) -> list[ChatMessage]:
    """``history[start:]`` for any sequence (a deque cannot be sliced)."""
    return [history[i] for i in range(start, len(history))]


def _next_turn(history: Sequence[ChatMessage], start: int) -> int:
    """The start of the turn after the one starting at ``start`` (``len(history)`` if none)."""
    i = start + 1
    while i < len(history) and history[i].role != "user":
        i += 1
    return i
