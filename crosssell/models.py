"""API clients: the systems (and people's scripts) that call the REST API."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

from crosssell.choices import Role
from customers.choices import Channel


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough to store them safely
    # and keeps authentication to one indexed lookup.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return f"cs_{secrets.token_urlsafe(32)}"


class ApiClient(models.Model):
    name = models.CharField(max_length=100, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    channels = models.JSONField(default=list, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="apiclient_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"

    # DRF treats request.user as authenticated when this is true.
    is_authenticated = True

    @property
    def actor(self) -> str:
        return f"api:{self.name}"

    def may_act_for(self, channel: str) -> bool:
        if self.role == Role.CHANNEL:
            return channel in self.channels
        return True

    @staticmethod
    def valid_channel(channel: str) -> bool:
        return channel in Channel.values


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
