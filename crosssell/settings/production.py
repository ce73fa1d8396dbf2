from django.core.exceptions import ImproperlyConfigured
from environs import validate

from core.logs import FORMATS as LOG_FORMATS
from core.logs import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, SECRET_KEY, env

DEBUG = False
if SECRET_KEY.startswith("crosssell-embedded"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")

# HTTPS only. By default the app redirects plain HTTP to HTTPS itself and sends HSTS.
# Behind a reverse proxy or load balancer that terminates TLS, set
# DJANGO_SECURE_PROXY_SSL_HEADER=true so a request the proxy marks
# `X-Forwarded-Proto: https` counts as secure (the proxy must set that header itself and
# overwrite any a client sent); DJANGO_SECURE_SSL_REDIRECT=false when the proxy redirects.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", False)
    else None
)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Load balancers probe health over plain HTTP; the answer holds nothing secret. Prometheus
# scrapes /metrics from inside the network, which the allowed networks (and the token)
# below restrict.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$", r"^metrics$"]
# One year; 0 switches HSTS off (while trying HTTPS out: browsers remember the header).
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", 31_536_000, validate=validate.Range(min=0)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", True)

# Cookies only over HTTPS and out of scripts' reach (htmx sends the CSRF token from the
# page, never from the cookie).
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.redis_url("CROSSSELL_CACHE_URL", "")
        or env.redis_url("CELERY_BROKER_URL", ""),
        # An unreachable Redis must cost a request a fraction of a second, not a hang:
        # the throttle then counts in process memory (core/api/throttling.py).
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
}

# One JSON object per log line unless told otherwise (core/logs.py).
LOG_FORMAT = env.str("CROSSSELL_LOG_FORMAT", "json", validate=validate.OneOf(LOG_FORMATS))
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# /metrics is never open in production: set CROSSSELL_METRICS_ALLOWED_NETWORKS (the
# scraper's addresses) and/or CROSSSELL_METRICS_TOKEN (its bearer token), or it answers 403.
CROSSSELL_METRICS_OPEN = False
