"""Thin Celery tasks: ids in, a service call, safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from decisioning.runs.batch import run_chunk_execute
from decisioning.signals.journeys import absence_triggers_fire
from decisioning.signals.process import event_process


@shared_task(
    name="decisioning.process_event",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
    ignore_result=True,
)
def process_event(event_pk: int) -> None:
    event_process(event_pk=event_pk)


@shared_task(
    name="decisioning.run_chunk",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
    ignore_result=True,
)
def run_chunk(chunk_pk: int) -> None:
    run_chunk_execute(chunk_pk=chunk_pk)


@shared_task(name="decisioning.absence_triggers", acks_late=True, ignore_result=True)
def absence_triggers() -> None:
    absence_triggers_fire()


@shared_task(name="decisioning.train_models", acks_late=True, ignore_result=True, time_limit=3600)
def train_models() -> None:
    from decisioning.feedback.training import models_train_all

    models_train_all(actor="system:train_models")
