"""Under the embedded default (no broker, no beat) the writing process seals after commit
(``ledger.autoseal``); with a broker, beat does and nothing is scheduled here."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from django.db import transaction

from ledger import autoseal
from ledger import sealer as sealer_module
from ledger.choices import AuditKind
from ledger.models import AuditSealMembership
from ledger.services import audit, audit_many, build_record
from ledger.verify import verify_ledger


class _Rollback(Exception):
    pass


def _audit(n: int = 0):
    return audit(
        kind=AuditKind.DECISION,
        action="decided",
        actor="system:test",
        customer_ref="cust_autoseal",
        data={"n": n},
    )


@pytest.fixture
def embedded(settings):
    """The embedded default: no broker, tasks eager, autoseal left to decide ("auto")."""
    settings.CROSSSELL_AUDIT_AUTOSEAL = "auto"
    settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert autoseal.autoseal_enabled()
    yield
    assert autoseal.sealer.wait_until_idle(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_under_the_embedded_default_a_committed_record_is_sealed_without_anyone_calling_the_sealer(
    embedded, ledger_baseline, monkeypatch
):
    sealed_on = []
    real = sealer_module.seal_all_pending

    def spy(**kwargs):
        sealed_on.append(threading.current_thread().name)
        return real(**kwargs)

    monkeypatch.setattr(sealer_module, "seal_all_pending", spy)
    with transaction.atomic():
        first, second = _audit(1), _audit(2)
        # Nothing is scheduled, let alone run, inside the writer's transaction.
        assert not autoseal.sealer.pending
    assert autoseal.sealer.pending or sealed_on  # the commit nudged this process's sealer

    assert autoseal.sealer.wait_until_idle(timeout=30)
    assert sealed_on and set(sealed_on) == {"ledger-autoseal"}  # its own thread, not ours
    assert AuditSealMembership.objects.filter(record_id__in=[first.seq, second.seq]).count() == 2
    assert verify_ledger().ok


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_schedules_no_seal(embedded, ledger_baseline):
    with pytest.raises(_Rollback), transaction.atomic():
        _audit()
        raise _Rollback
    assert not autoseal.sealer.pending


@pytest.mark.django_db
def test_one_after_commit_callback_per_transaction_however_many_appends(
    embedded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for n in range(50):
            _audit(n)
        audit_many(
            [build_record(kind=AuditKind.DECISION, action="x", actor="system:t") for _ in range(9)]
        )
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_savepoint_rolled_back_with_its_callback_registers_it_again(
    embedded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        with pytest.raises(_Rollback), transaction.atomic():
            _audit(1)  # registers the callback inside the savepoint ...
            raise _Rollback  # ... which takes it away
        _audit(2)  # so this append registers it again
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_with_a_broker_beat_seals_and_nothing_is_scheduled_in_process(
    settings, django_capture_on_commit_callbacks
):
    settings.CROSSSELL_AUDIT_AUTOSEAL = "auto"
    settings.CELERY_BROKER_URL = "redis://localhost:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert not autoseal.autoseal_enabled()
    assert "seal-audit-ledger" in settings.CELERY_BEAT_SCHEDULE
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        _audit()
    assert callbacks == []


def test_the_setting_forces_it_either_way(settings):
    settings.CELERY_BROKER_URL = "redis://localhost:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CROSSSELL_AUDIT_AUTOSEAL = "on"
    assert autoseal.autoseal_enabled()
    settings.CELERY_BROKER_URL = ""
    settings.CROSSSELL_AUDIT_AUTOSEAL = "off"
    assert not autoseal.autoseal_enabled()


def test_the_sealer_runs_at_most_once_per_interval_however_often_it_is_nudged():
    sealer = autoseal.AutoSealer(interval=0.2)
    runs: list[float] = []
    sealer._seal = lambda budget: runs.append(time.monotonic())  # type: ignore[method-assign]
    started = time.monotonic()
    while time.monotonic() - started < 0.7:
        sealer.nudge()  # a commit every millisecond
        time.sleep(0.001)
    assert sealer.wait_until_idle(timeout=5)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert 2 <= len(runs) <= 6, runs
    assert all(gap >= 0.19 for gap in gaps), gaps
    # ... and a nudge after the last run is never lost.
    sealer.nudge()
    assert sealer.wait_until_idle(timeout=5)
    assert runs[-1] >= started + 0.7


@pytest.mark.django_db(transaction=True)
def test_a_backlog_larger_than_one_run_is_sealed_to_the_end_without_another_commit(
    ledger_baseline, monkeypatch
):
    monkeypatch.setattr(autoseal, "BATCH", 3)
    monkeypatch.setattr(autoseal, "RUN_BUDGET_SECONDS", 0.0)  # one batch a run
    # Written with in-process sealing off (the test settings'), then one nudge, as one
    # commit would give: the sealer must work through all of it on its own.
    audit_many([build_record(kind=AuditKind.DECISION, action="decided", actor="system:test",
                             customer_ref="cust_backlog", data={"n": n})
                for n in range(10)])  # fmt: skip
    sealer = autoseal.AutoSealer(interval=0.05)
    sealer.nudge()
    deadline = time.monotonic() + 20
    while sealer.sealed < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sealer.wait_until_idle(timeout=10)
    assert sealer.sealed == 10
    assert sealer.runs >= 4  # 3 + 3 + 3 + 1
    assert verify_ledger().unsealed_records == 0
