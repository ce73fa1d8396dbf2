"""Data minimisation: which personal fields of a customer each role and channel sees
(DESIGN.md rule 10, docs/API_FIELDS.md). One test per cell of the matrix, through the
API, against an expectation written out here rather than derived from the code."""

from __future__ import annotations

import datetime

import pytest

from customers.api.serializers import PERSONAL_FIELDS, visible_personal_fields
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PERSONAL = ("first_name", "last_name", "email", "phone", "birth_date", "attributes")
NAME = {"first_name", "last_name"}

# docs/API_FIELDS.md, cell by cell: who sees which personal field.
EXPECTED: dict[str, set[str]] = {
    "compliance": set(PERSONAL),
    "admin": set(PERSONAL),
    "marketer": {"attributes"},
    "analyst": set(),
    "channel:mobile_app": set(),
    "channel:web": set(),
    "channel:atm": set(),
    "channel:push": set(),  # its device ids come from identity links, not the profile
    "channel:sms": {"phone"},
    "channel:email": {"email"},
    "channel:branch": NAME,
    "channel:contact_center": NAME,
}
# Shown to every caller of the endpoint: the bank's id and classifications.
ALWAYS = (
    "external_id",
    "customer_since",
    "region",
    "branch_code",
    "time_zone",
    "risk_band",
    "income_band",
    "holdings",
    "consents",
    "suppressions",
    "do_not_contact",
    "created_at",
    "updated_at",
)
STORED = {
    "first_name": "Ana",
    "last_name": "Silva",
    "email": "ana@mail.example",
    "phone": "+351910000000",
    "birth_date": "1985-04-12",
    "attributes": {"salary": 2500},
}
API_VIEWERS = [viewer for viewer in EXPECTED if viewer != "analyst"]


def api_for(make_api, viewer: str):
    role, _, channel = viewer.partition(":")
    return make_api(role, [channel] if channel else None)


@pytest.fixture
def person(db) -> Customer:
    return CustomerFactory(
        external_id="C777",
        **{**STORED, "birth_date": datetime.date(1985, 4, 12)},
    )


def test_the_matrix_covers_every_personal_field_and_every_channel():
    from core.channels import ALL_CHANNELS
    from core.choices import Role

    assert set(PERSONAL_FIELDS) == set(PERSONAL)
    assert {v.partition(":")[2] for v in EXPECTED if v.startswith("channel:")} == set(ALL_CHANNELS)
    assert {v for v in EXPECTED if ":" not in v} == set(Role.values) - {"channel"}


@pytest.mark.parametrize("field", PERSONAL)
@pytest.mark.parametrize("viewer", API_VIEWERS)
def test_get_customer_shows_a_personal_field_only_to_whom_the_matrix_allows(
    make_api, person, viewer, field
):
    response = api_for(make_api, viewer).get("/api/v1/customers/C777/")
    assert response.status_code == 200
    body = response.json()
    if field in EXPECTED[viewer]:
        assert body[field] == STORED[field]
    else:
        assert field not in body  # absent, not blanked: absence never reads as "none on file"


@pytest.mark.parametrize("field", PERSONAL)
def test_analysts_see_no_personal_field(make_api, person, field):
    assert field not in visible_personal_fields("analyst")
    # ...and the customer endpoint does not admit them at all.
    assert make_api("analyst").get("/api/v1/customers/C777/").status_code == 403


@pytest.mark.parametrize("viewer", API_VIEWERS)
def test_everyone_admitted_sees_the_id_and_classifications(make_api, person, viewer):
    body = api_for(make_api, viewer).get("/api/v1/customers/C777/").json()
    assert set(ALWAYS) <= set(body)
    assert body["external_id"] == "C777" and body["income_band"] == "middle"


@pytest.mark.parametrize(
    ("channels", "visible"),
    [
        (["sms", "branch"], {"phone", "first_name", "last_name"}),
        (["atm", "email"], {"email"}),
        (["sms", "email"], {"phone", "email"}),
        (["mobile_app", "web", "atm", "push"], set()),
        (["push", "sms", "email", "branch"], {"phone", "email", "first_name", "last_name"}),
    ],
)
def test_a_channel_client_with_several_channels_sees_the_union_of_their_rows(
    make_api, person, channels, visible
):
    body = make_api("channel", channels).get("/api/v1/customers/C777/").json()
    assert {field for field in PERSONAL if field in body} == visible


def test_the_put_answer_follows_the_matrix_too(make_api):
    gateway = make_api("channel", ["sms"])
    response = gateway.put("/api/v1/customers/C778/", STORED)
    assert response.status_code == 201
    body = response.json()
    assert {field for field in PERSONAL if field in body} == {"phone"}
    stored = Customer.objects.get(external_id="C778")
    assert (stored.email, stored.first_name) == ("ana@mail.example", "Ana")  # all stored
    marketer = make_api("marketer").put("/api/v1/customers/C778/", {"region": "Porto"})
    assert {field for field in PERSONAL if field in marketer.json()} == {"attributes"}


def test_a_serializer_without_a_viewer_shows_no_personal_data(person):
    from customers.api.serializers import ProfileSerializer

    body = ProfileSerializer(person).data
    assert not set(PERSONAL) & set(body)


def test_the_schema_marks_personal_fields_optional_and_says_who_sees_them(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for name in ("Profile", "CustomerOverview"):
        component = schema["components"]["schemas"][name]
        assert not set(PERSONAL) & set(component["required"]), name
        assert set(PERSONAL) <= set(component["properties"]), name
    email = schema["components"]["schemas"]["Profile"]["properties"]["email"]
    assert "channel email" in email["description"] and "marketer" not in email["description"]
