"""Production settings: ``check --deploy`` is clean, HTTPS is enforced (directly or behind a
TLS-terminating proxy), and the served OpenAPI schema generates without warnings.

The production checks run in a subprocess: the test process has the test settings loaded.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings

PRODUCTION_VARIABLES = (
    "DJANGO_DEBUG",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_SECURE_HSTS_PRELOAD",
    "DJANGO_SECURE_PROXY_SSL_HEADER",
    "DJANGO_SECURE_COOKIES",
)


def production(tmp_path, args: list[str], **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="crosssell.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="example.org",
        CROSSSELL_VAR_DIR=str(tmp_path),
        **variables,
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


# Requests through the whole middleware stack under production settings; the sign-in page
# touches neither the database nor the cache.
PROBE = textwrap.dedent(
    """
    import json, django
    django.setup()
    from django.test import Client
    answers = {}
    for name, extra in {
        "http": {},
        "https": {"secure": True},
        "forwarded_https": {"HTTP_X_FORWARDED_PROTO": "https"},
    }.items():
        response = Client().get("/login/", HTTP_HOST="example.org", **extra)
        cookie = response.cookies.get("csrftoken")
        answers[name] = {
            "status": response.status_code,
            "location": response.get("Location", ""),
            "hsts": response.get("Strict-Transport-Security", ""),
            "csp": response.get("Content-Security-Policy", ""),
            "cookie_secure": bool(cookie and cookie["secure"]),
            "cookie_httponly": bool(cookie and cookie["httponly"]),
        }
    print(json.dumps(answers))
    """
)


def probe(tmp_path, **variables: str) -> dict:
    done = production(tmp_path, ["-c", PROBE], **variables)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_deploy_check_is_clean_under_production_settings(tmp_path):
    done = production(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_deploy_check_is_clean_behind_a_tls_terminating_proxy(tmp_path):
    done = production(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECURE_PROXY_SSL_HEADER="true",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_redirects_to_https_and_sends_hsts_and_secure_cookies(tmp_path):
    answers = probe(tmp_path)
    assert answers["http"]["status"] == 301
    assert answers["http"]["location"] == "https://example.org/login/"
    https = answers["https"]
    assert https["status"] == 200
    assert https["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in https["csp"]
    assert https["cookie_secure"] and https["cookie_httponly"]
    # Without the proxy setting a client's X-Forwarded-Proto is not believed.
    assert answers["forwarded_https"]["status"] == 301


def test_behind_a_proxy_x_forwarded_proto_https_counts_as_secure(tmp_path):
    answers = probe(tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER="true")
    assert answers["forwarded_https"]["status"] == 200
    assert answers["forwarded_https"]["hsts"].startswith("max-age=31536000")
    assert answers["http"]["status"] == 301


def test_the_https_settings_are_configurable(tmp_path):
    answers = probe(
        tmp_path,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        DJANGO_SECURE_HSTS_PRELOAD="false",
    )
    assert answers["http"]["status"] == 200
    assert answers["https"]["hsts"] == "max-age=3600"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_SECURE_HSTS_SECONDS", "-1"),
        ("DJANGO_SECURE_HSTS_SECONDS", "a year"),
        ("DJANGO_SECURE_SSL_REDIRECT", "maybe"),
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
        ("CROSSSELL_LOGIN_FAILURE_LIMIT", "0"),
        ("CROSSSELL_LOGIN_LOCKOUT_MINUTES", "soon"),
        ("CROSSSELL_PROXY_COUNT", "-1"),
    ],
)
def test_a_malformed_security_setting_stops_start_up_naming_it(tmp_path, variable, value):
    done = production(tmp_path, ["manage.py", "check"], **{variable: value})
    assert done.returncode != 0
    assert variable in done.stderr


def test_the_served_openapi_schema_generates_without_warnings():
    """What drf-spectacular's deploy check would report (it is off: it reads only the
    global settings), for the schema as the API serves it."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.settings import patched_settings, spectacular_settings

    from crosssell.api.views import ApiSchemaView

    GENERATOR_STATS.reset()
    with patched_settings(ApiSchemaView.custom_settings), GENERATOR_STATS.silence():
        spectacular_settings.DEFAULT_GENERATOR_CLASS().get_schema(request=None, public=True)
    warnings = sorted(GENERATOR_STATS._warn_cache) + sorted(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert warnings == []
