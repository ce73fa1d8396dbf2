"""GET /metrics: Prometheus's text format with request metrics (django-prometheus), the
product's counters moving as decisions are made and tasks run, the database gauges read
at scrape time, and who may read it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from celery import shared_task
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from crosssell.observability import collector
from crosssell.services import api_client_create
from customers.models import Customer, Event
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Decision, Message
from tests.api.conftest import Api
from tests.decisioning.catalog import small_bank
from tests.factories import ConsentFactory, CustomerFactory, daytime_zone
from tests.foundation.test_deploy import production

pytestmark = pytest.mark.django_db

CHANNELS = ["mobile_app", "web", "branch", "contact_center", "atm", "push", "sms", "email"]
Samples = dict[tuple[str, frozenset], float]


@shared_task(name="tests.metrics.always_fails")
def always_fails() -> None:
    raise RuntimeError("this task fails on purpose")


FLAKY_CALLS: list[int] = []


@shared_task(
    name="tests.metrics.fails_once",
    autoretry_for=(ConnectionError,),
    retry_kwargs={"max_retries": 2, "countdown": 0},
)
def fails_once() -> str:
    FLAKY_CALLS.append(1)
    if len(FLAKY_CALLS) == 1:
        raise ConnectionError("the first call fails")
    return "done"


@pytest.fixture
def api(db):
    snapshots.clear()
    _, key = api_client_create(
        actor="system:tests", name="metrics", role="channel", channels=CHANNELS
    )
    yield Api(key)
    snapshots.clear()


@pytest.fixture
def customer(db):
    person = CustomerFactory(external_id="M1")
    for channel in ("push", "sms", "email"):
        ConsentFactory(customer=person, channel=channel)
    return person


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def decide(api: Api, channel: str = "contact_center"):
    return api.post(
        "/api/v1/decisions/",
        {"customer": {"external_id": "M1"}, "channel": channel, "max_offers": 3},
    )


def test_a_decision_moves_the_decision_release_suppression_and_latency_counts(
    api, customer, django_capture_on_commit_callbacks
):
    small_bank()
    before = scrape(api.http)
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(api)
    assert response.status_code == 200
    after = scrape(api.http)

    stored = Decision.objects.get(pk=response.json()["decision_id"])
    assert response.json()["offers"], "the small bank releases offers on the contact centre"
    assert (
        moved(
            before,
            after,
            "crosssell_decisions_total",
            mode="inbound",
            outcome=stored.outcome_reason,
        )
        == 1
    )
    assert moved(before, after, "crosssell_offers_released_total", channel="contact_center") == len(
        response.json()["offers"]
    )
    from decisioning.decisions.explanation import full_trace

    reasons = Counter(
        item["reason"] for item in full_trace(stored)["suppressed"] if not item.get("shadow")
    )
    assert reasons, "the small bank withholds some candidates from this customer"
    for reason, count in reasons.items():
        assert moved(before, after, "crosssell_suppressions_total", reason=reason) == count
    assert moved(before, after, "crosssell_decision_latency_seconds_count", mode="inbound") == 1
    assert moved(before, after, "crosssell_decision_latency_seconds_sum", mode="inbound") > 0


def test_request_latency_and_responses_are_counted_by_view_and_status(api, customer):
    small_bank()
    view = resolve("/api/v1/decisions/").view_name
    before = scrape(api.http)
    assert decide(api).status_code == 200
    assert decide(api, channel="nowhere").status_code == 400
    after = scrape(api.http)
    assert (
        moved(
            before,
            after,
            "django_http_requests_latency_seconds_by_view_method_count",
            view=view,
            method="POST",
        )
        == 2
    )
    for status in ("200", "400"):
        assert (
            moved(
                before,
                after,
                "django_http_responses_total_by_status_view_method_total",
                status=status,
                view=view,
                method="POST",
            )
            == 1
        )


def test_an_uncommitted_decision_is_not_counted(api, customer, django_capture_on_commit_callbacks):
    small_bank()
    before = scrape(api.http)
    with django_capture_on_commit_callbacks(execute=False):
        assert decide(api).status_code == 200
    # The test's transaction is rolled back: the decision never committed.
    after = scrape(api.http)
    assert (
        sum(
            v - before.get(key, 0.0)
            for key, v in after.items()
            if key[0] == "crosssell_decisions_total"
        )
        == 0
    )


def test_snapshot_rebuilds_are_counted_when_the_snapshot_is_built_not_when_it_is_reused(
    api, customer
):
    small_bank()
    snapshots.clear()
    before = scrape(api.http)
    assert decide(api).status_code == 200
    once = scrape(api.http)
    assert decide(api).status_code == 200
    twice = scrape(api.http)
    assert moved(before, once, "crosssell_snapshot_rebuilds_total") == 1
    assert moved(once, twice, "crosssell_snapshot_rebuilds_total") == 0


def test_a_failing_task_is_counted_and_timed_by_name(client):
    before = scrape(client)
    result = always_fails.apply(throw=False)
    assert result.failed()
    after = scrape(client)
    assert (
        moved(before, after, "crosssell_task_failures_total", task="tests.metrics.always_fails")
        == 1
    )
    assert (
        moved(
            before,
            after,
            "crosssell_task_duration_seconds_count",
            task="tests.metrics.always_fails",
        )
        == 1
    )


def test_a_retried_task_is_counted_as_a_retry_not_a_failure(client):
    FLAKY_CALLS.clear()
    before = scrape(client)
    fails_once.apply(throw=False)
    after = scrape(client)
    name = "tests.metrics.fails_once"
    assert len(FLAKY_CALLS) == 2
    assert moved(before, after, "crosssell_task_retries_total", task=name) == 1
    assert moved(before, after, "crosssell_task_failures_total", task=name) == 0


def test_the_gauges_count_queued_and_leased_messages_by_channel_and_pending_events(
    api, customer, client, django_capture_on_commit_callbacks
):
    small_bank()
    now = timezone.now()
    # push outside its quiet hours, whatever the hour the suite runs at
    Customer.objects.filter(external_id="M1").update(time_zone=daytime_zone(now))
    empty = scrape(client)
    for channel in ("push", "sms", "email"):
        for status in ("queued", "leased"):
            key = (
                "crosssell_queue_messages",
                frozenset({"channel": channel, "status": status}.items()),
            )
            assert empty[key] == 0, "every outbound channel is listed, even when idle"
    assert value(empty, "crosssell_events_pending") == 0

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            accepted = api.post(
                "/api/v1/events/",
                {
                    "event_id": f"M-E{n}",
                    "type": "payment_failed",
                    "occurred_at": now.isoformat(),
                    "customer": {"external_id": "M1"},
                    "channel": "mobile_app",
                    "payload": {},
                },
            )
            assert accepted.status_code == 202
    queued = Message.objects.filter(channel="push", status="queued")
    assert queued.count() >= 2
    leased = queued.first()
    Message.objects.filter(pk=leased.pk).update(
        status="leased", lease_expires_at=now + timedelta(minutes=5)
    )
    waiting_since = now - timedelta(minutes=10)
    for n in range(2):
        Event.objects.create(
            event_id=f"M-PENDING-{n}",
            type="card_transaction",
            occurred_at=waiting_since,
            customer=customer,
            status="accepted",
            body_hash="0" * 64,
        )
    Event.objects.filter(event_id__startswith="M-PENDING").update(received_at=waiting_since)

    samples = scrape(client)
    assert value(samples, "crosssell_metrics_database_up") == 1
    assert value(samples, "crosssell_queue_messages", channel="push", status="queued") == (
        Message.objects.filter(channel="push", status="queued").count()
    )
    assert value(samples, "crosssell_queue_messages", channel="push", status="leased") == 1
    assert value(samples, "crosssell_queue_messages", channel="sms", status="queued") == (
        Message.objects.filter(channel="sms", status="queued").count()
    )
    assert value(samples, "crosssell_events_pending") == 2
    assert 590 <= value(samples, "crosssell_events_pending_oldest_age_seconds") <= 3600


def test_the_gauges_show_the_unsealed_ledger_backlog(client, django_capture_on_commit_callbacks):
    from ledger.sealer import seal_all_pending
    from ledger.services import audit

    seal_all_pending()
    assert value(scrape(client), "crosssell_audit_unsealed_records") == 0
    for n in range(3):
        audit(kind="access", action="metrics_probe", actor="system:tests", object_id=n)
    samples = scrape(client)
    assert value(samples, "crosssell_audit_unsealed_records") == 3
    assert value(samples, "crosssell_audit_sealer_lag_seconds") >= 0
    seal_all_pending()
    assert value(scrape(client), "crosssell_audit_unsealed_records") == 0


def test_a_database_that_does_not_answer_leaves_the_gauges_out_and_says_so(client, monkeypatch):
    def down() -> dict:
        raise OperationalError("connection refused")

    monkeypatch.setattr(collector, "queue_depth", down)
    samples = scrape(client)
    assert value(samples, "crosssell_metrics_database_up") == 0
    assert not any(name == "crosssell_queue_messages" for name, _ in samples)
    # The process's counters are served all the same.
    assert ("crosssell_snapshot_rebuilds_total", frozenset()) in samples
    assert any(name.startswith("django_http_") for name, _ in samples)


def test_a_scrape_touches_neither_the_session_nor_the_api_clients(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    touched = " ".join(query["sql"] for query in queries.captured_queries)
    assert "django_session" not in touched and "apiclient" not in touched
    assert response["Cache-Control"] == "no-store"


def test_metrics_answer_reads_only(client):
    assert client.post("/metrics").status_code == 405


# --- who may read it -----------------------------------------------------------------------


@pytest.fixture
def closed(settings):
    settings.CROSSSELL_METRICS_OPEN = False
    settings.CROSSSELL_METRICS_ALLOWED_NETWORKS = []
    settings.CROSSSELL_METRICS_TOKEN = ""
    return settings


def test_closed_metrics_with_nothing_configured_refuse_everyone(client, closed):
    assert client.get("/metrics").status_code == 403


def test_closed_metrics_serve_the_allowed_networks_only(client, closed):
    closed.CROSSSELL_METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24", "2001:db8::1"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 403
    # Behind one proxy the client is what the proxy appended, not what the client sent.
    closed.CROSSSELL_PROXY_COUNT = 1
    spoofed = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="192.0.2.7, 198.51.100.7"
    )
    assert spoofed.status_code == 403
    proxied = client.get("/metrics", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="192.0.2.7")
    assert proxied.status_code == 200


def test_closed_metrics_with_a_token_need_the_bearer_token(client, closed):
    closed.CROSSSELL_METRICS_TOKEN = "s3cret-scrape-token"
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-scrape-token").status_code == 401
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    )


def test_closed_metrics_with_token_and_networks_need_both(client, closed):
    closed.CROSSSELL_METRICS_TOKEN = "s3cret-scrape-token"
    closed.CROSSSELL_METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    token = {"HTTP_AUTHORIZATION": "Bearer s3cret-scrape-token"}
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **token).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7", **token).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401


PRODUCTION_SCRAPE = """
import django, json
django.setup()
from django.test import Client
answers = {}
for name, extra in {
    "elsewhere": {"secure": True},
    "allowed": {"secure": True, "REMOTE_ADDR": "192.0.2.7"},
    "allowed_over_http": {"REMOTE_ADDR": "192.0.2.7"},
}.items():
    answers[name] = Client().get("/metrics", HTTP_HOST="example.org", **extra).status_code
print(json.dumps(answers))
"""


def scrape_in_production(tmp_path, **variables: str) -> dict[str, int]:
    # DATABASE_URL blank: the embedded SQLite file (unmigrated: the gauges say database_up 0).
    done = production(tmp_path, ["-c", PRODUCTION_SCRAPE], DATABASE_URL="", **variables)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_never_opens_metrics_to_everyone(tmp_path):
    answers = scrape_in_production(tmp_path, CROSSSELL_METRICS_OPEN="true")
    assert set(answers.values()) == {403}


def test_production_serves_metrics_to_the_allowed_networks_over_plain_http_too(tmp_path):
    answers = scrape_in_production(tmp_path, CROSSSELL_METRICS_ALLOWED_NETWORKS="192.0.2.0/24")
    assert answers["elsewhere"] == 403
    assert answers["allowed"] == 200
    # Prometheus scrapes over plain HTTP from inside the network: no redirect to HTTPS.
    assert answers["allowed_over_http"] == 200


def test_a_malformed_allowed_network_stops_start_up_naming_the_variable(tmp_path):
    done = production(
        tmp_path, ["manage.py", "check"], CROSSSELL_METRICS_ALLOWED_NETWORKS="10.0.0.0/8,not-a-net"
    )
    assert done.returncode != 0
    assert "CROSSSELL_METRICS_ALLOWED_NETWORKS" in done.stderr
