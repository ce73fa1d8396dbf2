"""The roof of the API: keys, the one error shape, limits, throttling, health, schema, docs."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings

from crosssell.api import health
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db


def test_no_key_is_401_in_the_error_shape(db):
    response = Api().get("/api/v1/offers/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer x"])
def test_a_bad_key_is_401(db, header):
    response = Api().get("/api/v1/offers/", HTTP_AUTHORIZATION=header)
    # "Bearer x" is not our scheme at all: no credentials, also 401.
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_an_inactive_client_is_401(make_api):
    from core.models import ApiClient

    api = make_api("admin")
    ApiClient.objects.update(is_active=False)
    assert api.get("/api/v1/offers/").status_code == 401


def test_unknown_api_path_is_404_in_the_error_shape(admin_api):
    response = admin_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_missing_trailing_slash_is_404_with_a_hint(admin_api):
    response = admin_api.post("/api/v1/events", {})
    assert response.status_code == 404
    assert "/api/v1/events/" in error_of(response)["message"]


def test_a_wrong_method_is_405_with_allow(admin_api):
    response = admin_api.delete("/api/v1/offers/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_options_is_405_not_metadata(admin_api):
    response = admin_api.http.options("/api/v1/events/", **admin_api._headers())
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_malformed_json_is_400(channel_api):
    response = channel_api.post("/api/v1/events/", "{not json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


@pytest.mark.parametrize("body", ['{"amount": NaN}', "[" * 5000 + "]" * 5000], ids=["nan", "deep"])
def test_json_python_cannot_read_is_400_not_500(channel_api, body):
    response = channel_api.post("/api/v1/events/", body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


EVENT = (
    '{"event_id": %s, "type": "x", "occurred_at": "2026-01-01T00:00:00Z", '
    '"customer": %s, "payload": %s}'
)


@pytest.mark.parametrize(
    ("event_id", "customer", "payload", "field"),
    [
        ('"a\\u0000b"', '{"external_id": "C1"}', "{}", "event_id"),
        ('"E1"', '{"external_id": "C\\u0000"}', "{}", "customer"),
        ('"E1"', '{"identifier": {"type": "card_token", "value": "\\u0000"}}', "{}", "customer"),
        ('"E1"', '{"external_id": "C1"}', '{"k": 1e999}', "payload"),
        ('"E1"', '{"external_id": "C1"}', '{"k": ' + "[" * 40 + "]" * 40 + "}", "payload"),
        ('"\\ud800"', '{"external_id": "C1"}', "{}", "event_id"),
    ],
    ids=["nul", "nul-ref", "nul-identifier", "huge", "deep", "bad-id"],
)
def test_values_the_database_cannot_store_are_400_not_500(
    channel_api, event_id, customer, payload, field
):
    response = channel_api.post("/api/v1/events/", EVENT % (event_id, customer, payload))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert any(name.startswith(field) for name in error["fields"]), error


def test_free_json_is_stored_with_nul_replaced(channel_api, bank):
    body = EVENT % ('"E1"', '{"external_id": "C1"}', '{"k\\u0000": ["a\\u0000", "b"]}')
    assert channel_api.post("/api/v1/events/", body).status_code == 202
    from customers.models import Event

    assert Event.objects.get(event_id="E1").payload == {"k\ufffd": ["a\ufffd", "b"]}


def test_a_lone_surrogate_even_in_free_json_is_400_naming_where(channel_api, bank):
    body = EVENT % ('"E1"', '{"external_id": "C1"}', '{"k": ["a", "\\ud800"]}')
    response = channel_api.post("/api/v1/events/", body)
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"payload.k[1]"}


def test_unknown_fields_are_ignored_whatever_they_hold(channel_api, bank):
    body = EVENT % ('"E1"', '{"external_id": "C1"}', "{}")
    response = channel_api.post("/api/v1/events/", body[:-1] + ', "x\\u0000": "\\u0000"}')
    assert response.status_code == 202


def test_a_body_that_is_not_an_object_is_400(channel_api):
    response = channel_api.post("/api/v1/events/", [1, 2])
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_validation_errors_name_nested_fields(channel_api):
    response = channel_api.post(
        "/api/v1/events/",
        {
            "event_id": "E1",
            "type": "x",
            "occurred_at": "2026-01-01T00:00:00",
            "customer": {"identifier": {"type": "shoe_size", "value": "42"}},
        },
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert "occurred_at" in fields  # no offset
    assert "customer.identifier.type" in fields


def test_not_json_is_415(channel_api):
    response = channel_api.http.post(
        "/api/v1/events/", data="a=b", content_type="text/plain", **channel_api._headers()
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_a_body_over_one_mebibyte_is_413(channel_api):
    body = json.dumps({"event_id": "E", "payload": {"blob": "x" * (1024 * 1024)}})
    response = channel_api.post("/api/v1/events/", body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.fixture
def frozen_clock(monkeypatch):
    """Fixed windows: keep the test inside one of them."""
    from core.api import throttling

    monkeypatch.setattr(throttling, "_now", lambda: 1_800_000_030.0)


def test_throttling_answers_429_with_retry_after(make_api, frozen_clock):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_client": "3/min"}
    api = make_api("admin")
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        codes = [api.get("/api/v1/whoami/").status_code for _ in range(4)]
        response = api.get("/api/v1/whoami/")
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) == 30  # the end of the minute


def _rest_framework():
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def test_throttling_is_per_client(make_api, frozen_clock):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_client": "1/min"}
    first, second = make_api("admin"), make_api("admin")
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        assert first.get("/api/v1/whoami/").status_code == 200
        assert first.get("/api/v1/whoami/").status_code == 429
        assert second.get("/api/v1/whoami/").status_code == 200


def test_an_unexpected_error_deep_inside_still_uses_the_error_shape(channel_api, monkeypatch):
    from decisioning.api import views

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "event_ingest", explode)
    response = channel_api.post(
        "/api/v1/events/",
        {
            "event_id": "E1",
            "type": "x",
            "occurred_at": "2026-01-01T00:00:00Z",
            "customer": {"external_id": "C1"},
        },
    )
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "boom" not in response.content.decode()


def test_application_errors_raised_by_services_use_the_error_shape(channel_api, monkeypatch):
    from core.exceptions import Conflict
    from decisioning.api import views

    def conflict(**kwargs):
        raise Conflict("taken", fields={"event_id": ["taken"]})

    monkeypatch.setattr(views, "event_ingest", conflict)
    response = channel_api.post(
        "/api/v1/events/",
        {
            "event_id": "E1",
            "type": "x",
            "occurred_at": "2026-01-01T00:00:00Z",
            "customer": {"external_id": "C1"},
        },
    )
    assert response.status_code == 409
    assert error_of(response) == {
        "code": "conflict",
        "message": "taken",
        "fields": {"event_id": ["taken"]},
    }


# --- health ------------------------------------------------------------------------------


def test_health_needs_no_key_and_says_eager_without_a_broker(db, settings):
    settings.CELERY_BROKER_URL = ""
    response = Api().get("/api/v1/health/")
    assert response.status_code == 200
    import crosssell

    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "eager",
        "version": crosssell.__version__,
        "workers": "eager",
        "worker_heartbeat_age_seconds": None,
        "sealer_lag_seconds": 0.0,
    }


def test_health_is_degraded_when_the_broker_is_down(db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    health.reset_cache()
    try:
        body = Api().get("/api/v1/health/").json()
    finally:
        health.reset_cache()
    assert body["broker"] == "down"
    assert body["status"] == "degraded"


def test_health_pings_a_live_broker(db, settings, monkeypatch):
    class FakeRedis:
        def ping(self):
            return True

    settings.CELERY_BROKER_URL = "redis://broker.example:6379/0"
    monkeypatch.setattr(health, "_redis_client", lambda url: FakeRedis())
    health.reset_cache()
    try:
        body = Api().get("/api/v1/health/").json()
    finally:
        health.reset_cache()
    assert body["broker"] == "ok" and body["status"] == "ok"


def test_health_is_503_when_the_database_is_down(db, monkeypatch):
    monkeypatch.setattr(health, "database_status", lambda: "down")
    response = Api().get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


# --- schema and docs ------------------------------------------------------------------------


def test_the_openapi_schema_is_served_and_valid(db):
    from drf_spectacular.validation import validate_schema

    response = Api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/health/", "get"),
        ("/api/v1/customers/{external_id}/", "put"),
        ("/api/v1/customers/{external_id}/", "get"),
        ("/api/v1/customers/{external_id}/", "delete"),
        ("/api/v1/customers/{external_id}/identities/", "post"),
        ("/api/v1/customers/{external_id}/consents/{channel}/", "put"),
        ("/api/v1/events/", "post"),
        ("/api/v1/decisions/", "post"),
        ("/api/v1/decisions/{decision_id}/", "get"),
        ("/api/v1/channels/{channel}/messages/lease/", "post"),
        ("/api/v1/messages/{message_id}/ack/", "post"),
        ("/api/v1/responses/", "post"),
        ("/api/v1/overrides/", "post"),
        ("/api/v1/offers/", "get"),
        ("/api/v1/campaigns/", "get"),
        ("/api/v1/audit/", "get"),
        ("/api/v1/audit/verify/", "get"),
    ]:
        assert method in paths[path], (path, method)
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"code", "message", "fields"}
    decide = paths["/api/v1/decisions/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "413", "429"} <= set(decide)


def test_swagger_ui_renders_from_local_assets_without_a_cdn(db):
    page = Api().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/api/docs/assets/{asset}" in html
        served = Api().get(f"/api/docs/assets/{asset}")
        assert served.status_code == 200
        assert len(b"".join(served.streaming_content)) > 1000


def test_docs_assets_serve_only_known_files(db):
    assert Api().get("/api/docs/assets/..%2Fsettings.py").status_code == 404


def test_posting_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(channel_api):
    response = channel_api.post("/api/v1/messages/not%0Aa-uuid/ack/", {"status": "delivered"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"event_id": 7},
        {"type": 0},
        {"event_id": True},
    ],
)
def test_numbers_are_not_strings(channel_api, body):
    base = {
        "event_id": "E1",
        "type": "x",
        "occurred_at": "2026-01-01T00:00:00Z",
        "customer": {"external_id": "C1"},
    }
    response = channel_api.post("/api/v1/events/", {**base, **body})
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == set(body)


def test_strings_are_not_numbers(channel_api):
    response = channel_api.post("/api/v1/channels/sms/messages/lease/", {"max": "10"})
    assert response.status_code == 400
    assert channel_api.post("/api/v1/channels/sms/messages/lease/", {"max": 2.0}).status_code == (
        200
    )


@pytest.mark.parametrize(
    "params",
    [{"offset": "null"}, {"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"limit": "1_0"}],
)
def test_paging_parameters_are_checked(channel_api, params):
    response = channel_api.get("/api/v1/offers/", params)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize("params", [{"kind": ""}, {"family": ""}, {"product": ""}])
def test_an_empty_filter_is_400_not_ignored(channel_api, params):
    assert channel_api.get("/api/v1/offers/", params).status_code == 400


def test_an_empty_audit_filter_is_400(compliance_api):
    assert compliance_api.get("/api/v1/audit/", {"since": ""}).status_code == 400


def test_a_request_id_is_kept_only_as_a_plain_token(admin_api):
    response = admin_api.get("/api/v1/whoami/", HTTP_X_REQUEST_ID="abc\x00<script>-1")
    assert response["X-Request-Id"] == "abcscript-1"


@pytest.mark.parametrize("path", ["/api/v1/offers/A%00B/", "/api/v1/campaigns/A%00B/"])
def test_a_nul_in_a_path_is_404(admin_api, path):
    response = admin_api.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "misspelt", "known"),
    [
        ("/api/v1/audit/", "kidn=consent", "kind=consent&limit=5&offset=0"),
        ("/api/v1/kpis/", "campain=NBO", "since=2025-01-01&until=2025-01-31"),
        ("/api/v1/campaigns/", "statu=running", "status=running&limit=5"),
        ("/api/v1/offers/", "famly=cards", "family=cards&kind=sales"),
    ],
)
def test_a_list_refuses_a_query_parameter_it_does_not_take(admin_api, path, misspelt, known):
    refused = admin_api.get(f"{path}?{misspelt}")
    assert refused.status_code == 400
    error = error_of(refused)
    name = misspelt.split("=")[0]
    assert error["code"] == "validation_error"
    assert error["fields"] == {name: ["not a parameter of this endpoint"]}
    assert "This endpoint takes:" in error["message"]
    assert admin_api.get(f"{path}?{known}").status_code == 200


def test_a_control_character_in_a_parameter_name_is_named_safely(admin_api):
    refused = admin_api.get("/api/v1/audit/?%1B%C2%9Ff%F3%B8%AD%B0=x&kind=policy")
    assert refused.status_code == 400
    assert list(error_of(refused)["fields"]) == ["\\x1b\\x9ff\\U000f8b70"]
