"""Writes the roof owns: API clients."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.choices import Channel, Role
from core.exceptions import ValidationFailed
from core.models import ApiClient, hash_key, new_key
from ledger.choices import AuditKind
from ledger.services import audit


def api_client_create(
    *, actor: Any, name: str, role: str, channels: list[str] | None = None
) -> tuple[ApiClient, str]:
    """Create a client and return it with its key, which is shown once and stored hashed."""
    channels = sorted(set(channels or []))
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [f"must be one of {', '.join(Role.values)}"]
    unknown = [c for c in channels if c not in Channel.values]
    if unknown:
        errors["channels"] = [f"unknown channel(s): {', '.join(unknown)}"]
    if role == Role.CHANNEL and not channels:
        errors.setdefault("channels", []).append("a channel client needs at least one channel")
    if role != Role.CHANNEL and channels:
        errors.setdefault("channels", []).append("only channel clients are limited to channels")
    if not name.strip():
        errors["name"] = ["is required"]
    elif ApiClient.objects.filter(name=name).exists():
        errors["name"] = [f"a client named {name!r} already exists"]
    if errors:
        raise ValidationFailed("The API client is not valid.", fields=errors)

    key = new_key()
    with transaction.atomic():
        client = ApiClient(
            name=name, role=role, channels=channels, key_hash=hash_key(key), key_prefix=key[:10]
        )
        client.full_clean()
        client.save()
        audit(
            kind=AuditKind.ACCESS,
            action="api_client_created",
            actor=actor,
            object_type="api_client",
            object_id=client.pk,
            object_repr=client.name,
            data={"role": role, "channels": channels, "key_prefix": client.key_prefix},
        )
    return client, key
