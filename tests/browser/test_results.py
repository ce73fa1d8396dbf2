"""Results in a real browser: a campaign's lift against control with its interval and
p-value over a chosen date range, and the charts drawn inline."""

from __future__ import annotations

from playwright.sync_api import expect

from results.services import kpis_compute_day
from tests.results.builders import DAY, build_results_bank


def test_the_results_page_shows_lift_with_its_interval_over_a_chosen_range(console, people):
    bank = build_results_bank()
    kpis_compute_day(actor="system:tests", day=DAY)
    page = console.sign_in("analyst", "/results/")
    page.get_by_label("From").fill(DAY.isoformat())
    page.get_by_label("To").fill(DAY.isoformat())
    page.get_by_label("Campaign").select_option(bank.campaign.code)
    page.get_by_role("button", name="Show").click()
    lift = page.locator(".figure", has_text="Lift against control")
    # 5 of 15 treated converted, 1 of 8 held out: +20.8 pp (tests/results/builders.py).
    expect(lift.locator(".value")).to_have_text("+20.8 pp")
    expect(lift.locator(".note")).to_contain_text("95 % CI")
    expect(lift.locator(".note")).to_contain_text("p ")
    expect(page.get_by_role("img", name="Offers released and converted per day")).to_be_visible()

    # The campaign's own results page says the same.
    console.open(f"/results/campaigns/{bank.campaign.pk}/?since={DAY}&until={DAY}")
    expect(page.locator("h1")).to_contain_text(f"Results of {bank.campaign.code}")
    expect(page.locator(".figure", has_text="Lift against control").locator(".value")).to_have_text(
        "+20.8 pp"
    )

    assert console.errors == []

    # A reversed range is refused in words (a 400 page), not shown as an empty page.
    page.get_by_label("From").fill("2025-03-12")
    page.get_by_label("To").fill("2025-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be shown")
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
