"""The report period every analytics route takes, parsed and checked once."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BeforeValidator

from helpline.analytics.period import Period, make_period
from helpline.analytics.schemas import Granularity

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    """A day is YYYY-MM-DD, as documented; pydantic would also read a bare number as a time."""
    if not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("Give a day as YYYY-MM-DD, such as 2026-12-01")
    return value


Day = Annotated[date, BeforeValidator(_day)]


def report_period(
    start: Annotated[
        Day | None, Query(alias="from", description="First local day (YYYY-MM-DD); default 29 days before `to`")
    ] = None,
    end: Annotated[
        Day | None, Query(alias="to", description="Last local day (YYYY-MM-DD), inclusive; default today")
    ] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the days and buckets")] = "UTC",
    granularity: Annotated[Granularity, Query(description="Bucket size of the series")] = "day",
) -> Period:
    return make_period(start, end, tz, granularity)


PeriodDep = Annotated[Period, Depends(report_period)]
