"""Sealing under the embedded default: in the writing process, after commit, debounced.

With a broker, beat runs ``ledger.tasks.seal_audit_ledger`` every second in a worker and
this module does nothing. The embedded default (no ``CELERY_BROKER_URL``, tasks eager)
has no beat, so without this nothing would seal what the console and the API append
after ``manage.py demo``'s own sealing step — and ``verify`` now fails on stale records.

How: ``audit()`` / ``audit_many()`` call :func:`seal_after_commit`, which registers ONE
``transaction.on_commit`` callback per transaction (per connection). After the writer's
transaction commits, the callback only *nudges* this process's sealer thread (an
``Event.set()``; it starts the daemon thread the first time). The thread seals with
``seal_all_pending`` on its own database connection, at most once per
``MIN_INTERVAL_SECONDS`` per process (nudges that arrive meanwhile fold into the next
run), and goes back to sleep.

Why this and not a timer thread in the serving process:

- it seals wherever records are written — ``runserver`` / gunicorn workers, management
  commands, the shell, eager Celery tasks — not only in a process someone remembered to
  start a timer in; a CLI command that writes and exits is flushed by the ``atexit``
  hook below instead of leaving a record that goes stale;
- it runs only when something was committed: an idle console costs nothing;
- it is never inside the writer's transaction (it runs after commit, on another
  connection; a rolled-back transaction nudges nothing), and the hot path pays one
  attribute check per ``audit()`` call plus one ``on_commit`` registration and an
  ``Event.set()`` per transaction — microseconds; the sealing itself happens on the
  thread, in short transactions of at most ``BATCH`` records, so a writer on SQLite
  waits at most one short seal for the write lock, once a second.

Sealers are serialised by the sealer itself (``ledger.sealer``), so several processes
doing this, or this and a manual ``seal_audit``, never conflict. Set
``CROSSSELL_AUDIT_AUTOSEAL`` to ``on`` / ``off`` to force it; ``auto`` (the default)
means on exactly when there is no broker or tasks run eagerly.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
BATCH = 2_000
RUN_BUDGET_SECONDS = 2.0
EXIT_BUDGET_SECONDS = 10.0
RETRIES = 5  # a failed run (e.g. the SQLite write lock held too long) is retried this often

_HOOKED = "_ledger_autoseal_hooks"


_SETTINGS = frozenset({"CROSSSELL_AUDIT_AUTOSEAL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"})
_enabled: bool | None = None  # decided once (the hot path reads a bool), again on a change


def _decide() -> bool:
    mode = getattr(settings, "CROSSSELL_AUDIT_AUTOSEAL", "auto")
    if mode == "auto":
        return not settings.CELERY_BROKER_URL or bool(settings.CELERY_TASK_ALWAYS_EAGER)
    return mode == "on"


def autoseal_enabled() -> bool:
    """On under the embedded default (no broker, or tasks run eagerly), unless forced."""
    global _enabled
    if _enabled is None:
        _enabled = _decide()
    return _enabled


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _enabled
    if setting in _SETTINGS:
        _enabled = None


setting_changed.connect(_setting_changed, dispatch_uid="ledger.autoseal")


class AutoSealer:
    """One per process: a daemon thread that seals when nudged, at most once per interval."""

    def __init__(self, *, interval: float = MIN_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._running = False
        self._thread: threading.Thread | None = None
        self._last_run = float("-inf")
        self._failures = 0
        self.runs = 0
        self.sealed = 0

    def nudge(self) -> None:
        """Ask for a seal soon (after the current run, at most once per interval)."""
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="ledger-autoseal", daemon=True
                )
                self._thread.start()

    @property
    def pending(self) -> bool:
        return self._wake.is_set() or self._running

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            delay = self._last_run + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._lock:
                self._running = True
                # Cleared before sealing: a commit that lands during the run nudges again.
                self._wake.clear()
            self._last_run = time.monotonic()
            try:
                self._seal(RUN_BUDGET_SECONDS)
            finally:
                with self._lock:
                    self._running = False
                    self._idle.notify_all()

    def _seal(self, budget: float) -> None:
        from ledger.sealer import seal_all_pending

        try:
            sealed = seal_all_pending(max_records=BATCH, time_budget_seconds=budget)
        except Exception:
            # Retried a few times a second apart, then on the next commit; verify
            # reports anything left waiting too long.
            self._failures += 1
            logger.exception("the in-process ledger sealer failed (attempt %d)", self._failures)
            if self._failures <= RETRIES:
                self._wake.set()
        else:
            self._failures = 0
            self.runs += 1
            self.sealed += sealed
            if sealed and sealed % BATCH == 0:
                # Only whole batches: the budget ran out with a backlog left (a bulk write,
                # or a ledger the demo's own sealing step did not finish). Go on after the
                # interval instead of waiting for the next commit, which may never come —
                # the backlog would go stale and verification would ask whether the sealer
                # runs at all.
                self._wake.set()
        finally:
            connections[DEFAULT_DB_ALIAS].close()

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until no seal is running or asked for; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._wake.is_set() or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def flush_at_exit(self) -> None:
        """At interpreter exit, seal what was committed but not sealed yet, so a command
        that writes and exits leaves nothing to go stale."""
        if not self.pending:
            return
        self.wait_until_idle(EXIT_BUDGET_SECONDS)
        try:
            from ledger.sealer import seal_all_pending

            seal_all_pending(max_records=BATCH, time_budget_seconds=EXIT_BUDGET_SECONDS)
        except Exception:
            logger.exception("the in-process ledger sealer could not seal at exit")


sealer = AutoSealer()
atexit.register(sealer.flush_at_exit)
if hasattr(os, "register_at_fork"):
    # A forked child (gunicorn worker, multiprocessing) has no sealer thread: start afresh.
    os.register_at_fork(after_in_child=sealer._reset)


def _nudge() -> None:
    sealer.nudge()


def seal_after_commit(connection: BaseDatabaseWrapper | str | None = None) -> None:
    """Called by every append (with the connection it wrote on): once the transaction
    commits, have this process seal.

    A no-op when a broker and beat do the sealing. One ``on_commit`` registration per
    transaction: Django replaces ``run_on_commit`` with a new list whenever it commits,
    rolls back or rolls back a savepoint, so "our callback was registered into this very
    list" is an identity check, and never misses a transaction.
    """
    if not (_enabled if _enabled is not None else autoseal_enabled()):
        return
    if not isinstance(connection, BaseDatabaseWrapper):
        connection = connections[connection or DEFAULT_DB_ALIAS]
    hooks = connection.run_on_commit
    if connection.in_atomic_block and getattr(connection, _HOOKED, None) is hooks:
        return
    try:
        connection.on_commit(_nudge, robust=True)
    except Exception:
        # Manual transaction management (no on_commit): never fail the write for this;
        # the next append, ``seal_audit`` or verification's staleness check catch it.
        logger.warning("ledger autoseal could not register after commit", exc_info=True)
        return
    setattr(connection, _HOOKED, hooks)
