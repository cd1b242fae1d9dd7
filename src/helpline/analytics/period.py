"""A report's period: local days in an IANA time zone, cut into days, weeks (ISO, from Monday)
or months, as UTC instants for the roll-ups' slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpline.analytics.schemas import Granularity
from helpline.core.errors import Unprocessable

MAX_DAYS = 731  # two years of days
DEFAULT_DAYS = 30
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Period:
    start: date  # first local day, inclusive
    end: date  # last local day, inclusive
    timezone: str
    granularity: Granularity

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def lo(self) -> datetime:
        return datetime.combine(self.start, time(), self.zone).astimezone(UTC)

    @property
    def hi(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def bucket_of(self, day: date) -> date:
        if self.granularity == "week":
            return day - timedelta(days=day.weekday())
        if self.granularity == "month":
            return day.replace(day=1)
        return day

    def buckets(self) -> list[date]:
        """Every bucket of the period, in order (the first may begin before ``start``)."""
        out: list[date] = []
        day = self.start
        while day <= self.end:
            b = self.bucket_of(day)
            if not out or out[-1] != b:
                out.append(b)
            day += timedelta(days=1)
        return out

    @property
    def whole_hours(self) -> bool:
        """Every bucket (and the end) starts a whole number of hours from UTC: the series can be
        read from hour rows rather than quarter hours (four times fewer)."""
        starts = [*self.buckets(), self.end + timedelta(days=1)]
        return all(
            (datetime.combine(d, time(), self.zone).utcoffset() or timedelta(0)) % HOUR == timedelta(0) for d in starts
        )

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def zone(name: str) -> str:
    """``name`` if it is an IANA time zone, else a 422 that says what to send."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            f"tz: {name!r} is not an IANA time zone; use a name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
        ) from None
    return name


def make_period(
    start: date | None, end: date | None, timezone: str, granularity: Granularity, *, today: date | None = None
) -> Period:
    """The period a request asks for: by default the last 30 days up to today (in ``timezone``)."""
    tz = zone(timezone)
    today = today or datetime.now(ZoneInfo(tz)).date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Unprocessable(f"from: {start} is after to: {end}; give a start on or before the end")
    if (end - start).days + 1 > MAX_DAYS:
        raise Unprocessable(f"from/to: at most {MAX_DAYS} days at once (asked {(end - start).days + 1})")
    return Period(start, end, tz, granularity)
