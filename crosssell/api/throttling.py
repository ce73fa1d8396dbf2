from rest_framework.throttling import SimpleRateThrottle


class ApiClientRateThrottle(SimpleRateThrottle):
    """Per API client request budget; answers 429 with Retry-After when exceeded."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        client = getattr(request, "auth", None)
        ident = f"client:{client.pk}" if client is not None and hasattr(client, "pk") else None
        if ident is None:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
