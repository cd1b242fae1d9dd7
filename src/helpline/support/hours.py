"""Opening hours of the people who answer handed-off conversations, such as
``mon-fri 09:00-17:00; sat 10:00-14:00`` (days mon..sun as a range or a comma list, 24-hour
times, in the configured time zone). Written by hand: the format is three tokens, a library for
it (``opening_hours`` of OpenStreetMap) would bring a grammar far larger than the need."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEGMENT = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time


def _days(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"opening hours: {part!r} is not a day or range of days (mon..sun)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _time(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"opening hours: {hours}:{minutes} is not a time of day")
    return time(h, m)


def parse_hours(text: str) -> list[Span]:
    """The spans of ``mon-fri 09:00-17:00; sat 10:00-14:00``; ValueError saying what is wrong."""
    spans = []
    for segment in text.lower().split(";"):
        if not segment.strip():
            continue
        match = _SEGMENT.match(segment)
        if match is None:
            raise ValueError(f"opening hours: {segment.strip()!r} should look like 'mon-fri 09:00-17:00'")
        days, h1, m1, h2, m2 = match.groups()
        start, end = _time(h1, m1), _time(h2, m2)
        if end <= start:
            raise ValueError(f"opening hours: {segment.strip()!r} ends before it starts")
        spans.append(Span(_days(days), start, end))
    if not spans:
        raise ValueError("opening hours: empty")
    return spans


def is_open(spans: list[Span], local: datetime) -> bool:
    """Whether ``local`` (a time in the hours' own zone) is within the opening hours."""
    now = local.time()
    return any(local.weekday() in s.days and s.start <= now < s.end for s in spans)
