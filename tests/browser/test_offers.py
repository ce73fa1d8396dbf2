"""Offers in a real browser: a marketer writes content and submits it, the author cannot
approve it, a compliance officer approves it from the queue, a targeting change to a live
offer stays out of force until approved, and retiring asks first."""

from __future__ import annotations

from playwright.sync_api import expect

from compliance.choices import ApprovalStatus
from compliance.models import ApprovalRequest
from offers.models import Offer
from tests.console.builders import pending_content_approval
from tests.console.conftest import build_bank


def write_content(console, offer: Offer, channel: str, *, headline: str, body: str) -> None:
    page = console.page
    row = page.locator(f"#channel-{channel}")
    row.get_by_role("link", name="write content").click()
    page.get_by_label("Headline").fill(headline)
    page.get_by_label("Body").fill(body)
    page.get_by_label("Call to action").fill("Apply")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator(".messages")).to_contain_text("v1")
    page.get_by_role("button", name="Submit v1 for approval").click()
    expect(page.locator("#version-1")).to_contain_text("Pending")
    page.get_by_role("link", name=offer.code).click()


def test_a_marketer_creates_an_offer_writes_sms_and_push_content_and_submits_both(console, people):
    bank = build_bank(people)
    page = console.sign_in("maker", "/offers/new/")
    page.get_by_label("Product").select_option(str(bank.product.pk))
    page.get_by_label("Code").fill("CARD_TRAVEL")
    page.get_by_label("Name").fill("Travel card")
    # The eligibility rule is checked as it is typed.
    rule = page.get_by_label("Eligibility rule")
    rule.fill("age >= ")
    expect(page.locator("#rule-status")).to_contain_text("Not valid at position")
    rule.fill("age >= 21")
    expect(page.locator("#rule-status")).to_contain_text("Valid.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Offer CARD_TRAVEL created as a draft.")
    offer = Offer.objects.get(code="CARD_TRAVEL")

    # The SMS editor previews the message and runs the pre-checks as it is typed, before
    # anything is saved: characters, GSM-7 segments, the STOP wording.
    page.locator("#channel-sms").get_by_role("link", name="write content").click()
    # The body first: the preview must not wait for the other required fields.
    body = page.get_by_label("Body")
    body.fill("Guaranteed approval for everyone!")
    expect(page.locator("#findings")).to_contain_text("Blocking")
    preview = page.get_by_role("figure", name="SMS preview")
    expect(preview).to_contain_text("Guaranteed approval for everyone!")
    expect(preview.get_by_test_id("sms-units")).to_have_text("33")
    expect(preview.get_by_test_id("sms-segments")).to_have_text("1")
    expect(preview).to_contain_text("no STOP wording")
    body.fill("x" * 150 + " Reply STOP to opt out.")
    expect(preview.get_by_test_id("sms-units")).to_have_text("173")
    expect(preview.get_by_test_id("sms-segments")).to_have_text("2")
    expect(page.locator("#findings")).to_contain_text("sent as 2 parts of 153")
    expect(preview).to_contain_text("STOP wording present")
    page.get_by_label("Headline").fill("Travel card")
    page.get_by_role("link", name="CARD_TRAVEL").click()

    write_content(
        console,
        offer,
        "sms",
        headline="Travel card",
        body="No fees abroad with our travel card. Reply STOP to opt out.",
    )
    # The push editor shows the notification card as it will appear.
    page.locator("#channel-push").get_by_role("link", name="write content").click()
    page.get_by_label("Headline").fill("Travel without fees")
    page.get_by_label("Body").fill("No fees abroad: apply now.")
    push = page.get_by_role("figure", name="Push preview")
    expect(push).to_contain_text("Travel without fees")
    expect(push).to_contain_text("No fees abroad: apply now.")
    page.get_by_role("link", name="CARD_TRAVEL").click()
    write_content(
        console, offer, "push", headline="Travel without fees", body="No fees abroad: apply now."
    )
    for channel in ("sms", "push"):
        expect(page.locator(f"#channel-{channel}")).to_contain_text("Pending")
    pending = ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, submitted_by=people["marketer"]
    )
    assert pending.count() == 2
    assert console.errors == []


def test_the_author_of_a_change_cannot_approve_it(console, people):
    bank = build_bank(people)
    approval = pending_content_approval(people["both"], bank.offer)
    page = console.sign_in("both", f"/compliance/approvals/{approval.pk}/")
    expect(page.get_by_text("you cannot approve or reject your own work")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)

    # Forging the approval in the page (as anyone could from the browser's tools) is
    # refused by the server, and the request stays pending.
    page.evaluate(
        """() => {
            const form = document.querySelector('form.stack');
            const action = document.createElement('input');
            action.type = 'hidden'; action.name = 'action'; action.value = 'approve';
            form.append(action);
            form.submit();
        }"""
    )
    expect(page.locator("h1")).to_have_text("Not allowed")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING

    # A marketer who is not a compliance officer does not get the queue at all.
    console.sign_out()
    page = console.sign_in("maker", "/")
    expect(page.get_by_role("link", name="Approvals")).to_have_count(0)
    console.open(f"/compliance/approvals/{approval.pk}/")
    expect(page.locator("h1")).to_have_text("Not allowed")


def test_a_compliance_officer_approves_a_change_from_the_queue(console, people):
    bank = build_bank(people)
    approval = pending_content_approval(people["marketer"], bank.offer)
    page = console.sign_in("checker", "/")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Approvals").click()
    # The queue opens on what waits.
    row = page.locator("#approvals tr", has_text=approval.subject_repr).first
    expect(row).to_contain_text("Pending")
    row.get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text(approval.subject_repr)
    expect(page.get_by_role("heading", name="Submitted version")).to_be_visible()
    page.get_by_label("Comment").fill("Clear wording, disclosure present.")
    page.get_by_role("button", name="Approve").click()
    # Back in the queue, which says so and no longer lists it as waiting.
    expect(page.locator(".messages")).to_contain_text("Approved")
    expect(page.locator("#approvals")).not_to_contain_text(approval.subject_repr)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by == people["compliance"]


def test_a_live_offers_eligibility_change_stays_out_of_force_until_approved(console, people):
    bank = build_bank(people)
    offer = bank.offer
    offer.refresh_from_db()
    assert offer.status == "active"
    before = offer.eligibility_rule
    page = console.sign_in("maker", f"/offers/{offer.pk}/")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Eligibility rule").fill("age >= 25")
    expect(page.locator("#rule-status")).to_contain_text("Valid.")
    page.get_by_label("Note").fill("Older customers only")
    page.get_by_role("button", name="Save").click()

    # Saved as a new targeting version, submitted at once; the offer still runs on the
    # approved version.
    expect(page.locator(".messages")).to_contain_text("submitted for approval")
    targeting = page.locator("#targeting")
    expect(targeting).to_contain_text("waiting for review")
    expect(targeting).to_contain_text("not in force until a compliance officer approves it")
    expect(targeting.locator("pre.rule-text").first).to_have_text(before or "(everyone)")
    offer.refresh_from_db()
    assert offer.eligibility_rule == before

    console.sign_out()
    approval = ApprovalRequest.objects.get(
        status=ApprovalStatus.PENDING, subject_type="offer_targeting"
    )
    page = console.sign_in("checker", f"/compliance/approvals/{approval.pk}/")
    expect(page.locator("table.diff")).to_contain_text("age >= 25")
    page.get_by_label("Comment").fill("Fine")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("Approved")
    console.open(f"/offers/{offer.pk}/")
    expect(page.locator("#targeting pre.rule-text").first).to_have_text("age >= 25")
    offer.refresh_from_db()
    assert offer.eligibility_rule == "age >= 25"


def test_retiring_an_offer_asks_first_and_says_what_will_happen(console, people):
    bank = build_bank(people)
    bank.offer.refresh_from_db()
    page = console.sign_in("maker", f"/offers/{bank.offer.pk}/")
    page.get_by_role("button", name="Retire").click()
    expect(page.locator("h1")).to_have_text(f"Retire offer {bank.offer.code}?")
    expect(page.get_by_text("never released again")).to_be_visible()
    page.get_by_role("link", name="Keep the offer").click()
    bank.offer.refresh_from_db()
    assert bank.offer.status == "active"

    page.get_by_role("button", name="Retire").click()
    page.get_by_role("button", name=f"Retire {bank.offer.code}").click()
    expect(page.locator(".messages")).to_contain_text("is now retired")
    bank.offer.refresh_from_db()
    assert bank.offer.status == "retired"
