"""API clients: the systems (and people's scripts) that call the REST API.

The caller's identity is plumbing, like ``auth.User``: the API's authentication and
permissions below every app read it. Creating one is audited, so that service lives in
the roof (``crosssell.services``).
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

from core.channels import BY_CODE
from core.choices import Role


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
        db_table = "crosssell_apiclient"  # created by the roof before it moved here
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
        return channel in BY_CODE
