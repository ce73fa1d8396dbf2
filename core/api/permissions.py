"""Who may call what: roles per endpoint, and the channels a channel client may act for.

A view lists the roles it admits in ``allowed_roles`` — one set for every method, or a
mapping from HTTP method to roles. A channel client acting for a channel outside its
list gets 403: views call ``require_channel`` once they know the channel (from the
path, the body, or the object acted on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from core.choices import Role
from core.models import ApiClient

ALL_ROLES = frozenset(Role.values)
CHANNEL = frozenset({Role.CHANNEL})


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    return frozenset(names)


def allowed_roles_for(view, method: str) -> frozenset[str]:
    allowed = getattr(view, "allowed_roles", None)
    if allowed is None:
        return frozenset()
    if isinstance(allowed, Mapping):
        method = "GET" if method.upper() == "HEAD" else method.upper()
        return frozenset(allowed.get(method, ()))
    return frozenset(allowed)


class HasRole(BasePermission):
    """Admits an authenticated API client whose role the view lists for this method."""

    def has_permission(self, request, view) -> bool:
        method = request.method.lower()
        if method == "options" or not hasattr(view, method):
            return True  # the view answers 405 with Allow: wrong method beats wrong role
        client = request.auth
        if not isinstance(client, ApiClient):
            return False
        allowed = allowed_roles_for(view, request.method)
        if client.role in allowed:
            return True
        self.message = (
            f"The {client.role} role may not {request.method} this endpoint "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'})."
        )
        return False


def require_channel(client: ApiClient, channel: str) -> None:
    """403 unless the client may act for ``channel`` (only channel clients are limited)."""
    if not client.may_act_for(channel):
        raise PermissionDenied(
            f"This API client may not act for the {channel} channel "
            f"(allowed: {', '.join(client.channels) or 'none'})."
        )


def require_any_channel(client: ApiClient, channels: Iterable[str]) -> None:
    """403 unless the client may act for at least one of ``channels``."""
    channels = sorted({c for c in channels if c})
    if client.role != Role.CHANNEL:
        return
    if not any(client.may_act_for(channel) for channel in channels):
        raise PermissionDenied(
            f"This API client may not act for the channel(s) {', '.join(channels) or '(none)'} "
            f"(allowed: {', '.join(client.channels) or 'none'})."
        )
