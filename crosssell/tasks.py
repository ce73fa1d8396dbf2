import socket
import uuid

from celery import shared_task
from django.db import connection
from django.utils import timezone

from crosssell.models import WorkerHeartbeat


@shared_task(name="crosssell.worker_heartbeat", ignore_result=True)
def worker_heartbeat(token: str | None = None) -> None:
    """Proves a worker can reach the broker and the database; keeps the last day only."""
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        token=token or uuid.uuid4().hex,
        hostname=socket.gethostname(),
        database_vendor=connection.vendor,
        seen_at=now,
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - timezone.timedelta(days=1)).delete()
