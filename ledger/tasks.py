"""Celery work of the ledger: the sealer beat runs when a broker is configured (under the
embedded default ``ledger.autoseal`` seals in-process instead)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from ledger.sealer import DEFAULT_SEAL_BATCH, seal_all_pending


@shared_task(
    name="ledger.tasks.seal_audit_ledger",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def seal_audit_ledger(
    full_sweep: bool = False,
    max_records: int = DEFAULT_SEAL_BATCH,
    time_budget_seconds: float = 5.0,
) -> int:
    """Seal what is pending (beat runs it every second; it is idempotent and a second
    sealer running at the same time simply finds the lock taken). Returns records sealed."""
    return seal_all_pending(
        max_records=max_records,
        full_sweep=full_sweep,
        time_budget_seconds=time_budget_seconds,
    )
