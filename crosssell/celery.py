import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crosssell.settings.dev")

app = Celery("crosssell")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Observability (crosssell/observability/task_signals.py): the request id travels in task
# headers and is restored before a task runs; tasks are counted and timed; the worker
# logs in the project's format.
from crosssell.observability.task_signals import connect as connect_observability  # noqa: E402

connect_observability()
