"""Fixtures for the channel API tests: keys per role, a JSON client, a small bank."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from crosssell.services import api_client_create
from decisioning.decisions.snapshots import snapshots
from tests.decisioning.catalog import small_bank
from tests.factories import ConsentFactory, CustomerFactory

ALL_CHANNELS = ["mobile_app", "web", "branch", "contact_center", "atm", "push", "sms", "email"]


class Api:
    """A Django test client that speaks JSON with ``Authorization: Token <key>``."""

    def __init__(self, key: str | None = None) -> None:
        self.http = Client()
        self.key = key

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"HTTP_AUTHORIZATION": f"Token {self.key}"} if self.key else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None, **headers):
        return self.http.get(path, params or {}, **self._headers(headers))

    def _send(self, method: str, path: str, body: Any = None, **headers):
        data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
        return getattr(self.http, method)(
            path, data=data or "", content_type="application/json", **self._headers(headers)
        )

    def post(self, path: str, body: Any = None, **headers):
        return self._send("post", path, body, **headers)

    def put(self, path: str, body: Any = None, **headers):
        return self._send("put", path, body, **headers)

    def delete(self, path: str, **headers):
        return self.http.delete(path, **self._headers(headers))


@pytest.fixture(autouse=True)
def _isolated_caches():
    cache.clear()
    snapshots.clear()
    yield
    snapshots.clear()
    cache.clear()


@pytest.fixture
def make_api(db):
    counter = {"n": 0}

    def make(role: str, channels: list[str] | None = None) -> Api:
        counter["n"] += 1
        _, key = api_client_create(
            actor="system:tests",
            name=f"{role}-{counter['n']}",
            role=role,
            channels=channels if role == "channel" else None,
        )
        return Api(key)

    return make


@pytest.fixture
def channel_api(make_api) -> Api:
    """A channel client allowed on every channel."""
    return make_api("channel", ALL_CHANNELS)


@pytest.fixture
def admin_api(make_api) -> Api:
    return make_api("admin")


@pytest.fixture
def compliance_api(make_api) -> Api:
    return make_api("compliance")


@pytest.fixture
def bank(db):
    return small_bank()


@pytest.fixture
def customer(db):
    person = CustomerFactory(external_id="C123")
    for channel in ("push", "sms", "email"):
        ConsentFactory(customer=person, channel=channel)
    return person


def error_of(response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
