"""Customer 360 and the decision ledger in a real browser: why an offer was chosen, and
lists that filter through htmx while keeping the address in step."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from decisioning.models import Decision
from tests.console.conftest import build_bank


def test_customer_360_shows_why_an_offer_was_chosen(console, people):
    bank = build_bank(people)
    page = console.sign_in("maker", f"/customers/{bank.customer.external_id}/")
    expect(page.locator("h1")).to_contain_text(bank.customer.external_id)
    explain = page.locator("details.explain").first
    expect(explain).to_contain_text("CARD_FUEL")
    # The explanation loads when it is opened (htmx on toggle), by keyboard as well.
    explain.locator("summary").focus()
    page.keyboard.press("Enter")
    body = explain.locator(":scope > .body")
    expect(body).to_contain_text("Candidates considered")
    expect(body).to_contain_text("score = propensity 0.2500 × value 100.00")  # noqa: RUF001
    # Each rule the offer passed reads by name, not as a bare mark.
    rules = body.locator(".verdicts li")
    expect(rules.first).to_contain_text("audience")
    assert console.errors == []


def test_customer_360_answers_what_would_be_offered_now_and_replays_a_decision(console, people):
    bank = build_bank(people)
    stored = Decision.objects.count()
    page = console.sign_in("maker", f"/customers/{bank.customer.external_id}/")
    # "What would we offer now on channel X?": a dry run, answered in place.
    now = page.locator("#offer-now")
    now.get_by_label("If the customer were on").select_option("web")
    now.get_by_role("button", name="Dry run").click()
    result = page.locator("#offer-now-result")
    expect(result).to_contain_text("A dry run on web")
    expect(result).to_contain_text("Nothing was released or stored")
    # A past decision replayed under today's rules, with what changed.
    page.get_by_role("link", name="Replay under today's rules").first.click()
    replay = page.locator(f"#replay-{bank.decision.pk}")
    expect(replay).to_contain_text("decided again under today's catalog")
    expect(replay.locator(".badge").first).to_have_text(re.compile("would change|same result"))
    expect(replay).to_contain_text("Today's result")
    assert Decision.objects.count() == stored
    assert console.errors == []


def test_the_decision_ledger_filters_through_htmx_and_keeps_the_address(console, people):
    build_bank(people)
    page = console.sign_in("analyst", "/decisions/")
    expect(page.locator("#decisions")).to_contain_text("CARD_FUEL")
    page.locator("#id_channel").select_option("web")
    page.wait_for_url("**channel=web**")
    expect(page.locator("#decisions")).to_contain_text("No decisions match")
    # Back to SMS: the decision shows again, without a full page load.
    page.evaluate("window.__stayed = true")
    page.locator("#id_channel").select_option("sms")
    expect(page.locator("#decisions")).to_contain_text("CARD_FUEL")
    assert page.evaluate("window.__stayed") is True
    assert console.errors == []
