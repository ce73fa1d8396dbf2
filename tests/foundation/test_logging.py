"""Log lines and the request id: JSON lines (``CROSSSELL_LOG_FORMAT=json``) or readable
ones, each carrying the id of the request in hand; the id travels into the Celery tasks
a request publishes — in the message's headers to a worker, in-process when eager — and
onto every audit row and log line written inside them."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import time

import pytest
import structlog
from celery import shared_task
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.test import override_settings
from django.urls import path
from django.utils import timezone

from compliance.models import CatalogVersion
from core.logs import formatter
from core.request_context import current_request_id, set_request_id
from crosssell.observability.task_signals import REQUEST_ID_HEADER, request_id_into_headers
from crosssell.services import api_client_create
from ledger.models import AuditRecord
from ledger.services import audit
from tests.api.conftest import Api
from tests.decisioning.catalog import small_bank
from tests.factories import ConsentFactory, CustomerFactory
from tests.foundation.test_deploy import production

pytestmark = pytest.mark.django_db

probe_logger = logging.getLogger("crosssell.tests.logging")


@shared_task(name="tests.logging.audit_in_task")
def audit_in_task(label: str) -> int:
    """Writes one audit row and one log line, as any worker task does."""
    probe_logger.warning("task wrote %s", label)
    with transaction.atomic():
        record = audit(kind="access", action="task_probe", actor="system:tests", object_id=label)
    return record.seq


def logging_view(request):
    probe_logger.warning("view says %s", "hello")
    structlog.get_logger("crosssell.tests.structlog").warning("structlog says", answer=42)
    return HttpResponse("ok")


def refusing_view(request):
    # Django's django.request logger writes this 400 after the middleware has returned.
    return HttpResponseBadRequest("no")


def failing_view(request):
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        probe_logger.exception("it broke")
    return HttpResponse("handled")


def publishing_view(request):
    audit_in_task.delay("from-view")
    return HttpResponse("published")


urlpatterns = [
    path("log/", logging_view),
    path("refuse/", refusing_view),
    path("fail/", failing_view),
    path("publish/", publishing_view),
]


@pytest.fixture
def lines():
    """What the root logger writes in the JSON format, one parsed object per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read() -> list[dict]:
        text = stream.getvalue()
        return [json.loads(line) for line in text.splitlines() if line]

    yield read
    root.removeHandler(handler)
    root.setLevel(previous)


def by_event(lines: list[dict], text: str) -> dict:
    found = [line for line in lines if text in line["event"]]
    assert len(found) == 1, lines
    return found[0]


# --- lines in a request --------------------------------------------------------------------


@override_settings(ROOT_URLCONF=__name__)
def test_a_line_logged_in_a_request_is_one_json_object_carrying_the_request_id(client, lines):
    response = client.get("/log/", HTTP_X_REQUEST_ID="req-json-1")
    assert response["X-Request-Id"] == "req-json-1"
    line = by_event(lines(), "view says hello")
    assert line["request_id"] == "req-json-1"
    assert line["level"] == "warning"
    assert line["logger"] == "crosssell.tests.logging"
    assert line["timestamp"].endswith("Z")
    through_structlog = by_event(lines(), "structlog says")
    assert through_structlog["request_id"] == "req-json-1"
    assert through_structlog["answer"] == 42


@override_settings(ROOT_URLCONF=__name__)
def test_every_request_gets_an_id_of_its_own_when_the_caller_sends_none(client, lines):
    client.get("/log/")
    client.get("/log/")
    ids = [line["request_id"] for line in lines() if "view says" in line["event"]]
    assert len(ids) == 2 and ids[0] != ids[1] and all(len(i) == 32 for i in ids)


@override_settings(ROOT_URLCONF=__name__)
def test_djangos_own_request_line_carries_the_request_id_too(client, lines):
    assert client.get("/refuse/", HTTP_X_REQUEST_ID="req-refused").status_code == 400
    line = by_event(lines(), "Bad Request: /refuse/")
    assert line["logger"] == "django.request"
    assert line["request_id"] == "req-refused"


@override_settings(ROOT_URLCONF=__name__)
def test_a_traceback_stays_inside_its_one_json_line(client, lines):
    client.get("/fail/", HTTP_X_REQUEST_ID="req-fail")
    line = by_event(lines(), "it broke")
    assert "ValueError: first line\nsecond line" in line["exception"]
    assert line["request_id"] == "req-fail"


def test_a_line_outside_any_request_has_no_request_id(lines):
    probe_logger.warning("between requests")
    assert "request_id" not in by_event(lines(), "between requests")


def test_the_console_format_is_readable_text_with_the_request_id():
    record = logging.LogRecord(
        "crosssell.x", logging.WARNING, __file__, 1, "hello %s", ("you",), None
    )
    token = set_request_id("req-console")
    try:
        text = formatter("console").format(record)
    finally:
        token.var.reset(token)
    assert not text.lstrip().startswith("{")
    assert "hello you" in text and "request_id=req-console" in text and "crosssell.x" in text


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="json"):
        formatter("xml")


PRODUCTION_LOG = """
import django
django.setup()
from django.test import Client
Client().get("/metrics", HTTP_HOST="example.org", secure=True, REMOTE_ADDR="192.0.2.7",
             HTTP_X_REQUEST_ID="req-production")
"""


def test_production_logs_json_lines_with_the_request_id_by_default(tmp_path):
    # The scrape's database gauges fail on the unmigrated database and log a warning.
    done = production(
        tmp_path,
        ["-c", PRODUCTION_LOG],
        CROSSSELL_METRICS_ALLOWED_NETWORKS="192.0.2.0/24",
        CROSSSELL_LOG_FORMAT="",  # blank: the default
        DATABASE_URL="",  # the embedded SQLite file, never migrated here
    )
    assert done.returncode == 0, done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert logged, done.stderr
    warning = next(line for line in logged if line["logger"] == "crosssell.observability.collector")
    assert warning["request_id"] == "req-production"
    assert "no such table" in warning["exception"]
    not_json = [line for line in done.stderr.splitlines() if line and not line.startswith("{")]
    assert not_json == []


def test_production_logs_readable_lines_when_asked(tmp_path):
    done = production(
        tmp_path,
        ["-c", PRODUCTION_LOG],
        CROSSSELL_METRICS_ALLOWED_NETWORKS="192.0.2.0/24",
        CROSSSELL_LOG_FORMAT="console",
        DATABASE_URL="",
    )
    assert done.returncode == 0, done.stderr
    assert "request_id=req-production" in done.stderr
    assert not any(line.startswith("{") for line in done.stderr.splitlines())


def test_json_lines_carry_no_personal_data_sent_through_the_api(
    lines, django_capture_on_commit_callbacks
):
    first, email = "Zephyrine", "zephyrine.quillfeather@pii-probe.example"
    _, key = api_client_create(actor="system:tests", name="pii", role="channel", channels=["web"])
    api = Api(key)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api.put("/api/v1/customers/PII1/", {"first_name": first, "email": email}).status_code
            == 201
        )
        refused = api.put("/api/v1/customers/PII1/", {"first_name": first, "birth_date": email})
        assert refused.status_code == 400
    text = json.dumps(lines())
    assert "Bad Request" in text, "the refused request is logged"
    assert first not in text and email not in text


# --- the request id in Celery tasks ----------------------------------------------------------


def in_fresh_context(function, *args, **kwargs):
    """Run as a worker does: no request id of its own."""
    return contextvars.Context().run(function, *args, **kwargs)


def test_publishing_puts_the_request_id_in_the_task_headers():
    headers: dict = {}
    token = set_request_id("req-publish")
    try:
        request_id_into_headers(headers=headers)
    finally:
        token.var.reset(token)
    assert headers == {REQUEST_ID_HEADER: "req-publish"}
    # Outside a request nothing is added; a header the caller set is kept.
    untouched: dict = {}
    request_id_into_headers(headers=untouched)
    assert untouched == {}
    chosen = {REQUEST_ID_HEADER: "req-caller"}
    token = set_request_id("req-other")
    try:
        request_id_into_headers(headers=chosen)
    finally:
        token.var.reset(token)
    assert chosen == {REQUEST_ID_HEADER: "req-caller"}


def test_a_task_run_from_its_message_headers_stamps_their_request_id_on_its_audit_row(lines):
    result = in_fresh_context(
        audit_in_task.apply, args=("by-header",), headers={REQUEST_ID_HEADER: "req-header"}
    )
    record = AuditRecord.objects.get(seq=result.get())
    assert record.request_id == "req-header"
    line = by_event(lines(), "task wrote by-header")
    assert line["request_id"] == "req-header"
    assert line["task"] == "tests.logging.audit_in_task" and line["task_id"] == result.id


def test_the_worker_form_of_the_header_is_read_too():
    # A worker hands the message's headers over as attributes of the task's request.
    from celery.app.task import Context

    from crosssell.observability.task_signals import task_finished, task_started

    class Task:
        name = "tests.logging.worker_form"
        request = Context({"id": "t-1", REQUEST_ID_HEADER: "req-worker"})

    def run() -> tuple[str, str]:
        task_started(task_id="t-1", task=Task)
        inside = current_request_id()
        task_finished(task=Task)
        return inside, current_request_id()

    assert in_fresh_context(run) == ("req-worker", "")


def test_a_request_id_from_a_message_is_kept_only_as_a_plain_token():
    result = in_fresh_context(
        audit_in_task.apply,
        args=("dirty",),
        headers={REQUEST_ID_HEADER: "req-<script>\n" + "x" * 100},
    )
    request_id = AuditRecord.objects.get(seq=result.get()).request_id
    assert request_id == ("req-script" + "x" * 100)[:64]


def test_a_task_no_request_led_to_runs_under_its_own_task_id_and_leaks_no_id():
    def two_tasks() -> tuple[int, int, str, str]:
        first = audit_in_task.apply(args=("first",), headers={REQUEST_ID_HEADER: "req-first"})
        second = audit_in_task.apply(args=("second",))
        return first.get(), second.get(), second.id, current_request_id()

    first, second, second_id, after = in_fresh_context(two_tasks)
    assert AuditRecord.objects.get(seq=first).request_id == "req-first"
    assert AuditRecord.objects.get(seq=second).request_id == f"task:{second_id}"
    assert after == ""


def test_a_task_published_by_a_task_carries_the_id_it_ran_under():
    headers: dict = {}

    @shared_task(name="tests.logging.publishes")
    def publishes() -> None:
        request_id_into_headers(headers=headers)

    result = in_fresh_context(publishes.apply)
    assert headers == {REQUEST_ID_HEADER: f"task:{result.id}"}


@override_settings(ROOT_URLCONF=__name__)
def test_an_eager_task_published_in_a_request_stamps_the_request_id_on_its_audit_row(client):
    # CELERY_TASK_ALWAYS_EAGER (the embedded default): no message, no publish signal.
    assert client.get("/publish/", HTTP_X_REQUEST_ID="req-eager").status_code == 200
    record = AuditRecord.objects.get(action="task_probe", object_id="from-view")
    assert record.request_id == "req-eager"
    assert current_request_id() == ""


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_audit_rows_a_worker_writes_for_an_event_carry_the_request_that_sent_it(
    integration_services,
):
    small_bank()
    # The worker outlives the tests and keeps its snapshot while the catalog version is the
    # one it saw; the tables were emptied since, so give this catalog a version of its own.
    CatalogVersion.objects.filter(pk=1).update(version=int(time.time()))
    person = CustomerFactory(external_id="RID1")
    ConsentFactory(customer=person, channel="push")
    _, key = api_client_create(
        actor="system:tests", name="rid", role="channel", channels=["mobile_app", "push"]
    )
    event = {
        "event_id": "RID-E1",
        "type": "payment_failed",
        "occurred_at": timezone.now().isoformat(),
        "customer": {"external_id": "RID1"},
        "channel": "mobile_app",
        "payload": {},
    }
    sent = Api(key).post("/api/v1/events/", event, HTTP_X_REQUEST_ID="req-to-worker")
    assert sent.status_code == 202
    deadline = time.monotonic() + 30
    written = AuditRecord.objects.filter(
        actor="system:process_event", customer_ref=person.pseudonym
    )
    while not written.exists():
        if time.monotonic() > deadline:
            pytest.fail("no worker wrote the event's audit rows within 30 s")
        time.sleep(0.1)
    time.sleep(0.5)  # the decision's rows are written in one transaction: all are there
    assert set(written.values_list("request_id", flat=True)) == {"req-to-worker"}
