from __future__ import annotations

from rest_framework import authentication, exceptions

from core.models import ApiClient, hash_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``; keys are stored hashed and looked up by hash."""

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
