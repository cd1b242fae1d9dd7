"""The sign-up form on a desktop and a phone (390x844): its consents sit one under another, never
over each other, and the API's field errors show under their fields with the form's own
(translated) labels, never the API's field names."""

from __future__ import annotations

import itertools

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import axe_violations, phone_page, screenshot

MEASURE = """els => els.map(e => {
    const r = e.getBoundingClientRect();
    const box = e.querySelector('input').getBoundingClientRect();
    const text = e.querySelector('span').getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, ctop: box.top, cbottom: box.bottom, cright: box.right, tleft: text.left};
})"""


async def boxes_apart(p: Page) -> None:
    """No two consent lines overlap, and each checkbox sits inside its own line, beside its text."""
    rects = await p.locator("label.consent").evaluate_all(MEASURE)
    assert len(rects) == 3
    for a, b in itertools.pairwise(rects):
        assert a["bottom"] <= b["top"], rects
    for r in rects:
        assert r["top"] <= r["ctop"], r
        assert r["cbottom"] <= r["bottom"], r
        assert r["cright"] <= r["tleft"], r


async def test_register_consents_and_field_errors(browser: Browser, page: Page, web: str) -> None:
    for name, p in [("desktop", page), ("phone", await phone_page(browser, web))]:
        await p.goto("/register")
        await expect(p.get_by_role("heading", name="Create your account", level=1)).to_be_visible()
        consents = p.get_by_role("group", name="Your consent")
        await expect(consents).to_be_visible()
        await boxes_apart(p)
        assert await axe_violations(p) == [], name
        await screenshot(p, f"register-{name}")

        await p.get_by_label("Email").fill(f"weak-{name}@example.com")
        await p.get_by_label("Password").fill("aaaaaaaa")
        await p.get_by_role("checkbox", name="I agree to the processing of my data").check()
        await p.get_by_role("button", name="Create account").click()
        alert = p.get_by_role("alert")
        await expect(alert).to_contain_text("Password: is too easy to guess")
        await expect(alert).not_to_contain_text("password:")  # the label, not the API's field name
        password = p.get_by_label("Password")
        await expect(password).to_have_attribute("aria-invalid", "true")
        await expect(p.locator("#password-error")).to_contain_text("is too easy to guess")
        assert await axe_violations(p) == [], name
        await screenshot(p, f"register-errors-{name}")

        # In German: the German label.
        await p.evaluate("localStorage.setItem('helpline.language', 'de')")
        await p.reload()
        await p.get_by_label("E-Mail").fill(f"schwach-{name}@example.com")
        await p.get_by_label("Passwort").fill("aaaaaaaa")
        await p.locator("input[name=data_processing_consent]").check()
        await p.locator("button[type=submit]").click()
        await expect(p.get_by_role("alert")).to_contain_text("Passwort: is too easy to guess")
        if p is not page:
            await p.context.close()
