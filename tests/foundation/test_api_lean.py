"""The lean API path: no key query per request, no console middleware on /api/v1/."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from core.api import auth
from core.middleware import LEAN_API_CSP
from core.models import ApiClient
from crosssell.services import api_client_create
from tests.factories import persona

pytestmark = pytest.mark.django_db

WHOAMI = "/api/v1/whoami/"


@pytest.fixture(autouse=True)
def _empty_key_cache():
    auth.key_cache.clear()
    yield
    auth.key_cache.clear()


@pytest.fixture
def channel_key() -> str:
    _client, key = api_client_create(
        actor="system:tests", name="lean-web", role="channel", channels=["web"]
    )
    return key


def _whoami(key: str, client: Client | None = None):
    return (client or Client()).get(WHOAMI, HTTP_AUTHORIZATION=f"Token {key}")


def _key_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "crosssell_apiclient" in q["sql"]]


def _later(seconds: float):
    """``time.monotonic`` as the key cache sees it, ``seconds`` from now."""
    now = auth.time.monotonic()
    return mock.patch.object(auth.time, "monotonic", lambda: now + seconds)


# --- API key resolution, cached per process ------------------------------------------------


def test_a_second_request_with_the_same_key_does_no_key_query(channel_key):
    with CaptureQueriesContext(connection) as first:
        assert _whoami(channel_key).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert _whoami(channel_key).status_code == 200
    assert len(_key_queries(first)) == 1
    assert _key_queries(second) == []


@override_settings(CROSSSELL_API_KEY_CACHE_SECONDS=5)
def test_a_key_revoked_by_another_process_is_refused_once_the_window_has_passed(channel_key):
    assert _whoami(channel_key).status_code == 200
    # Another process revokes it: this one's signal handler never hears of it.
    ApiClient.objects.update(is_active=False)
    with _later(4):
        assert _whoami(channel_key).status_code == 200  # the documented window
    with _later(5.5):
        response = _whoami(channel_key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_key_revoked_in_this_process_is_refused_at_once(channel_key):
    assert _whoami(channel_key).status_code == 200
    client = ApiClient.objects.get(name="lean-web")
    client.is_active = False
    client.save()
    assert _whoami(channel_key).status_code == 401


@override_settings(CROSSSELL_API_KEY_CACHE_SECONDS=0)
def test_with_the_cache_off_every_request_reads_the_key(channel_key):
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert _whoami(channel_key).status_code == 200
        assert len(_key_queries(queries)) == 1
    ApiClient.objects.update(is_active=False)
    assert _whoami(channel_key).status_code == 401


def test_an_unknown_key_is_not_remembered_so_a_new_key_works_at_once():
    assert _whoami("cs_not-a-key").status_code == 401
    with CaptureQueriesContext(connection) as again:
        assert _whoami("cs_not-a-key").status_code == 401
    assert len(_key_queries(again)) == 1
    _client, key = api_client_create(
        actor="system:tests", name="lean-new", role="channel", channels=["web"]
    )
    assert _whoami(key).status_code == 200


# --- no console middleware on /api/v1/ ----------------------------------------------------


def test_an_api_request_reads_no_session_or_user_and_sets_no_cookie(channel_key):
    user = get_user_model().objects.create_user("lean-person", password="pw-lean-person-1")
    browser = Client()
    browser.force_login(user)  # a console session cookie rides along, as from a browser
    _whoami(channel_key, browser)  # the key is now cached
    with CaptureQueriesContext(connection) as queries:
        response = _whoami(channel_key, browser)
    assert response.status_code == 200
    assert queries.captured_queries == []
    assert "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "htmx")


def test_an_api_answer_keeps_its_security_headers(channel_key):
    response = _whoami(channel_key)
    assert response["Content-Security-Policy"] == LEAN_API_CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Request-Id"]


def test_an_api_refusal_keeps_the_error_shape_and_headers():
    response = Client().get(WHOAMI)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["Content-Security-Policy"] == LEAN_API_CSP
    assert "sessionid" not in response.cookies


def test_console_pages_keep_the_session_the_user_and_their_policy():
    user = persona("lean-console", "analyst")
    user.set_password("pw-lean-console-1")
    user.save()
    browser = Client()
    signed_in = browser.post(
        "/login/", {"username": "lean-console", "password": "pw-lean-console-1"}
    )
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies
    page = browser.get("/")
    assert page.status_code == 200
    assert page.wsgi_request.user == user
    assert hasattr(page.wsgi_request, "htmx")
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_the_api_docs_page_keeps_the_console_stack():
    page = Client().get("/api/docs/")
    assert hasattr(page.wsgi_request, "session")
    assert page["Content-Security-Policy"] != LEAN_API_CSP


def test_django_and_axes_still_find_the_middleware_they_check_for():
    ids = {message.id for message in checks.run_checks()}
    assert not ids & {"admin.E408", "admin.E409", "admin.E410", "axes.W002"}
