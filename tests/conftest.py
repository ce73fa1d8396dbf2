"""Shared fixtures and the ``integration`` marker.

Tests marked ``integration`` need PostgreSQL, Redis and a running Celery worker. They
run when ``CROSSSELL_INTEGRATION=1`` (``.ci/run`` sets it after starting the services);
elsewhere they are skipped with the reason. Under ``CI=true`` a missing service fails
the run instead of skipping.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection

INTEGRATION = os.environ.get("CROSSSELL_INTEGRATION") == "1"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    """Each test starts without this process's cached engine snapshot: the catalog version
    it is keyed by starts again at every flushed or rolled-back database, so a snapshot of
    an earlier test's catalog could otherwise pass for this one's."""
    from decisioning.decisions.snapshots import snapshots

    snapshots.clear()
    yield
    snapshots.clear()


def pytest_collection_modifyitems(config, items):
    if INTEGRATION:
        return
    reason = (
        "integration test: needs PostgreSQL, Redis and a Celery worker; "
        "run .ci/run (or set CROSSSELL_INTEGRATION=1 with DATABASE_URL and CELERY_BROKER_URL)"
    )
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def integration_services():
    """Fails (in CI) or skips (elsewhere) unless PostgreSQL, Redis and a worker answer."""
    problems = []
    if connection.vendor != "postgresql":
        problems.append(f"database is {connection.vendor}, not PostgreSQL (set DATABASE_URL)")
    from django.conf import settings

    from crosssell.celery import app

    if not settings.CELERY_BROKER_URL:
        problems.append("no Celery broker (set CELERY_BROKER_URL)")
    else:
        try:
            replies = app.control.ping(timeout=2.0)
        except Exception as exc:
            replies = []
            problems.append(f"Redis broker unreachable: {exc}")
        if not replies:
            problems.append("no Celery worker answered a ping")
    if problems:
        message = "; ".join(problems)
        if IN_CI:
            pytest.fail(f"integration services missing in CI: {message}")
        pytest.skip(message)
    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = True


@pytest.fixture(scope="module")
def ledger_allows_live_server_flush():
    """A live server's database is emptied after each test, which the ledger's triggers
    refuse: drop them for the flush only. Browser tests use it module-wide."""
    from django.db import connections
    from django.test import TransactionTestCase

    from ledger.testing import ledger_triggers_dropped

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        with ledger_triggers_dropped(connections["default"]):
            original(self)

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original
