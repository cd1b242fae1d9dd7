"""The report period every analytics route takes, parsed and checked once."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from helpline.analytics.period import Period, make_period
from helpline.analytics.schemas import Granularity


def report_period(
    start: Annotated[
        date | None, Query(alias="from", description="First local day (YYYY-MM-DD); default 29 days before `to`")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last local day, inclusive; default today")] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the days and buckets")] = "UTC",
    granularity: Annotated[Granularity, Query(description="Bucket size of the series")] = "day",
) -> Period:
    return make_period(start, end, tz, granularity)


PeriodDep = Annotated[Period, Depends(report_period)]
