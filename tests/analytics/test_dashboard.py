"""The dashboard's figures against a known dataset (tests/analytics/seed.py), its permissions,
time zones and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.analytics.rollup import refresh
from helpline.core.config import AnalyticsSettings, ModelPrice, Settings
from helpline.core.runtime import Runtime
from tests.admin.conftest import Account
from tests.analytics.seed import MODEL, Seeded, message, seed
from tests.conftest import make_settings

URL = "/api/v1/analytics/dashboard"
WEEK = {"from": "2026-11-01", "to": "2026-11-07"}


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    prices = {MODEL: ModelPrice(input=1.0, output=2.0)}
    return make_settings(database_url, tmp_path, analytics=AnalyticsSettings(prices=prices, currency="EUR"))


@pytest.fixture
async def seeded(db: asyncpg.Connection, runtime: Runtime) -> Seeded:
    data = await seed(db)
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48))
    return data


async def get(client: httpx.AsyncClient, who: Account, url: str = URL, **params: str) -> dict[str, Any]:
    r = await client.get(url, params=params, headers=who.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_dashboard_counts_the_seeded_week(client: httpx.AsyncClient, mod: Account, seeded: Seeded) -> None:
    body = await get(client, mod, **WEEK)
    t = body["totals"]
    assert body["period"] == {
        "start": "2026-11-01",
        "end": "2026-11-07",
        "timezone": "UTC",
        "granularity": "day",
        "refreshed_until": body["period"]["refreshed_until"],
    }
    assert body["period"]["refreshed_until"] is not None
    assert (t["active_users"], t["new_users"], t["new_guests"]) == (3, 3, 1)
    assert (t["conversations"], t["messages"], t["questions"], t["answers"]) == (3, 10, 5, 5)
    assert t["answers_by_origin"] == {"faq": 1, "model": 1, "refused": 2, "failed": 1, "agent": 0}
    assert (t["helpful"], t["not_helpful"], t["helpful_rate"]) == (1, 1, 0.5)
    assert t["flags"] == 1
    assert (t["input_tokens"], t["output_tokens"]) == (100, 50)
    assert t["estimated_cost"] == pytest.approx((100 * 1.0 + 50 * 2.0) / 1e6)
    assert t["currency"] == "EUR"
    # Response times 10, 50, 100 and 1000 ms (the failed answer's 5 s is not one): p50 is the
    # second, p95 the fourth, each read from a bucket at most 5% off.
    rt = t["response_time"]
    assert rt["answers"] == 4
    assert rt["p50_ms"] == pytest.approx(50, rel=0.05)
    assert rt["p95_ms"] == pytest.approx(1000, rel=0.05)
    assert body["models"][0] == {
        "model": MODEL,
        "answers": 2,
        "input_tokens": 100,
        "output_tokens": 50,
        "estimated_cost": pytest.approx(0.0002),
    }
    assert [(f["faq_id"], f["question"], f["count"]) for f in body["top_faqs"]] == [
        (seeded.f1, "How do I reset my password?", 1),
        (seeded.f2, "Where is my parcel?", 1),
    ]
    assert [(f["faq_id"], f["count"]) for f in body["thumbs_down_faqs"]] == [(seeded.f2, 1)]
    groups = body["unanswered"]
    assert [(g["representative"], g["count"]) for g in groups] == [
        ("what is the WEATHER ??", 2),
        ("Can I pay in bitcoin?", 1),
    ]
    assert groups[0]["examples"] == ["what is the WEATHER ??", "What is the weather?"]
    assert len(groups[0]["ids"]) == 2
    days = {b["bucket"]: b for b in body["series"]}
    assert len(days) == 7
    assert [days[d]["messages"] for d in ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04")] == [4, 4, 2, 0]
    assert days["2026-11-02"]["answers_refused"] == 2
    assert days["2026-11-02"]["flags"] == 1
    assert days["2026-11-01"]["tokens"] == 150
    assert days["2026-11-01"]["not_helpful"] == 1


async def test_days_are_the_time_zones_own(client: httpx.AsyncClient, mod: Account, seeded: Seeded) -> None:
    # 23:30 UTC on the 2nd is 00:30 on the 3rd in Paris (UTC+1 in November), and 18:30 on the 2nd
    # in New York; India's half-hour offset moves nothing across midnight here.
    paris = {b["bucket"]: b for b in (await get(client, mod, **WEEK, tz="Europe/Paris"))["series"]}
    assert [paris[d]["messages"] for d in ("2026-11-01", "2026-11-02", "2026-11-03")] == [4, 0, 6]
    assert [paris[d]["new_users"] for d in ("2026-11-01", "2026-11-02", "2026-11-03")] == [1, 0, 2]
    kolkata = {b["bucket"]: b for b in (await get(client, mod, **WEEK, tz="Asia/Kolkata"))["series"]}
    assert [kolkata[d]["messages"] for d in ("2026-11-01", "2026-11-02", "2026-11-03")] == [4, 0, 6]
    # Only the 2nd and 3rd in Paris: the first conversation (1 November) is outside.
    two = await get(client, mod, **{"from": "2026-11-02", "to": "2026-11-03"}, tz="Europe/Paris")
    assert two["totals"]["messages"] == 6
    assert two["totals"]["active_users"] == 2


async def test_weeks_begin_on_monday_and_months_on_the_first(
    client: httpx.AsyncClient, mod: Account, seeded: Seeded
) -> None:
    # 1 November 2026 is a Sunday: its week began on 26 October.
    weeks = (await get(client, mod, **WEEK, granularity="week"))["series"]
    assert [(w["bucket"], w["messages"], w["active_users"]) for w in weeks] == [
        ("2026-10-26", 4, 1),
        ("2026-11-02", 6, 2),
    ]
    months = (await get(client, mod, **{"from": "2026-10-15", "to": "2026-11-30"}, granularity="month"))["series"]
    assert [(m["bucket"], m["messages"]) for m in months] == [("2026-10-01", 0), ("2026-11-01", 10)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tz": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"tz": "../../etc/passwd"}, "is not an IANA time zone"),
        ({"from": "2026-11-07", "to": "2026-11-01"}, "is after"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "at most 731 days"),
        ({"granularity": "hour"}, "day"),
        ({"from": "yesterday"}, "YYYY-MM-DD"),
    ],
)
async def test_a_bad_period_is_a_clear_422(
    client: httpx.AsyncClient, mod: Account, params: dict[str, str], message: str
) -> None:
    r = await client.get(URL, params=params, headers=mod.auth)
    assert r.status_code == 422, r.text
    assert message in r.text


async def test_only_staff_see_the_dashboards(
    client: httpx.AsyncClient, member: Account, mod: Account, admin: Account
) -> None:
    for url in (URL, "/api/v1/analytics/conversations", "/api/v1/analytics/conversations/list?figure=refused"):
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=member.auth)).status_code == 403
        assert (await client.get(url, headers=mod.auth)).status_code == 200
        assert (await client.get(url, headers=admin.auth)).status_code == 200


async def test_an_empty_database_gives_zeros_not_errors(client: httpx.AsyncClient, admin: Account) -> None:
    body = await get(client, admin)
    assert body["totals"]["messages"] == 0
    assert body["totals"]["helpful_rate"] is None
    assert body["totals"]["response_time"] == {"p50_ms": None, "p95_ms": None, "answers": 0}
    assert len(body["series"]) == 30
    assert body["period"]["refreshed_until"] is None  # never refreshed yet


async def test_the_dashboard_as_csv(client: httpx.AsyncClient, mod: Account, seeded: Seeded) -> None:
    r = await client.get(URL, params={**WEEK, "format": "csv"}, headers=mod.auth)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="helpline-dashboard-2026-11-01_2026-11-07.csv"'
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "key", "field", "value"]
    assert ["totals", "", "messages", "10"] in rows
    assert ["totals.answers_by_origin", "", "refused", "2"] in rows
    assert ["series", "2026-11-02", "flags", "1"] in rows
    assert ["models", MODEL, "input_tokens", "100"] in rows
    assert ["top_faqs", str(seeded.f1), "question", "How do I reset my password?"] in rows


@pytest.mark.parametrize("value", ["0", "20261101", "2026-11-1", "2026-11-01T00:00:00"])
async def test_a_day_is_written_yyyy_mm_dd(client: httpx.AsyncClient, mod: Account, value: str) -> None:
    r = await client.get(URL, params={"to": value}, headers=mod.auth)
    assert r.status_code == 422, r.text
    assert "YYYY-MM-DD" in r.text


async def test_a_persons_reply_counts_apart_from_the_model(
    client: httpx.AsyncClient, mod: Account, runtime: Runtime, db: asyncpg.Connection, seeded: Seeded
) -> None:
    # A reply written after a hand-over (helpline.support: model_used "agent") on the seeded
    # conversation of 3 November: an answer of its own origin, not the model's, with no tokens,
    # cost or response time of the model's.
    uid = await db.fetchval("SELECT user_id FROM conversations ORDER BY id DESC LIMIT 1")
    cid = await db.fetchval("SELECT id FROM conversations ORDER BY id DESC LIMIT 1")
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    await message(
        db,
        cid,
        uid,
        "assistant",
        "A person here.",
        at,
        model="agent",
        response_ms=90_000,
        meta={"author": "agent", "agent": {"id": 1, "name": "Ann"}},
    )
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48), full=True)
    body = await get(client, mod, **WEEK)
    t = body["totals"]
    assert t["answers_by_origin"] == {"faq": 1, "model": 1, "refused": 2, "failed": 1, "agent": 1}
    assert "agent" not in [m["model"] for m in body["models"]]
    assert t["response_time"]["answers"] == 4
    assert {b["bucket"]: b["answers_agent"] for b in body["series"]}["2026-11-03"] == 1
    drill = await client.get(
        "/api/v1/analytics/conversations/list", params={**WEEK, "figure": "agent"}, headers=mod.auth
    )
    assert drill.status_code == 200, drill.text
    assert [c["conversation_id"] for c in drill.json()["items"]] == [cid]
