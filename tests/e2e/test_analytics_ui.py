"""The admin panel's Analytics screen in a real browser: a date range chosen in the picker, the
charts drawn, a figure drilled down to its conversations, and a thumbs-down conversation read
(the read lands in the audit log)."""

from __future__ import annotations

import re
from datetime import timedelta

import asyncpg
from playwright.async_api import Page, expect

from helpline.analytics.rollup import refresh
from helpline.core.runtime import Runtime
from tests.analytics.seed import seed
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_admin_ui import admin_tokens, open_admin


async def test_admin_picks_a_period_sees_charts_and_reads_a_thumbs_down_conversation(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    data = await seed(db)  # early November 2026 (tests/analytics/seed.py)
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48))
    tokens = await admin_tokens(web, db)
    await open_admin(page, tokens, "/admin")
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Analytics").click()
    await expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    figures = page.get_by_role("definition")
    messages = page.locator(".analytics-figures > div").filter(has=page.get_by_text("Messages", exact=True))

    # The default period (the last 30 days) has none of the seeded November week.
    await page.get_by_label("Time zone").fill("UTC")
    await page.get_by_label("Time zone").blur()
    await expect(page).to_have_url(re.compile(r"tz=UTC"))
    await expect(messages.get_by_role("definition")).to_have_text("0")

    # The date-range picker: 1 to 7 November.
    await page.get_by_label("To", exact=True).fill("2026-11-07")
    await page.get_by_label("From", exact=True).fill("2026-11-01")
    await expect(page).to_have_url(re.compile(r"(?=.*from=2026-11-01)(?=.*to=2026-11-07)"))
    await expect(messages.get_by_role("definition")).to_have_text("10")
    assert await figures.count() >= 12
    usage = page.get_by_role("figure", name="Messages and active users")
    origins = page.get_by_role("figure", name="Answers by origin")
    await expect(usage.get_by_role("application")).to_be_visible()  # the chart's SVG
    await expect(usage.locator(".recharts-line-curve")).to_have_count(2)
    await expect(origins.locator(".recharts-bar-rectangle").first).to_be_attached()
    await expect(page.get_by_role("table", name="FAQs behind answers rated not helpful")).to_contain_text(
        "Where is my parcel?"
    )
    await expect(page.get_by_role("region", name="Frequent unanswered questions")).to_contain_text("Asked 2 times")
    await expect(page.get_by_role("table", name="How they ended").get_by_role("row", name="Abandoned")).to_contain_text(
        "2"
    )
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download figures (CSV)").click()
    download = await downloading.value
    assert download.suggested_filename == "helpline-dashboard-2026-11-01_2026-11-07.csv"
    path = await download.path()
    assert "totals,,messages,10" in path.read_text(encoding="utf-8")
    await page.get_by_label("Group by").select_option("week")
    await expect(page).to_have_url(re.compile(r"granularity=week"))
    await screenshot(page, "admin-analytics")
    assert await axe_violations(page) == []

    # Drill down: the conversations rated not helpful, then one read, read-only.
    await page.get_by_role("button", name="list the conversations: Rated not helpful").click()
    drill = page.get_by_role("region", name="Conversations: Rated not helpful")
    await expect(drill.get_by_role("row")).to_have_count(2)  # header and the one conversation
    await drill.get_by_role("button", name=f"Read #{data.c1}").click()
    transcript = page.get_by_role("region", name=f"Conversation #{data.c1}")
    await expect(transcript).to_contain_text("It is on its way [1].")
    await expect(transcript).to_contain_text("recorded in the audit log")
    await expect(transcript.get_by_role("listitem")).to_have_count(4)
    assert await axe_violations(page) == []
    reads = await db.fetch(
        "SELECT target_type, target_id FROM audit_log WHERE action = 'analytics.conversation_read' ORDER BY id"
    )
    assert [(r["target_type"], r["target_id"]) for r in reads] == [("conversation", str(data.c1))]

    # "Draft a FAQ from this": the group becomes a draft FAQ, open in the editor with its question.
    await page.get_by_role("button", name="Close the conversation").click()
    await page.get_by_role("region", name="Frequent unanswered questions").get_by_role("button").first.click()
    await expect(page).to_have_url(re.compile(r"/admin/faqs/\d+$"))
    # exact: until the editor has loaded, "Frequent unanswered questions" is on the page too
    await expect(page.get_by_label("Question", exact=True)).to_have_value("what is the WEATHER ??")
    faq_id = int(page.url.rsplit("/", 1)[1])
    handled = await db.fetchval("SELECT count(*) FROM unanswered_questions WHERE faq_id = $1", faq_id)
    assert handled == 2
