from __future__ import annotations

from rest_framework import authentication, exceptions

from core.models import ApiClient, hash_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``; keys are stored hashed and looked up by hash.

    No secret is ever compared here: the key is hashed (SHA-256) and the hash looked up
    through the unique index. How long that lookup takes can tell a caller at most how
    much of the *hash* of its guess matches a stored hash, which says nothing about any
    key (nobody can pick a key by its hash), so there is no ``==`` on secrets to replace
    with ``hmac.compare_digest``. Unknown and inactive keys are one query either way.
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
        client = ApiClient.objects.filter(key_hash=hash_key(key), is_active=True).first()
        if client is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        return client, client

    def authenticate_header(self, request):
        return self.keyword
