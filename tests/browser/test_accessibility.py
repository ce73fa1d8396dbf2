"""Accessibility in a real browser: axe-core finds no serious or critical violation on the
main pages, the keyboard reaches everything through a skip link, and focus is visible."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_violations
from tests.console.conftest import build_bank


def scan(console, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        response = console.page.goto(console.url + path)
        assert response is not None and response.ok, (
            f"{path} answered {response and response.status}"
        )
        violations = serious_violations(console.page)
        if violations:
            found[path] = violations
    return found


@pytest.mark.parametrize(
    ("username", "pages"),
    [
        (
            "maker",
            lambda bank: [
                "/",
                "/offers/",
                f"/offers/{bank.offer.pk}/",
                f"/offers/{bank.offer.pk}/edit/",
                f"/offers/{bank.offer.pk}/content/sms/",
                "/campaigns/",
                f"/campaigns/{bank.campaign.pk}/",
                "/campaigns/new/",
                f"/campaigns/{bank.campaign.pk}/edit/",
                f"/campaigns/runs/{bank.run.pk}/",
                f"/customers/{bank.customer.external_id}/",
            ],
        ),
        (
            "checker",
            lambda bank: [
                "/",
                "/compliance/approvals/",
                "/compliance/approvals/?status=",
                "/compliance/audit/",
            ],
        ),
        (
            "analyst",
            lambda bank: [
                "/decisions/",
                f"/decisions/{bank.decision.pk}/",
                "/customers/",
                "/results/",
                f"/results/campaigns/{bank.campaign.pk}/",
                "/models/",
            ],
        ),
        ("admin", lambda bank: ["/", "/health/"]),
    ],
    ids=["marketer", "compliance", "analyst", "admin"],
)
def test_the_main_pages_have_no_serious_or_critical_axe_violation(console, people, username, pages):
    bank = build_bank(people)
    console.sign_in(username)
    found = scan(console, pages(bank))
    assert found == {}, "\n".join(
        f"{path}:\n  " + "\n  ".join(lines) for path, lines in found.items()
    )


def test_the_sign_in_and_not_found_pages_have_no_serious_or_critical_axe_violation(console, people):
    console.open("/login/")
    assert serious_violations(console.page) == []
    console.sign_in("maker")
    response = console.page.goto(console.url + "/offers/999999/")
    assert response is not None and response.status == 404
    expect(console.page.locator("h1")).to_have_text("Not found")
    assert serious_violations(console.page) == []


def focus_ring(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName, text: el.innerText, id: el.id,
                    style: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    color: style.outlineColor};
        }"""
    )


def test_the_keyboard_skips_to_the_content_and_focus_is_always_visible(console, people):
    build_bank(people)
    page = console.sign_in("maker", "/offers/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert focus_ring(page)["width"] >= 2
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()

    # From the top, Tab walks the top bar and the navigation: every stop shows a ring of
    # at least 2 px in the accent colour (5.2:1 on white; the brand bar's own colour
    # behind the sign-out button, where the ring is white).
    page.reload()
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        ring = focus_ring(page)
        seen.append(ring)
        assert ring["style"] != "none" and ring["width"] >= 2, ring
    assert any(r["tag"] == "A" and r["text"].strip() == "Offers" for r in seen), seen

    # The navigation's group names are not headings before the page's h1.
    first_heading = page.locator("h1, h2, h3, h4, h5, h6").first
    expect(first_heading).to_have_text("Offers")
