"""Thin Celery tasks: the results of recent days, on beat and on demand."""

from __future__ import annotations

from celery import shared_task

from core.api.exceptions import DATABASE_UNAVAILABLE
from results.services import kpi_days, kpis_compute

TASK_ACTOR = "system:results.compute_kpis"


@shared_task(
    name="results.compute_kpis",
    acks_late=True,
    ignore_result=True,
    autoretry_for=DATABASE_UNAVAILABLE,
    retry_backoff=True,
    retry_backoff_max=60,
    retry_kwargs={"max_retries": 5},
)
def compute_kpis(days: int | None = None) -> None:
    """Recompute the last ``days`` days through today (None: the attribution window);
    each day replaces its rows, so a retry or an overlapping run is harmless."""
    kpis_compute(actor=TASK_ACTOR, days=kpi_days(days=days))
