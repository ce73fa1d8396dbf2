"""The home dashboard shows real figures per role; the health page is for operators."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from crosssell.models import WorkerHeartbeat
from crosssell.views import bank_today_start
from ledger.sealer import seal_all_pending
from tests.console.builders import make_decision, pending_content_approval
from tests.factories import CustomerFactory


def test_the_dashboard_counts_todays_decisions_releases_and_suppression_reasons(
    client, people, bank
):
    customer = CustomerFactory()
    make_decision(customer, bank.campaign, offers_released=2)
    make_decision(customer, bank.campaign, offers_released=0, outcome_reason="no_consent")
    make_decision(customer, bank.campaign, offers_released=0, outcome_reason="no_consent")
    make_decision(
        customer,
        bank.campaign,
        offers_released=0,
        outcome_reason="control_group",
        control_group=True,
    )
    yesterday = bank_today_start() - datetime.timedelta(hours=1)
    make_decision(customer, bank.campaign, created_at=yesterday, outcome_reason="frequency_cap")
    client.force_login(people["analyst"])
    response = client.get(reverse("home"))
    today = response.context["today"]
    assert today["decisions"] == 5  # the bank fixture's decision + four today
    assert today["offers_released"] == 1 + 2
    assert today["control_group"] == 1
    assert today["suppression_reasons"] == [{"reason": "no_consent", "count": 2, "width": 100}]
    body = response.content.decode()
    assert "Decisions today" in body and "no_consent" in body
    assert "frequency_cap" not in body  # yesterday's


def test_compliance_sees_approvals_waiting_and_the_ledger_status(client, people, bank):
    pending_content_approval(people["marketer"], bank.offer, body="Guaranteed approval!")
    seal_all_pending()
    client.force_login(people["compliance"])
    response = client.get(reverse("home"))
    assert response.context["approvals"]["waiting"] == 1
    assert response.context["approvals"]["blocking"] == 1
    ledger = response.context["ledger"]
    assert ledger["last_seal"] is not None and ledger["unsealed"] == 0
    body = response.content.decode()
    assert "Approvals waiting" in body and "Ledger status" in body


def test_marketers_see_running_campaigns_and_batch_runs(client, people, bank):
    bank.campaign.status = "running"
    bank.campaign.save()
    client.force_login(people["marketer"])
    response = client.get(reverse("home"))
    assert response.context["running_count"] == 1
    body = response.content.decode()
    assert "FUEL_PUSH" in body and reverse("campaigns:run_detail", args=[bank.run.pk]) in body
    assert "approvals" not in response.context  # compliance figures are not theirs


def test_the_health_page_reports_database_workers_ledger_and_queues(client, people, bank):
    WorkerHeartbeat.objects.create(
        token="t1", hostname="worker-1", database_vendor="sqlite", seen_at=timezone.now()
    )
    client.force_login(people["admin"])
    response = client.get(reverse("health"))
    body = response.content.decode()
    assert response.context["database"]["ok"] is True
    assert response.context["database"]["unapplied_migrations"] == []
    assert response.context["celery"]["eager"] is True
    assert "worker-1" in body
    assert 'hx-trigger="every 10s"' in body
    assert response.context["queue"] == {
        "queued": 0,
        "queued_capped": False,
        "leased": 0,
        "leased_capped": False,
        "due": 0,
        "due_capped": False,
    }
    assert '<ul class="messages">' not in body  # the queue is not shown as flash messages


def test_todays_figures_are_kept_incrementally_across_requests(client, people, bank):
    customer = CustomerFactory()
    ten_minutes_ago = timezone.now() - datetime.timedelta(minutes=10)
    if ten_minutes_ago < bank_today_start():
        ten_minutes_ago = timezone.now()  # just after midnight: everything is recent
    make_decision(customer, bank.campaign, created_at=ten_minutes_ago, outcome_reason="no_consent")
    client.force_login(people["analyst"])
    first = client.get(reverse("home")).context["today"]
    assert first["decisions"] == 2
    make_decision(customer, bank.campaign, outcome_reason="no_consent")  # arrives now
    second = client.get(reverse("home")).context["today"]
    assert second["decisions"] == 3
    assert second["suppression_reasons"] == [{"reason": "no_consent", "count": 2, "width": 100}]


def test_the_health_page_counts_a_long_queue_up_to_a_cap_and_says_so(
    client, people, bank, monkeypatch
):
    from crosssell import views
    from decisioning.models import Message

    monkeypatch.setattr(views, "QUEUE_COUNT_CAP", 2)
    for channel in ("sms", "push", "email"):
        Message.objects.create(
            decision=bank.decision,
            customer=bank.customer,
            campaign=bank.campaign,
            offer=bank.offer,
            content=bank.content,
            channel=channel,
            deliver_after=timezone.now() + datetime.timedelta(hours=1),
            created_at=timezone.now(),
        )
    client.force_login(people["admin"])
    response = client.get(reverse("health"))
    queue = response.context["queue"]
    assert (queue["queued"], queue["queued_capped"]) == (2, True)
    assert (queue["due"], queue["due_capped"]) == (0, False)
    assert '<div class="value">2+</div>' in response.content.decode()
