"""Thin Celery tasks: ids in, a service call, safe to run twice.

The event and chunk tasks retry while the database is unreachable (backoff up to a minute
between tries, about five minutes in all). One that gives up leaves its row as it was —
the event ``accepted``, the chunk pending — and the outbox sweeper queues it again
(``decisioning/outbox.py``): no outage loses work, however long.
"""

from celery import shared_task

from core.api.exceptions import DATABASE_UNAVAILABLE
from decisioning.outbox import sweep
from decisioning.runs.batch import run_chunk_execute
from decisioning.runs.schedule import scheduled_runs_start
from decisioning.signals.journeys import absence_triggers_fire
from decisioning.signals.process import event_process

DATABASE_RETRIES = {
    "autoretry_for": DATABASE_UNAVAILABLE,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "retry_kwargs": {"max_retries": 10},
}


@shared_task(
    name="decisioning.process_event", acks_late=True, ignore_result=True, **DATABASE_RETRIES
)
def process_event(event_pk: int) -> None:
    event_process(event_pk=event_pk)


@shared_task(name="decisioning.run_chunk", acks_late=True, ignore_result=True, **DATABASE_RETRIES)
def run_chunk(chunk_pk: int) -> None:
    run_chunk_execute(chunk_pk=chunk_pk)


@shared_task(name="decisioning.sweep", acks_late=True, ignore_result=True)
def outbox_sweep() -> None:
    # No retries: beat asks again in CROSSSELL_SWEEPER_INTERVAL_SECONDS.
    sweep()


@shared_task(name="decisioning.absence_triggers", acks_late=True, ignore_result=True)
def absence_triggers() -> None:
    absence_triggers_fire()


@shared_task(name="decisioning.scheduled_runs", acks_late=True, ignore_result=True)
def scheduled_runs() -> None:
    # No retries: beat asks again next minute, and a campaign stays due until it runs.
    scheduled_runs_start()


@shared_task(name="decisioning.train_models", acks_late=True, ignore_result=True, time_limit=3600)
def train_models(product_code: str | None = None) -> None:
    """Nightly on beat for every product, or on demand for one (``product_code``)."""
    from decisioning.learning.registry import models_train_all
    from offers.models import Product

    products = None if product_code is None else list(Product.objects.filter(code=product_code))
    models_train_all(actor="system:train_models", products=products)


@shared_task(name="decisioning.check_model_drift", acks_late=True, ignore_result=True)
def check_model_drift() -> None:
    from decisioning.learning.drift import models_drift_check

    models_drift_check(actor="system:check_model_drift")
