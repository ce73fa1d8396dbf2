"""No personal data reaches the logs: a customer's name, e-mail and phone sent through the
API (profile, event, decision, consent, and requests that fail) appear in no log record
of the project's loggers or Django's request logger, at any level."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from crosssell.services import api_client_create
from decisioning.decisions.snapshots import snapshots
from tests.api.conftest import Api
from tests.decisioning.catalog import small_bank

pytestmark = pytest.mark.django_db

FIRST_NAME, LAST_NAME = "Zephyrine", "Quillfeather"
EMAIL = "zephyrine.quillfeather@pii-probe.example"
PHONE = "+351919876543"
PERSONAL = (FIRST_NAME, LAST_NAME, EMAIL, PHONE, "919876543")
LOGGERS = (
    "core",
    "crosssell",
    "ledger",
    "customers",
    "compliance",
    "offers",
    "campaigns",
    "decisioning",
    "celery",
    "django.request",
    "django.server",
    "axes",
)
CHANNELS = ["mobile_app", "web", "branch", "contact_center", "atm", "push", "sms", "email"]


@pytest.fixture
def api(db) -> Api:
    snapshots.clear()
    _, key = api_client_create(
        actor="system:tests", name="pii-probe", role="channel", channels=CHANNELS
    )
    yield Api(key)
    snapshots.clear()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def everything_logged(caplog) -> str:
    """Each record's message, arguments, extra attributes and traceback, as text."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(vars(record)))
    return "\n".join(parts)


def test_personal_data_sent_through_the_api_never_reaches_the_logs(
    api, logs, django_capture_on_commit_callbacks
):
    small_bank()
    profile = {
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
        "email": EMAIL,
        "phone": PHONE,
        "birth_date": "1985-04-12",
        "region": "Lisbon",
        "holdings": ["CURRENT_ACCOUNT"],
    }
    now = timezone.now().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.put("/api/v1/customers/PII1/", profile).status_code == 201
        for channel in ("push", "sms", "email"):
            granted = {"status": "granted", "source": f"signed by {FIRST_NAME}", "captured_at": now}
            assert (
                api.put(f"/api/v1/customers/PII1/consents/{channel}/", granted).status_code == 200
            )
        event = {
            "event_id": "PII-E1",
            "type": "payment_failed",
            "occurred_at": now,
            "customer": {"external_id": "PII1"},
            "channel": "mobile_app",
            "payload": {"amount": 42.5, "payer": f"{FIRST_NAME} {LAST_NAME}", "email": EMAIL},
        }
        assert api.post("/api/v1/events/", event).status_code == 202
        decision = api.post(
            "/api/v1/decisions/",
            {
                "customer": {"external_id": "PII1"},
                "channel": "contact_center",
                "context": {"event_type": "loan_calculator_used", "caller": PHONE},
            },
        )
        assert decision.status_code == 200
        revoked = {"status": "revoked", "source": f"call from {PHONE}", "captured_at": now}
        assert api.put("/api/v1/customers/PII1/consents/sms/", revoked).status_code == 200
        # Requests that fail are logged by django.request: with their path, never their body.
        invalid = api.put("/api/v1/customers/PII1/", {**profile, "birth_date": EMAIL})
        assert invalid.status_code == 400
        unknown = api.put("/api/v1/customers/NOBODY/consents/sms/", revoked)
        assert unknown.status_code == 404
        assert (
            api.put("/api/v1/customers/PII2/", {"email": EMAIL, "risk_band": PHONE}).status_code
            == 400
        )

    assert logs.records, "the failed requests at least are logged (django.request)"
    logged = everything_logged(logs)
    leaked = [value for value in PERSONAL if value in logged]
    assert leaked == [], f"personal data in the logs: {leaked}"


def test_the_capture_sees_messages_arguments_extras_and_tracebacks(logs):
    logger = logging.getLogger("customers.services")
    logger.debug("profile of %s", "in-args", extra={"profile": {"email": "in-extra"}})
    try:
        raise ValueError("in-traceback")
    except ValueError:
        logging.getLogger("django.request").exception("failed")
    logged = everything_logged(logs)
    assert all(value in logged for value in ("in-args", "in-extra", "in-traceback"))
