"""Campaigns in a real browser: the builder checks the audience rule as it is typed, the
targeting goes through approval, the marketer launches the campaign and starts a run
whose progress bar finishes; completing a campaign asks first."""

from __future__ import annotations

import datetime
import re

from playwright.sync_api import expect

from campaigns.choices import CampaignStatus
from campaigns.models import Campaign
from compliance.choices import ApprovalStatus
from compliance.models import ApprovalRequest
from customers.models import Customer
from tests.console.conftest import build_bank


def age_of(customer: Customer) -> int:
    today = datetime.date.today()
    born = customer.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def test_a_marketer_builds_a_campaign_gets_it_approved_launches_it_and_its_run_finishes(
    console, people
):
    bank = build_bank(people)
    page = console.sign_in("maker", "/campaigns/new/")
    page.get_by_label("Code").fill("CARD_AUTUMN")
    page.get_by_label("Name").fill("Autumn card push")
    page.get_by_label("Kind").select_option("batch")
    rule = page.get_by_label("Audience rule")
    rule.fill("age >= and x")
    expect(page.locator("#audience-status")).to_contain_text("position 7")
    expect(page.locator("#audience-status mark")).to_be_visible()
    rule.fill("age >= 18")
    expect(page.locator("#audience-status")).to_contain_text("Valid.")
    # The eligible-customer count follows the rule as it is typed (keystrokes, debounced).
    total = Customer.objects.count()
    count = page.get_by_test_id("audience-count")
    rule.fill("")
    rule.press_sequentially("age >= 200", delay=30)
    expect(count).to_have_text("0")
    expect(page.locator("#audience-count")).to_contain_text(f"of {total} customers match")
    rule.fill("")
    rule.press_sequentially("age >= 18", delay=30)
    adults = sum(1 for c in Customer.objects.all() if c.birth_date and age_of(c) >= 18)
    assert adults > 0
    expect(count).to_have_text(str(adults))
    page.locator("[name=offers-0-offer]").select_option(str(bank.offer.pk))
    page.get_by_role("checkbox", name=re.compile(r"^SMS")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("CARD_AUTUMN")
    campaign = Campaign.objects.get(code="CARD_AUTUMN")
    assert campaign.channels == ["sms"]

    page.get_by_role("button", name="Submit targeting").click()
    expect(page.locator(".messages")).to_contain_text("submitted for approval")
    console.sign_out()

    approval = ApprovalRequest.objects.get(status=ApprovalStatus.PENDING)
    page = console.sign_in("checker", f"/compliance/approvals/{approval.pk}/")
    page.get_by_label("Comment").fill("Audience and offer fine.")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("Approved")
    console.sign_out()

    page = console.sign_in("maker", f"/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("h1 .badge")).to_have_text("Running")
    page.get_by_role("button", name="Start a run now").click()
    expect(page.locator("h1")).to_contain_text("Batch run")
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^100(\.0)?$"))
    expect(page.locator("#run-progress .badge").first).to_have_text("Completed")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.runs.get().processed_customers == campaign.runs.get().total_customers
    assert console.errors == []


def test_a_running_runs_progress_bar_follows_the_run_until_it_is_done(console, people):
    bank = build_bank(people)
    page = console.sign_in("analyst", f"/campaigns/runs/{bank.run.pk}/")
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^40(\.0)?$"))
    expect(page.locator("#run-progress")).to_contain_text("400 of 1,000 customers")
    # The page polls the run (htmx, every second) and follows it without a reload.
    bank.run.processed_customers = 1000
    bank.run.status = "completed"
    bank.run.save()
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^100(\.0)?$"))
    expect(page.locator("#run-progress")).to_contain_text("1,000 of 1,000 customers")
    expect(page.locator("#run-progress .progress")).to_have_class(re.compile(r"\bdone\b"))
    assert console.errors == []


def test_completing_a_running_campaign_asks_first_and_says_what_will_happen(console, people):
    bank = build_bank(people)
    campaign = bank.campaign
    campaign.status = CampaignStatus.RUNNING
    campaign.save(update_fields=["status"])
    page = console.sign_in("maker", f"/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("h1")).to_have_text(f"Complete campaign {campaign.code}?")
    expect(page.get_by_text("releases nothing more")).to_be_visible()
    page.get_by_role("link", name="Keep the campaign").click()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING

    page.get_by_role("button", name="Complete").click()
    page.get_by_role("button", name=f"Complete {campaign.code}").click()
    expect(page.locator("h1 .badge")).to_have_text("Completed")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
