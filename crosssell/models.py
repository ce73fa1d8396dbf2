"""The roof's own table: worker heartbeats, which health reads."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """Written by a Celery worker on beat's schedule; health reads the latest."""

    token = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=200)
    database_vendor = models.CharField(max_length=32)
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-seen_at"], name="heartbeat_seen_idx")]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
