"""How the API degrades when what it depends on is down: the throttle's cache (Redis in
production) costs nothing but shared counting; the database is a 503 with Retry-After,
not a 500; health names each dependency and is 503 only without the database."""

from __future__ import annotations

import datetime
import json
import logging
import uuid

import psycopg
import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import DatabaseError, InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.settings import api_settings

from core.api import throttling
from core.api.exceptions import _unavailable_log
from crosssell.api import health
from crosssell.models import WorkerHeartbeat
from ledger.models import AuditSealerState
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db


# --- the throttle's cache is unreachable ---------------------------------------------------


class UnreachableCache(BaseCache):
    """A cache whose server is down: every call raises, as Django's Redis cache does when
    Redis refuses connections."""

    calls = 0

    def __init__(self, location, params):
        super().__init__(params)

    def _unreachable(self, *args, **kwargs):
        type(self).calls += 1
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    add = get = set = incr = decr = touch = delete = has_key = _unreachable
    get_many = set_many = delete_many = get_or_set = _unreachable

    def clear(self):  # the suite's own cache reset must not trip over it
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """One clock for the fallback's retry delay and warnings; fixed windows held still."""
    fake = Clock()
    monkeypatch.setattr(throttling.fallback, "clock", fake)
    monkeypatch.setattr(throttling, "_now", lambda: 1_800_000_030.0)
    throttling.fallback.reset()
    yield fake
    throttling.fallback.reset()


@pytest.fixture
def cache_down(settings, clock):
    UnreachableCache.calls = 0
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.UnreachableCache"}}
    yield
    throttling.fallback.reset()


def _rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**api_settings.DEFAULT_THROTTLE_RATES, "api_client": rate},
    }


def test_requests_go_on_when_the_throttle_cache_is_down(make_api, cache_down):
    api = make_api("admin")
    responses = [api.get("/api/v1/whoami/") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert UnreachableCache.calls >= 1  # it was tried


def test_inbound_decisions_are_served_when_the_throttle_cache_is_down(
    channel_api, bank, customer, cache_down
):
    response = channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "web"}
    )
    assert response.status_code == 200, response.content
    assert "offers" in response.json()


def test_the_rate_still_holds_counted_in_process_memory(make_api, settings, cache_down):
    _rate(settings, "3/min")
    first, second = make_api("admin"), make_api("admin")
    codes = [first.get("/api/v1/whoami/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    throttled = first.get("/api/v1/whoami/")
    assert error_of(throttled)["code"] == "throttled"
    assert int(throttled["Retry-After"]) == 30
    assert second.get("/api/v1/whoami/").status_code == 200  # still per client


def test_the_outage_is_logged_at_most_once_a_minute(make_api, cache_down, clock, caplog):
    api = make_api("admin")
    caplog.set_level(logging.WARNING, logger="core.api.throttling")

    def warnings():
        return [r for r in caplog.records if r.name == "core.api.throttling"]

    for _ in range(3):
        api.get("/api/v1/whoami/")
        clock.now += 10  # past the retry delay: the cache is tried (and fails) each time
    assert len(warnings()) == 1
    assert "in memory" in warnings()[0].getMessage()
    clock.now += 60
    api.get("/api/v1/whoami/")
    assert len(warnings()) == 2
    assert "more like it" in warnings()[1].getMessage()


def test_the_cache_is_left_alone_for_a_few_seconds_after_it_failed(make_api, cache_down, clock):
    api = make_api("admin")
    api.get("/api/v1/whoami/")
    tried = UnreachableCache.calls
    assert tried >= 1
    for _ in range(5):
        api.get("/api/v1/whoami/")  # within the retry delay: no connect timeout to pay
    assert UnreachableCache.calls == tried
    clock.now += throttling.CACHE_RETRY_SECONDS
    api.get("/api/v1/whoami/")
    assert UnreachableCache.calls > tried


def test_counting_returns_to_the_shared_cache_when_it_answers(make_api, settings, clock):
    from django.core.cache import cache

    _rate(settings, "100/min")
    api = make_api("admin")
    throttling.fallback.cache_failed(ConnectionError("down a moment ago"))
    api.get("/api/v1/whoami/")  # within the retry delay: counted in memory
    assert not [k for k in cache._cache if "throttle:" in k]  # locmem's own store
    clock.now += throttling.CACHE_RETRY_SECONDS
    api.get("/api/v1/whoami/")
    assert [k for k in cache._cache if "throttle:" in k]


def test_the_local_counter_forgets_ended_windows():
    counter = throttling.LocalCounter()
    assert counter.incr("a:1", window_end=60.0, now=1.0) == 1
    assert counter.incr("a:1", window_end=60.0, now=2.0) == 2
    assert counter.incr("a:2", window_end=120.0, now=61.0) == 1
    assert "a:1" not in counter._counts


# --- the database is down ------------------------------------------------------------------

EVENT = {
    "event_id": "E1",
    "type": "x",
    "occurred_at": "2026-01-01T00:00:00Z",
    "customer": {"external_id": "C1"},
}


@pytest.fixture(autouse=True)
def _fresh_unavailable_log():
    _unavailable_log.reset()
    yield
    _unavailable_log.reset()


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    error = error_of(response)
    assert error["code"] == "service_unavailable"
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "connection refused" not in response.content.decode().lower()  # no internals


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("connection to server at 10.0.0.5 failed: Connection refused"),
        InterfaceError("connection already closed"),
        psycopg.OperationalError("connection refused"),
        psycopg.InterfaceError("the connection is closed"),
    ],
    ids=["django-operational", "django-interface", "psycopg-operational", "psycopg-interface"],
)
def test_a_database_outage_inside_a_service_is_503_with_retry_after(
    channel_api, monkeypatch, error
):
    from decisioning.api import views

    def unavailable(**kwargs):
        raise error

    monkeypatch.setattr(views, "event_ingest", unavailable)
    assert_unavailable(channel_api.post("/api/v1/events/", EVENT))


def test_a_database_outage_while_checking_the_key_is_503(channel_api, monkeypatch):
    from core.api import auth

    class Down:
        def filter(self, **kwargs):
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(auth.ApiClient, "objects", Down())
    assert_unavailable(channel_api.get("/api/v1/whoami/"))


def test_other_database_errors_are_still_500(channel_api, monkeypatch):
    from decisioning.api import views

    def broken(**kwargs):
        raise DatabaseError("value too long for type character varying(64)")

    monkeypatch.setattr(views, "event_ingest", broken)
    response = channel_api.post("/api/v1/events/", EVENT)
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"


def test_a_database_outage_outside_the_api_views_is_503_too():
    from core.middleware import ApiBodyLimitMiddleware

    middleware = ApiBodyLimitMiddleware(lambda request: None)
    request = RequestFactory().get("/api/v1/offers/")
    response = middleware.process_exception(request, OperationalError("the database is down"))
    assert response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    assert (
        middleware.process_exception(RequestFactory().get("/console/"), OperationalError()) is None
    )


def test_an_outage_is_logged_once_per_burst_not_once_per_request(channel_api, monkeypatch, caplog):
    from decisioning.api import views

    def unavailable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "event_ingest", unavailable)
    caplog.set_level(logging.ERROR, logger="core.api.exceptions")
    for _ in range(5):
        assert channel_api.post("/api/v1/events/", EVENT).status_code == 503
    logged = [r for r in caplog.records if r.name == "core.api.exceptions"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # the first one carries the traceback


def test_the_schema_documents_503_on_every_operation(db):
    response = Api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    missing = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "503" not in operation["responses"]
    ]
    assert missing == []


# --- health --------------------------------------------------------------------------------


class FakeRedis:
    up = True

    def ping(self):
        if not self.up:
            raise ConnectionError("Connection refused")
        return True


@pytest.fixture
def broker(settings, monkeypatch):
    fake = FakeRedis()
    settings.CELERY_BROKER_URL = "redis://broker.example:6379/0"
    monkeypatch.setattr(health, "_redis_client", lambda url: fake)
    health.reset_cache()
    yield fake
    health.reset_cache()


@pytest.fixture
def with_workers(settings, broker):
    """Tasks go to workers (not run in-process) through a broker that answers."""
    settings.CELERY_TASK_ALWAYS_EAGER = False


def _health():
    response = Api().get("/api/v1/health/")
    return response.status_code, response.json()


def _heartbeat(age_seconds: float) -> None:
    WorkerHeartbeat.objects.create(
        token=f"t{age_seconds}",
        hostname="worker-1",
        database_vendor="sqlite",
        seen_at=timezone.now() - datetime.timedelta(seconds=age_seconds),
    )


def test_health_in_eager_mode_says_eager_for_the_workers(db, settings):
    settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    status, body = _health()
    assert status == 200
    assert body["workers"] == "eager" and body["worker_heartbeat_age_seconds"] is None
    assert body["status"] == "ok"


def test_health_with_a_fresh_heartbeat_says_workers_ok_with_its_age(with_workers):
    _heartbeat(200)
    _heartbeat(12)
    status, body = _health()
    assert status == 200
    assert body["workers"] == "ok"
    assert 12 <= body["worker_heartbeat_age_seconds"] < 20
    assert body["status"] == "ok"


def test_health_with_an_old_heartbeat_says_stale_and_degraded(with_workers):
    _heartbeat(health.HEARTBEAT_STALE_AFTER_SECONDS + 60)
    status, body = _health()
    assert status == 200  # the API itself still serves
    assert body["workers"] == "stale"
    assert body["worker_heartbeat_age_seconds"] >= health.HEARTBEAT_STALE_AFTER_SECONDS + 60
    assert body["status"] == "degraded"


def test_health_without_any_heartbeat_says_none(with_workers):
    status, body = _health()
    assert status == 200
    assert body["workers"] == "none" and body["worker_heartbeat_age_seconds"] is None
    assert body["status"] == "degraded"


def test_health_keeps_its_first_fields(db):
    _, body = _health()
    assert {"status", "database", "broker", "version"} <= set(body)


def _record(age_seconds: float):
    from ledger.services import audit

    return audit(
        kind="access",
        action="health_test",
        actor="system:tests",
        at=timezone.now() - datetime.timedelta(seconds=age_seconds),
    )


def test_health_sealer_lag_is_zero_when_everything_is_sealed(db):
    from ledger.sealer import seal_all_pending

    _record(30)
    seal_all_pending()
    _, body = _health()
    assert body["sealer_lag_seconds"] == 0.0


def test_health_sealer_lag_is_the_age_of_the_oldest_unsealed_record(db):
    from ledger.sealer import seal_all_pending

    _record(500)
    seal_all_pending()
    _record(40)
    _record(5)
    _, body = _health()
    assert 40 <= body["sealer_lag_seconds"] < 50
    assert body["status"] == "ok"  # under the ledger's stale threshold (60 s)


def test_health_finds_an_unsealed_record_in_an_open_gap(db):
    """A record whose transaction committed after the sealer passed its seq sits below
    the high-water mark, in one of the sealer's open gaps: the lag still counts it."""
    from ledger.models import AuditSealerState
    from ledger.sealer import seal_all_pending

    _record(30)
    seal_all_pending()
    late = _record(15)
    # as if the sealer had sealed past ``late`` while its transaction was still open
    AuditSealerState.objects.filter(pk=1).update(
        high_water_seq=late.seq + 10, open_gaps=[[late.seq, late.seq, 0.0]]
    )
    _, body = _health()
    assert 15 <= body["sealer_lag_seconds"] < 25


def test_health_is_degraded_when_the_sealer_lags_past_the_stale_threshold(db, settings):
    settings.CROSSSELL_AUDIT_STALE_AFTER_SECONDS = 60
    _record(120)
    status, body = _health()
    assert status == 200
    assert body["sealer_lag_seconds"] >= 120
    assert body["status"] == "degraded"


def test_health_is_cheap_however_much_is_in_the_ledger(with_workers, django_assert_max_num_queries):
    from ledger.sealer import seal_all_pending

    for age in range(50, 0, -1):
        _record(age)
    seal_all_pending()
    # Earlier tests' rolled-back inserts may have left the sealer open gaps; start clean.
    AuditSealerState.objects.filter(pk=1).update(open_gaps=[])
    _record(1)
    _heartbeat(5)
    # SELECT 1, the newest heartbeat, the sealer's state, the unsealed above its mark
    with django_assert_max_num_queries(4):
        _health()
    # However many gaps the sealer keeps, health looks into at most MAX_GAP_QUERIES ranges
    # of them and the range above its mark.
    AuditSealerState.objects.filter(pk=1).update(
        open_gaps=[[seq, seq, 0.0] for seq in range(1, 200, 2)]
    )
    with django_assert_max_num_queries(4 + health.MAX_GAP_QUERIES):
        _health()


def test_health_is_503_when_the_database_is_down_and_says_what_it_cannot_know(
    with_workers, monkeypatch
):
    monkeypatch.setattr(health, "database_status", lambda: "down")
    status, body = _health()
    assert status == 503
    assert body["database"] == "down" and body["status"] == "degraded"
    assert body["workers"] == "unknown" and body["worker_heartbeat_age_seconds"] is None
    assert body["sealer_lag_seconds"] is None


def test_health_never_fails_when_a_dependency_query_does(with_workers, monkeypatch):
    from ledger.models import AuditRecord

    class Down:
        def filter(self, **kwargs):
            raise OperationalError("the ledger table is locked")

    monkeypatch.setattr(AuditRecord, "objects", Down())
    _heartbeat(5)
    status, body = _health()
    assert status == 200
    assert body["sealer_lag_seconds"] is None and body["status"] == "degraded"
    assert body["workers"] == "ok"


def test_health_is_degraded_when_the_broker_is_down_but_still_200(with_workers, broker):
    broker.up = False
    _heartbeat(5)
    status, body = _health()
    assert status == 200
    assert body["broker"] == "down" and body["status"] == "degraded"


@pytest.mark.parametrize("error", [OperationalError("refused"), InterfaceError("closed")])
def test_health_says_database_down_whatever_the_driver_raises(db, monkeypatch, error):
    class Unreachable:
        def cursor(self):
            raise error

    monkeypatch.setattr(health, "connection", Unreachable())
    status, body = _health()
    assert status == 503
    assert body["database"] == "down"


# --- the throttle on a real Redis ----------------------------------------------------------


@pytest.fixture
def redis_cache(settings, clock):
    """Django's Redis cache on the broker's Redis (integration runs have one)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",
        }
    }
    from django.core.cache import cache

    yield cache
    cache.clear()


@pytest.mark.integration
def test_the_rate_holds_counted_in_redis_in_one_round_trip(make_api, settings, redis_cache):
    _rate(settings, "2/min")
    api = make_api("admin")
    sent = []
    assert api.get("/api/v1/whoami/").status_code == 200
    redis_client = throttling._redis_clients[caches["default"]]
    original = redis_client.pipeline

    def counting_pipeline(*args, **kwargs):
        pipe = original(*args, **kwargs)
        execute = pipe.execute

        def counted():
            sent.append(len(pipe.command_stack))
            return execute()

        pipe.execute = counted
        return pipe

    redis_client.pipeline = counting_pipeline
    try:
        assert api.get("/api/v1/whoami/").status_code == 200
        throttled = api.get("/api/v1/whoami/")
    finally:
        del redis_client.pipeline
    assert error_of(throttled)["code"] == "throttled"
    assert sent == [2, 2]  # SET NX EX and INCR, sent together, once per request
    window = int(1_800_000_030.0 // 60)
    key = [k for k in redis_client.keys("*") if f":{window}".encode() in k]
    assert len(key) == 1 and int(redis_client.get(key[0])) == 3
