"""The live schema, fuzzed: schemathesis generates valid and invalid requests for every
operation from /api/schema/ (built from the WSGI app) and checks every answer — no 5xx,
status codes, content types, headers and bodies as the schema documents them, invalid
input rejected, valid input accepted, auth enforced, 405 for undocumented methods.

Two deliberate settings: 422 counts as an acceptable answer to schema-valid input (the
contract defines it as "valid JSON that cannot be acted on": an unknown offer code is
valid JSON), and for the consent change so does 400 (a capture time in the future is a
rule JSON Schema cannot state), as for the KPIs (an unknown campaign code, a reversed
date range).
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from crosssell.wsgi import application

pytestmark = pytest.mark.django_db

# Channel-only operations are called with a channel key (all channels), the rest with an
# admin key; the permission matrix covers the other roles.
CHANNEL_OPERATIONS = {
    ("POST", "/api/v1/decisions/"),
    ("POST", "/api/v1/channels/{channel}/messages/lease/"),
    ("POST", "/api/v1/messages/{message_id}/ack/"),
    ("POST", "/api/v1/responses/"),
    ("POST", "/api/v1/overrides/"),
}
ACCEPTABLE = ["2xx", "401", "403", "404", "409", "422", "429"]

CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTABLE}},
    "operations": [
        {
            "include-operation-id": "customer_consent_put",
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTABLE, "400"]}},
        },
        {
            # an unknown campaign or offer code, a reversed or too long date range
            "include-operation-id": "kpis",
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTABLE, "400"]}},
        },
    ],
}


@pytest.fixture
def keys(make_api, bank, customer):
    return {"channel": _key(make_api, "channel"), "admin": _key(make_api, "admin")}


def _key(make_api, role):
    from tests.api.conftest import ALL_CHANNELS

    return make_api(role, ALL_CHANNELS if role == "channel" else None).key


@pytest.fixture
def api_schema(db):
    # Django's test client keeps the connection open across requests; calling the WSGI
    # app directly would close it (and the test's transaction) at the end of each one.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/",
            application,
            config=schemathesis.Config.from_dict(CONFIG),
            headers={"Accept": "application/vnd.oai.openapi+json"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_the_api_conforms_to_its_schema(case, keys):
    operation = (case.operation.method.upper(), case.operation.path)
    key = keys["channel"] if operation in CHANNEL_OPERATIONS else keys["admin"]
    case.call_and_validate(headers={"Authorization": f"Token {key}"})
