"""Campaign screens: builder, live rule validation, lifecycle, runs and contact policy."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.choices import CampaignStatus, RunStatus
from campaigns.models import Campaign, ContactPolicy
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from customers.models import Event
from tests.factories import CustomerFactory


def builder_data(bank, **overrides):
    data = {
        "code": "CARD_NUDGE",
        "name": "Card nudge",
        "kind": "realtime",
        "objective": "Fuel buyers get the fuel card",
        "audience_rule": 'age >= 18 and not holds("CARD")',
        "trigger_event_types": "card_transaction, card_issued",
        "channels": "push, sms",
        "control_group_pct": "10",
        "priority": "5",
        "offers-TOTAL_FORMS": "2",
        "offers-INITIAL_FORMS": "0",
        "offers-MIN_NUM_FORMS": "0",
        "offers-MAX_NUM_FORMS": "1000",
        "offers-0-offer": str(bank.offer.pk),
        "offers-0-arm": "A",
        "offers-0-weight": "2",
        "offers-1-offer": "",
        "offers-1-arm": "",
        "offers-1-weight": "",
    }
    data.update(overrides)
    return data


def test_the_builder_creates_a_campaign_with_offers_arms_and_weights(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(reverse("campaigns:campaign_create"), builder_data(bank))
    campaign = Campaign.objects.get(code="CARD_NUDGE")
    assert response.status_code == 302
    assert campaign.channels == ["push", "sms"]
    assert campaign.trigger_event_types == ["card_transaction", "card_issued"]
    link = campaign.campaign_offers.get()
    assert (link.offer, link.arm, str(link.weight)) == (bank.offer, "A", "2.00")


def test_the_builder_shows_the_services_errors(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("campaigns:campaign_create"), builder_data(bank, channels="branch")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "The campaign is not valid." in body
    assert "outbound channels only" in body
    assert not Campaign.objects.filter(code="CARD_NUDGE").exists()


def test_the_builder_refuses_an_unknown_channel_before_the_service(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(reverse("campaigns:campaign_create"), builder_data(bank, channels="fax"))
    assert response.status_code == 400
    assert "Unknown channel(s): fax." in response.content.decode()


def test_editing_targeting_makes_a_new_version(client, people, bank):
    client.force_login(people["marketer"])
    url = reverse("campaigns:campaign_edit", args=[bank.campaign.pk])
    form = client.get(url).content.decode()
    assert "age &gt;= 18" in form and 'name="offers-0-offer"' in form
    data = builder_data(bank, audience_rule="age >= 30", kind="batch", trigger_event_types="")
    data["channels"] = "sms"
    response = client.post(url, data)
    assert response.status_code == 302
    bank.campaign.refresh_from_db()
    assert bank.campaign.audience_rule == "age >= 30"
    assert bank.campaign.targeting_version == 2


def test_live_rule_validation_shows_the_error_position(client, people, bank):
    client.force_login(people["marketer"])
    url = reverse("decisioning:rule_check")
    bad = client.get(url, {"audience_rule": "age >= and region == 'x'"}, HTTP_HX_REQUEST="true")
    body = bad.content.decode()
    assert bad.status_code == 200
    assert "Not valid at position 7" in body
    assert "<mark>" in body  # the caret under the offending character
    good = client.get(url, {"audience_rule": "age >= 18 and attributes.gender == 'f'"})
    body = good.content.decode()
    assert "Valid." in body and "<code>age</code>" in body
    assert "protected attribute" in body
    assert "everyone" in client.get(url, {"rule": ""}).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"trigger_event_types": "payment_faild, fuel_purchse"},
            "trigger_event_types",
            "payment_faild: not an event type channels send (did you mean payment_failed?)",
        ),
        (
            {"kind": "batch", "channels": "email", "schedule": "every monday"},
            "schedule",
            "is not a crontab: five fields",
        ),
        (
            {"kind": "batch", "channels": "email", "schedule": "99 99 * * *"},
            "schedule",
            "is not a valid crontab",
        ),
        ({"schedule": "0 9 * * mon"}, "schedule", "only batch campaigns run on a schedule"),
    ],
)
def test_the_builder_refuses_triggers_and_schedules_that_would_never_fire(
    client, people, bank, overrides, field, words
):
    client.force_login(people["marketer"])
    data = builder_data(bank, **overrides)
    if data.get("kind") == "batch":
        data["trigger_event_types"] = ""
    response = client.post(reverse("campaigns:campaign_create"), data)
    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors.get(field, []))
    assert not Campaign.objects.filter(code="CARD_NUDGE").exists()


def test_a_trigger_type_channels_already_send_or_the_bank_declares_is_accepted(
    client, people, bank, settings
):
    Event.objects.create(
        event_id="E-NEW",
        type="mortgage_quote",
        occurred_at=timezone.now(),
        customer=CustomerFactory(),
        status="processed",
        body_hash="x",
    )
    settings.CROSSSELL_EXTRA_EVENT_TYPES = ["pension_review"]
    client.force_login(people["marketer"])
    data = builder_data(bank, trigger_event_types="mortgage_quote, pension_review")
    response = client.post(reverse("campaigns:campaign_create"), data)
    assert response.status_code == 302, response.context["form"].errors


def test_submit_approve_launch_pause_resume(client, people, bank):
    maker, checker = people["marketer"], people["compliance"]
    campaign = bank.campaign
    client.force_login(maker)
    action = lambda name: reverse("campaigns:campaign_action", args=[campaign.pk, name])  # noqa: E731
    response = client.post(action("submit"), follow=True)
    assert "submitted for approval" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_APPROVAL
    approval = ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.CAMPAIGN_TARGETING, subject_id=campaign.pk
    )

    client.force_login(checker)
    client.post(
        reverse("compliance:approval_detail", args=[approval.pk]),
        {"action": "approve", "comment": "ok"},
    )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED

    client.force_login(maker)
    page = client.get(reverse("campaigns:campaign_detail", args=[campaign.pk])).content.decode()
    assert "Launch" in page
    client.post(action("launch"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    client.post(action("pause"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    client.post(action("resume"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING

    # completing cannot be undone: the first press asks, only the confirmation acts
    asked = client.post(action("complete"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert "cannot be undone" in asked.content.decode()
    client.post(action("complete"), {"confirm": "yes"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_a_refused_launch_says_why(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("campaigns:campaign_action", args=[bank.campaign.pk, "launch"]), follow=True
    )
    body = response.content.decode()
    assert "cannot run yet" in body and "not approved" in body
    bank.campaign.refresh_from_db()
    assert bank.campaign.status == CampaignStatus.DRAFT


def test_a_running_batch_run_polls_its_progress_every_second(client, people, bank):
    client.force_login(people["marketer"])
    url = reverse("campaigns:run_detail", args=[bank.run.pk])
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "40.0%" in body and 'aria-valuenow="40.0"' in body
    bank.run.status = RunStatus.COMPLETED
    bank.run.processed_customers = 1000
    bank.run.save()
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in body  # finished: the fragment stops polling
    assert "100.0%" in body


def test_starting_a_run_of_a_campaign_that_is_not_running_shows_the_refusal(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(reverse("decisioning:run_start", args=[bank.campaign.pk]), follow=True)
    assert "A run needs a running campaign" in response.content.decode()


def test_the_contact_policy_page_and_a_new_version(client, people, bank):
    client.force_login(people["marketer"])
    active = ContactPolicy.objects.get(is_active=True)
    page = client.get(reverse("campaigns:policy")).content.decode()
    assert f"In force: v{active.version}" in page
    response = client.post(
        reverse("campaigns:policy_edit"),
        {
            "daily_cap": "2",
            "weekly_cap": "4",
            "quiet_start": "22:00",
            "quiet_end": "08:00",
            "quiet_channels": ["push", "sms"],
            "decline_cooldown_days": "30",
            "fatigue_ignored_in_row": "3",
            "fatigue_backoff_days": "14",
            "presented_elsewhere_days": "7",
            "hardship_event_types": "payment_failed, overdraft",
            "hardship_days": "30",
            "note": "Two a day",
        },
    )
    assert response.status_code == 302
    # The new version waits for a checker; the one in force stays in force.
    new = ContactPolicy.objects.get(version=active.version + 1)
    assert not new.is_active and new.daily_cap == 2
    assert new.hardship_event_types == ["payment_failed", "overdraft"]
    assert ContactPolicy.objects.get(is_active=True) == active
    page = client.get(reverse("campaigns:policy")).content.decode()
    assert f"In force: v{active.version}" in page and f"Waiting for review: v{new.version}" in page

    approval = ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.CONTACT_POLICY, subject_id=new.pk
    )
    client.force_login(people["compliance"])
    client.post(
        reverse("compliance:approval_detail", args=[approval.pk]),
        {"action": "approve", "comment": "ok"},
    )
    assert ContactPolicy.objects.get(is_active=True) == new


def test_the_policy_form_shows_the_services_error(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("campaigns:policy_edit"),
        {
            "daily_cap": "5",
            "weekly_cap": "1",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "decline_cooldown_days": "30",
            "fatigue_ignored_in_row": "3",
            "fatigue_backoff_days": "14",
            "presented_elsewhere_days": "7",
            "hardship_days": "30",
        },
    )
    assert response.status_code == 400
    assert "The contact policy is not valid." in response.content.decode()


def test_simulating_a_draft_campaign_shows_its_funnel(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(reverse("decisioning:campaign_simulate", args=[bank.campaign.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Simulation of FUEL_PUSH" in body and "Suppression funnel" in body
    assert response.context["report"].customers == 1


def test_starting_a_run_of_a_running_batch_campaign(client, people, bank):
    bank.campaign.status = CampaignStatus.RUNNING
    bank.campaign.save()
    client.force_login(people["marketer"])
    response = client.post(reverse("decisioning:run_start", args=[bank.campaign.pk]))
    run = bank.campaign.runs.order_by("-pk").first()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:run_detail", args=[run.pk])


def _builder_queries(client, campaign) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("campaigns:campaign_edit", args=[campaign.pk]))
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_builder_reads_the_offers_once_however_many_rows_it_shows(client, people):
    from tests.factories import CampaignFactory, CampaignOfferFactory, OfferFactory

    client.force_login(people["marketer"])
    small, large = CampaignFactory(code="SMALL"), CampaignFactory(code="LARGE")
    CampaignOfferFactory(campaign=small, offer=OfferFactory())
    for _ in range(12):
        CampaignOfferFactory(campaign=large, offer=OfferFactory())
    _builder_queries(client, small)  # warm what a first page loads once
    small_count = _builder_queries(client, small)
    large_count = _builder_queries(client, large)
    body = client.get(reverse("campaigns:campaign_edit", args=[large.pk])).content.decode()
    assert large_count == small_count
    assert body.count("selected>") >= 12  # every row still shows its own offer chosen
