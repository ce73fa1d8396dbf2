from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework import authentication, exceptions

from core.models import ApiClient, hash_key

# Bounds the per-process cache: a deployment has a handful of channel keys, so this is
# never reached in use; past it the expired entries go, or else all of them.
_KEY_CACHE_MAX_ENTRIES = 1024


class _ApiKeyCache:
    """Active API clients by key hash, each kept for ``CROSSSELL_API_KEY_CACHE_SECONDS``.

    Only keys that resolved to an active client are kept: an unknown or revoked key is
    looked up every time, so a key created a moment ago works at once and random guesses
    cannot fill the cache. A client saved or deleted in this process (a revocation through
    the ORM) is dropped at once; one revoked by another process, or with a queryset
    ``update()``, keeps working here until its entry expires — at most the window.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiClient]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> ApiClient | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        expires_at, client = entry
        if time.monotonic() >= expires_at:
            self.forget(key_hash)
            return None
        return client

    def put(self, key_hash: str, client: ApiClient, ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= _KEY_CACHE_MAX_ENTRIES:
                live = {h: e for h, e in self._entries.items() if e[0] > now}
                self._entries = live if len(live) < _KEY_CACHE_MAX_ENTRIES else {}
            self._entries[key_hash] = (now + ttl, client)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


key_cache = _ApiKeyCache()


@receiver(post_save, sender=ApiClient, dispatch_uid="core.api.auth.forget_saved_client")
@receiver(post_delete, sender=ApiClient, dispatch_uid="core.api.auth.forget_deleted_client")
def _forget_changed_client(sender, instance: ApiClient, **kwargs) -> None:
    # A client deactivated (or renamed, re-scoped, deleted) in this process is read afresh.
    key_cache.forget(instance.key_hash)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``; keys are stored hashed and looked up by hash.

    No secret is ever compared here: the key is hashed (SHA-256) and the hash looked up
    through the unique index, or in the per-process cache keyed by that same hash. How
    long either lookup takes can tell a caller at most how much of the *hash* of its guess
    matches a stored hash, which says nothing about any key (nobody can pick a key by its
    hash), so there is no ``==`` on secrets to replace with ``hmac.compare_digest``.
    Unknown and inactive keys are one query either way.

    An active key's client is kept per process for ``CROSSSELL_API_KEY_CACHE_SECONDS``
    (0: every request reads the database), so a key revoked elsewhere keeps working in
    a process that saw it within that window (see ``_ApiKeyCache``).
    """

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        key_hash = hash_key(key)
        ttl = settings.CROSSSELL_API_KEY_CACHE_SECONDS
        client = key_cache.get(key_hash) if ttl > 0 else None
        if client is None:
            client = ApiClient.objects.filter(key_hash=key_hash, is_active=True).first()
            if client is None:
                raise exceptions.AuthenticationFailed("The API key is not valid.")
            if ttl > 0:
                key_cache.put(key_hash, client, ttl)
        return client, client

    def authenticate_header(self, request):
        return self.keyword
