"""The reports, read from the roll-up tables (helpline.analytics.rollup), never by scanning
``messages``: a dashboard is a handful of index range scans over per-slot counts."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.analytics import rollup
from helpline.analytics.period import Period
from helpline.analytics.schemas import (
    ConversationBucket,
    ConversationsRead,
    CountRead,
    DashboardBucket,
    DashboardRead,
    DashboardTotals,
    FAQFigure,
    HandoffFigures,
    ModelUsage,
    Origins,
    PeriodRead,
    Resolutions,
    ResponseTimes,
    UnansweredGroupRead,
    UserAnalyticsRead,
    UserBucket,
    UserTotals,
)
from helpline.core.config import ModelPrice, Settings
from helpline.core.errors import NotFound
from helpline.core.runtime import Runtime
from helpline.models import User, UserRole
from helpline.support.stats import handoff_stats

log = structlog.get_logger(__name__)

TOP = 10
UNANSWERED_WINDOW = 2000
CACHE_PREFIX = "analytics:dashboard"  # the spec's key; the roll-ups' version and the query follow

# Series: quarter hours, or hours when every bucket of the period starts on a whole hour of UTC.
_BY_BUCKET = text(
    "SELECT metric, dim, date_trunc(:unit, slot, :tz) AS bucket, sum(value)::bigint AS n FROM analytics_counts "
    "WHERE metric = ANY(:metrics) AND level = :level AND slot >= :lo AND slot < :hi GROUP BY 1, 2, 3"
)
# Totals: the period's whole UTC days from the day rows, its ends from the hour rows.
_BY_DIM = text(
    "SELECT metric, dim, sum(value)::bigint AS n FROM analytics_counts WHERE metric = ANY(:metrics) AND ("
    "(level = 'd' AND slot >= :dlo AND slot < :dhi) OR (level = 'h' AND slot >= :lo AND slot < :dlo) "
    "OR (level = 'h' AND slot >= :dhi AND slot < :hi)) GROUP BY 1, 2"
)
# Distinct users per bucket, and over the whole period (the row without a bucket), in one round
# trip; GROUP BY rather than count(DISTINCT) lets PostgreSQL hash instead of sorting.
_ACTIVE = text(
    "WITH u AS (SELECT slot, user_id FROM analytics_user_slots WHERE slot >= :lo AND slot < :hi) "
    "SELECT bucket, count(*) AS n FROM (SELECT date_trunc(:unit, slot, :tz) AS bucket, user_id FROM u "
    "GROUP BY 1, 2) b GROUP BY bucket "
    "UNION ALL SELECT NULL, count(*) FROM (SELECT user_id FROM u GROUP BY user_id) t"
)
_STATE = text("SELECT refreshed_until, version FROM analytics_state WHERE id = 1")
_FAQ_TITLES = text("SELECT id, question FROM faqs WHERE id = ANY(:ids)")
# Open unanswered questions of the period, the same words (case, punctuation and spacing aside)
# grouped: the most recent UNANSWERED_WINDOW of them, read through their partial index, so the
# cost is bounded however many there are (the Unanswered screen groups by meaning the same way).
_UNANSWERED = text(
    r"""
SELECT norm, count(*) AS n, (array_agg(id ORDER BY created_at DESC))[1:50] AS ids,
       (array_agg(text ORDER BY created_at DESC))[1:3] AS examples,
       mode() WITHIN GROUP (ORDER BY language) AS language, max(created_at) AS last_seen
FROM (
    SELECT id, text, language, created_at,
           btrim(regexp_replace(lower(text), '[^[:alnum:]]+', ' ', 'g')) AS norm
    FROM unanswered_questions WHERE faq_id IS NULL AND created_at >= :lo AND created_at < :hi
    ORDER BY created_at DESC LIMIT :window
) q
GROUP BY norm ORDER BY n DESC, last_seen DESC LIMIT :limit
"""
)


def _params(period: Period) -> dict[str, Any]:
    return {"unit": period.granularity, "tz": period.timezone, "lo": period.lo, "hi": period.hi}


async def _period_read(session: AsyncSession, period: Period) -> tuple[PeriodRead, int]:
    row = (await session.execute(_STATE)).first()
    until, version = (row.refreshed_until, int(row.version)) if row else (None, 0)
    read = PeriodRead(
        start=period.start,
        end=period.end,
        timezone=period.timezone,
        granularity=period.granularity,
        refreshed_until=until,
    )
    return read, version


async def _by_bucket(
    session: AsyncSession, period: Period, metrics: list[str]
) -> dict[tuple[str, str], dict[date, int]]:
    out: dict[tuple[str, str], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    level = "h" if period.whole_hours else "q"
    for r in (await session.execute(_BY_BUCKET, {**_params(period), "metrics": metrics, "level": level})).all():
        out[(r.metric, r.dim)][period.local_day(r.bucket)] += int(r.n)
    return out


async def _by_dim(session: AsyncSession, period: Period, metrics: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    lo, hi = rollup.hour_of(period.lo), rollup.hour_of(period.hi)
    dlo, dhi = rollup.day_of(lo + rollup.DAY - rollup.HOUR), rollup.day_of(hi)
    if dlo > dhi:  # within one UTC day: hours only
        dlo = dhi = hi
    bounds = {"lo": lo, "hi": hi, "dlo": dlo, "dhi": dhi}
    for r in (await session.execute(_BY_DIM, {"metrics": metrics, **bounds})).all():
        out[r.metric][r.dim] = int(r.n)
    return out


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of response times kept as rollup.latency_bucket counts."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, int(-(-q * total // 1)))  # ceil
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(rollup.latency_value(bucket), 1)
    return None  # unreachable: the last bucket reaches the total


def cost(prices: Mapping[str, ModelPrice], model: str, input_tokens: int, output_tokens: int) -> float:
    price = prices.get(model)
    if price is None:
        return 0.0
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def _total(series: Mapping[date, int]) -> int:
    return sum(series.values())


async def _faq_figures(session: AsyncSession, counts: Mapping[str, int]) -> list[FAQFigure]:
    top = sorted(((int(k), v) for k, v in counts.items() if k.isdigit()), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    if not top:
        return []
    titles = {r.id: r.question for r in await session.execute(_FAQ_TITLES, {"ids": [k for k, _ in top]})}
    return [FAQFigure(faq_id=k, question=titles.get(k), count=v) for k, v in top]


async def _unanswered(session: AsyncSession, period: Period) -> list[UnansweredGroupRead]:
    rows = (
        await session.execute(
            _UNANSWERED, {"lo": period.lo, "hi": period.hi, "limit": TOP, "window": UNANSWERED_WINDOW}
        )
    ).all()
    return [
        UnansweredGroupRead(
            representative=r.examples[0],
            count=int(r.n),
            language=r.language,
            last_seen=r.last_seen,
            examples=list(dict.fromkeys(r.examples)),
            ids=list(r.ids),
        )
        for r in rows
    ]


async def _active_users(session: AsyncSession, period: Period) -> tuple[int, dict[date, int]]:
    total, per = 0, {}
    for r in (await session.execute(_ACTIVE, _params(period))).all():
        if r.bucket is None:
            total = int(r.n)
        else:
            per[period.local_day(r.bucket)] = int(r.n)
    return total, per


_SERIES_METRICS = ["messages", "answers", "feedback", "flags", "conversations", "users_new", "tokens"]


async def dashboard(session: AsyncSession, settings: Settings, period: Period) -> DashboardRead:
    """The support dashboard of ``period``: usage, answers by origin, response times, tokens and
    cost, feedback, flags, the FAQs most cited and most disliked, and frequent unanswered questions."""
    period_read, _ = await _period_read(session, period)
    series = await _by_bucket(session, period, _SERIES_METRICS)
    dims = await _by_dim(
        session, period, ["latency", "faq_sources", "faq_thumbs_down", "answers_model", "tokens_in", "tokens_out"]
    )
    active_total, active = await _active_users(session, period)
    buckets = period.buckets()

    def s(metric: str, dim: str = "") -> dict[date, int]:
        return series.get((metric, dim), {})

    def summed(metric: str) -> dict[date, int]:
        out: dict[date, int] = defaultdict(int)
        for (m, _), per in series.items():
            if m == metric:
                for b, n in per.items():
                    out[b] += n
        return out

    tokens_in, tokens_out = dims.get("tokens_in", {}), dims.get("tokens_out", {})
    prices = settings.analytics.prices
    answers_per_model = dims.get("answers_model", {})
    models = sorted(set(tokens_in) | set(tokens_out) | set(answers_per_model))
    usage = [
        ModelUsage(
            model=m or "unknown",
            answers=answers_per_model.get(m, 0),
            input_tokens=tokens_in.get(m, 0),
            output_tokens=tokens_out.get(m, 0),
            estimated_cost=round(cost(prices, m, tokens_in.get(m, 0), tokens_out.get(m, 0)), 6),
        )
        for m in models
    ]
    usage.sort(key=lambda u: (-(u.input_tokens + u.output_tokens), -u.answers, u.model))
    histogram = {int(k): v for k, v in dims.get("latency", {}).items()}
    helpful, not_helpful = _total(s("feedback", "helpful")), _total(s("feedback", "not_helpful"))
    rated = helpful + not_helpful
    new_users = summed("users_new")
    totals = DashboardTotals(
        active_users=active_total,
        new_users=_total(new_users),
        new_guests=_total(s("users_new", "guest")),
        conversations=_total(s("conversations")),
        messages=_total(summed("messages")),
        questions=_total(s("messages", "user")),
        answers=_total(summed("answers")),
        answers_by_origin=Origins(**{o: _total(s("answers", o)) for o in rollup.ORIGINS}),
        response_time=ResponseTimes(
            p50_ms=percentile(histogram, 0.5), p95_ms=percentile(histogram, 0.95), answers=sum(histogram.values())
        ),
        input_tokens=sum(u.input_tokens for u in usage),
        output_tokens=sum(u.output_tokens for u in usage),
        estimated_cost=round(sum(u.estimated_cost for u in usage), 6),
        currency=settings.analytics.currency,
        helpful=helpful,
        not_helpful=not_helpful,
        helpful_rate=round(helpful / rated, 4) if rated else None,
        flags=_total(s("flags")),
    )
    rows = [
        DashboardBucket(
            bucket=b,
            active_users=active.get(b, 0),
            new_users=new_users.get(b, 0),
            conversations=s("conversations").get(b, 0),
            messages=summed("messages").get(b, 0),
            answers_faq=s("answers", "faq").get(b, 0),
            answers_model=s("answers", "model").get(b, 0),
            answers_refused=s("answers", "refused").get(b, 0),
            answers_failed=s("answers", "failed").get(b, 0),
            answers_agent=s("answers", "agent").get(b, 0),
            helpful=s("feedback", "helpful").get(b, 0),
            not_helpful=s("feedback", "not_helpful").get(b, 0),
            flags=s("flags").get(b, 0),
            tokens=s("tokens").get(b, 0),
        )
        for b in buckets
    ]
    return DashboardRead(
        period=period_read,
        totals=totals,
        series=rows,
        models=usage,
        top_faqs=await _faq_figures(session, dims.get("faq_sources", {})),
        thumbs_down_faqs=await _faq_figures(session, dims.get("faq_thumbs_down", {})),
        unanswered=await _unanswered(session, period),
        handoff=HandoffFigures(**asdict(await handoff_stats(session, period.lo, period.hi))),
    )


async def cached_dashboard(session: AsyncSession, runtime: Runtime, period: Period) -> DashboardRead:
    """``dashboard``, kept in Redis for ``cache_seconds`` under a key carrying the roll-ups'
    version: a refresh makes a new key, so a cached answer is never older than the data it shows."""
    ttl = runtime.settings.analytics.cache_seconds
    redis = runtime.redis
    if redis is None or ttl == 0:
        return await dashboard(session, runtime.settings, period)
    _, version = await _period_read(session, period)
    query = json.dumps([period.start.isoformat(), period.end.isoformat(), period.timezone, period.granularity])
    key = f"{CACHE_PREFIX}:{version}:{hashlib.sha256(query.encode()).hexdigest()[:32]}"
    try:
        hit = await redis.get(key)
    except Exception as exc:  # a cache that is down only costs the computation
        log.warning("analytics.cache_unavailable", error=str(exc)[:200])
        hit = None
    if hit:
        return DashboardRead.model_validate_json(hit)
    report = await dashboard(session, runtime.settings, period)
    try:
        await redis.set(key, report.model_dump_json(), ex=ttl)
    except Exception as exc:
        log.warning("analytics.cache_unavailable", error=str(exc)[:200])
    return report


async def conversations(session: AsyncSession, period: Period) -> ConversationsRead:
    """Conversations begun in ``period``: volume, length, languages and how they ended."""
    period_read, _ = await _period_read(session, period)
    series = await _by_bucket(session, period, ["conversations"])
    dims = await _by_dim(session, period, ["conv_length", "conv_language", "conv_resolution"])
    volume = series.get(("conversations", ""), {})
    order = [label for _, _, label in rollup.LENGTH_BUCKETS]
    lengths = dims.get("conv_length", {})
    resolution = dims.get("conv_resolution", {})
    languages = sorted(dims.get("conv_language", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return ConversationsRead(
        period=period_read,
        conversations=_total(volume),
        series=[ConversationBucket(bucket=b, conversations=volume.get(b, 0)) for b in period.buckets()],
        length=[CountRead(key=label, count=lengths.get(label, 0)) for label in order],
        languages=[CountRead(key=k, count=v) for k, v in languages],
        resolution=Resolutions(**{r: resolution.get(r, 0) for r in rollup.RESOLUTIONS}),
    )


_USER_SERIES = text(
    "SELECT date_trunc(:unit, slot, :tz) AS bucket, sum(messages)::bigint AS messages, "
    "sum(questions)::bigint AS questions, sum(tokens)::bigint AS tokens, "
    "count(DISTINCT date_trunc('day', slot, :tz)) AS days FROM analytics_user_slots "
    "WHERE user_id = :uid AND slot >= :lo AND slot < :hi GROUP BY 1"
)
_USER_SPAN = text("SELECT min(slot), max(slot) FROM analytics_user_slots WHERE user_id = :uid")
_USER_COUNTS = text(
    "SELECT (SELECT count(*) FROM conversations WHERE user_id = :uid) AS conversations, "
    "(SELECT count(*) FROM message_feedback WHERE user_id = :uid) AS feedback, "
    "(SELECT count(*) FROM message_feedback WHERE user_id = :uid AND helpful) AS helpful"
)


async def user_report(session: AsyncSession, period: Period, caller: User, user_id: int) -> UserAnalyticsRead:
    """One user's activity in ``period``, for an administrator or the user themself. Anyone else
    gets the 404 of a missing account, whether it exists or not."""
    if caller.id != user_id and (caller.role is not UserRole.admin or await session.get(User, user_id) is None):
        raise NotFound("No such user")
    period_read, _ = await _period_read(session, period)
    rows = (await session.execute(_USER_SERIES, {**_params(period), "uid": user_id})).all()
    per = {period.local_day(r.bucket): r for r in rows}
    span = (await session.execute(_USER_SPAN, {"uid": user_id})).one()
    counts = (await session.execute(_USER_COUNTS, {"uid": user_id})).one()
    return UserAnalyticsRead(
        user_id=user_id,
        period=period_read,
        totals=UserTotals(
            messages=sum(int(r.messages) for r in rows),
            questions=sum(int(r.questions) for r in rows),
            tokens=sum(int(r.tokens) for r in rows),
            active_days=sum(int(r.days) for r in rows),
            conversations=int(counts.conversations),
            feedback_given=int(counts.feedback),
            helpful_given=int(counts.helpful),
        ),
        series=[
            UserBucket(
                bucket=b,
                messages=int(per[b].messages) if b in per else 0,
                questions=int(per[b].questions) if b in per else 0,
                tokens=int(per[b].tokens) if b in per else 0,
            )
            for b in period.buckets()
        ],
        first_active=span[0],
        last_active=None if span[1] is None else span[1] + rollup.SLOT,
    )
