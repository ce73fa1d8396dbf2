import datetime

import pytest
from django.utils import timezone

from campaigns.models import CampaignRunChunk
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Contact, Decision, Message
from decisioning.runs.batch import campaign_run_resume, campaign_run_start, run_chunk_execute
from decisioning.runs.simulate import campaign_simulate
from decisioning.signals.ingest import event_ingest
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


@pytest.fixture
def customers():
    people = CustomerFactory.create_batch(30)
    for person in people[::2]:
        ConsentFactory(customer=person, channel="email")
    return people


def _start(campaign, **kwargs):
    return campaign_run_start(actor="user:maria", campaign=campaign, dispatch=False, **kwargs)


def _run_all(run):
    for chunk in run.chunks.order_by("first_customer_id"):
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    run.refresh_from_db()
    return run


def test_batch_run_stores_one_decision_per_customer_and_queues_consented_messages(customers):
    campaign = weekly_batch(small_bank())
    run = _run_all(_start(campaign, chunk_size=7))
    assert run.status == "completed" and run.processed_customers == 30
    assert Decision.objects.filter(run=run).count() == 30
    assert sum(run.outcome_counts.values()) == 30
    messages = Message.objects.filter(decision__run=run)
    assert messages.exists()
    consented = {c.pk for c in customers[::2]}
    assert {m.customer_id for m in messages} <= consented
    assert {m.channel for m in messages} == {"email"}
    assert Contact.objects.filter(decision__run=run).count() == messages.count()


def test_batch_decisions_agree_with_the_scalar_engine(customers):
    campaign = weekly_batch(small_bank())
    run = _run_all(_start(campaign, chunk_size=100))
    from decisioning import engine
    from decisioning.decisions.context import load_context

    loaded = snapshots.get(NOON)
    for decision in Decision.objects.filter(run=run).select_related("customer"):
        context = load_context(decision.customer, now=NOON, policy=loaded.engine.policy)
        # The run's own contacts are in the history now; decide as of before the run.
        context = type(context)(
            **{
                **{f: getattr(context, f) for f in context.__slots__},
                "contact_history": tuple(
                    c for c in context.contact_history if c.released_at < NOON
                ),
            }
        )
        scalar = engine.decide(
            loaded.engine,
            context,
            engine.DecisionRequest(mode="batch", now=NOON, campaign_ids=frozenset({campaign.pk})),
        )
        assert decision.outcome_reason == scalar.outcome
        assert [o["offer_code"] for o in decision.offers] == [o.offer_code for o in scalar.offers]


def test_a_run_killed_halfway_and_resumed_has_no_duplicate_and_no_missing_decision(customers):
    campaign = weekly_batch(small_bank())
    run = _start(campaign, chunk_size=8)
    chunks = list(run.chunks.order_by("first_customer_id"))
    run_chunk_execute(chunk_pk=chunks[0].pk, now=NOON)
    # A redelivered task for a finished chunk changes nothing.
    assert run_chunk_execute(chunk_pk=chunks[0].pk, now=NOON) is False
    assert CampaignRunChunk.objects.filter(run=run, status="pending").count() == len(chunks) - 1
    resumed = campaign_run_resume(actor="user:maria", run=run)
    assert resumed.pending_chunks == resumed.queued_chunks == len(chunks) - 1
    run.refresh_from_db()
    assert run.status == "completed"
    stored = list(Decision.objects.filter(run=run).values_list("customer_id", flat=True))
    assert sorted(stored) == sorted(c.pk for c in customers)


def test_shadow_run_records_what_it_would_have_done_and_releases_nothing(customers):
    campaign = weekly_batch(small_bank(), status="draft", shadow_mode=True)
    run = _run_all(_start(campaign, shadow=True))
    assert run.shadow
    decisions = Decision.objects.filter(run=run)
    assert decisions.count() == 30 and all(d.shadow for d in decisions)
    assert not Message.objects.exists() and not Contact.objects.exists()
    assert any(d.explanation["would_have_offered"] for d in decisions)


def test_simulation_reports_audience_funnel_and_expected_conversions_for_a_draft(customers):
    campaign = weekly_batch(small_bank(), status="draft")
    report = campaign_simulate(campaign=campaign, now=NOON)
    assert report.customers == 30
    assert sum(report.funnel.values()) == 30
    assert report.expected_conversions > 0
    assert not Decision.objects.exists()


def test_control_group_in_a_batch_run_is_recorded_but_gets_nothing(customers):
    from decimal import Decimal

    campaign = weekly_batch(small_bank(), control_group_pct=Decimal("100"))
    run = _run_all(_start(campaign))
    assert run.outcome_counts.get("control_group", 0) > 0
    held = Decision.objects.filter(run=run, control_group=True)
    assert held.exists() and all(d.offers == [] for d in held)
    assert not Message.objects.exists()


def test_only_batch_campaigns_have_runs():
    bank = small_bank()
    from core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed):
        _start(bank.fuel_campaign)


def test_event_and_batch_share_one_attention_budget(customers, django_capture_on_commit_callbacks):
    bank = small_bank()
    campaign = weekly_batch(bank)
    person = customers[0]
    ConsentFactory(customer=person, channel="push")
    with django_capture_on_commit_callbacks(execute=True):
        event_ingest(
            actor="api:t",
            event_id="fuel-1",
            type="card_transaction",
            occurred_at=timezone.now(),  # fresh: processed on the real clock
            customer={"external_id": person.external_id},
            payload={"merchant_category": "fuel"},
        )
    assert Contact.objects.filter(customer=person, decision__event__isnull=False).count() == 1
    run = _run_all(_start(campaign))
    decision = Decision.objects.get(run=run, customer=person)
    assert decision.outcome_reason == "frequency_cap"
    assert Contact.objects.filter(customer=person, kind="sales", cancelled=False).count() == 1


# --- resuming a failed or stalled run: the service, the command, the API, the run page ------


def _failed_run(customers):
    """A run whose last chunk failed for good; the others are stored."""
    from campaigns.models import CampaignRun

    run = _start(weekly_batch(small_bank()), chunk_size=8)
    chunks = list(run.chunks.order_by("first_customer_id"))
    for chunk in chunks[:-1]:
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    CampaignRun.objects.filter(pk=run.pk).update(status="failed", error="Chunk ... failed 3 times")
    run.refresh_from_db()
    return run


def test_resuming_a_failed_run_finishes_its_chunks_and_keeps_the_stored_ones(customers):
    from ledger.models import AuditRecord

    run = _failed_run(customers)
    stored_before = set(Decision.objects.filter(run=run).values_list("pk", flat=True))
    resumed = campaign_run_resume(actor="user:maria", run=run)
    assert (resumed.pending_chunks, resumed.queued_chunks) == (1, 1)
    assert resumed.run.status == "completed" and resumed.run.error == ""
    assert stored_before < set(Decision.objects.filter(run=run).values_list("pk", flat=True))
    assert Decision.objects.filter(run=run).count() == 30
    record = AuditRecord.objects.get(action="run_resumed", object_id=str(run.pk))
    assert record.data["previous_status"] == "failed" and record.actor == "user:maria"


def test_a_completed_run_cannot_be_resumed(customers):
    from core.exceptions import Conflict

    run = _run_all(_start(weekly_batch(small_bank())))
    with pytest.raises(Conflict):
        campaign_run_resume(actor="user:maria", run=run)


def test_manage_py_resume_run_resumes_a_failed_run(customers, capsys):
    from django.core.management import CommandError, call_command

    run = _failed_run(customers)
    call_command("resume_run", str(run.pk))
    run.refresh_from_db()
    assert run.status == "completed"
    assert f"Run {run.pk}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="completed"):
        call_command("resume_run", str(run.pk))
    with pytest.raises(CommandError, match="No run"):
        call_command("resume_run", "999999")


def _api(role):
    import uuid

    from crosssell.services import api_client_create
    from tests.api.conftest import ALL_CHANNELS, Api

    _, key = api_client_create(
        actor="system:tests",
        name=f"{role}-runs-{uuid.uuid4().hex[:8]}",
        role=role,
        channels=ALL_CHANNELS if role == "channel" else None,
    )
    return Api(key)


def test_the_api_resumes_a_failed_run_for_a_marketer(customers):
    run = _failed_run(customers)
    response = _api("marketer").post(f"/api/v1/runs/{run.pk}/resume/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["queued_chunks"] == 1
    assert body["run"]["status"] == "completed" and body["run"]["error"] == ""
    assert body["run"]["chunks"] == {"total": 4, "done": 4, "pending": 0}
    assert body["run"]["processed_customers"] == 30


def test_the_api_answers_409_for_a_completed_run_and_404_for_an_unknown_one(customers):
    run = _run_all(_start(weekly_batch(small_bank())))
    admin = _api("admin")
    conflict = admin.post(f"/api/v1/runs/{run.pk}/resume/")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    missing = admin.post("/api/v1/runs/99999999999999999999999/resume/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_api_shows_a_run_and_refuses_resume_to_other_roles(customers):
    run = _failed_run(customers)
    shown = _api("compliance").get(f"/api/v1/runs/{run.pk}/")
    assert shown.status_code == 200
    assert shown.json()["status"] == "failed" and shown.json()["chunks"]["pending"] == 1
    for role in ("compliance", "analyst", "channel"):
        refused = _api(role).post(f"/api/v1/runs/{run.pk}/resume/")
        assert refused.status_code == 403, role
    run.refresh_from_db()
    assert run.status == "failed"


def test_the_run_page_resume_button_posts_with_csrf_for_a_marketer(customers):
    import re

    from django.test import Client
    from django.urls import reverse

    from tests.factories import persona

    run = _failed_run(customers)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(persona("maker", "marketer"))
    page = browser.get(reverse("campaigns:run_detail", args=[run.pk]))
    assert page.status_code == 200
    action = reverse("decisioning:run_resume", args=[run.pk])
    html = page.content.decode()
    assert f'action="{action}"' in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    assert browser.post(action).status_code == 403  # no CSRF token
    response = browser.post(action, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "completed"
    assert "resumed" in response.content.decode()


def test_the_run_page_hides_resume_from_other_roles_and_refuses_their_post(customers):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import persona

    run = _failed_run(customers)
    browser = Client()
    browser.force_login(persona("analyst", "analyst"))
    page = browser.get(reverse("campaigns:run_detail", args=[run.pk]))
    assert page.status_code == 200 and "Resume run" not in page.content.decode()
    assert browser.post(reverse("decisioning:run_resume", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == "failed"
