"""Content-Security-Policy: the console runs no inline script, so ``script-src 'self'``
holds; the API docs page widens only what Swagger UI needs, on its own view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import persona

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# A <script> element with no src attribute, and inline event-handler attributes
# (onclick=, onload=, ...) and htmx's hx-on, which needs eval.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\-][\w:\-]*)\s*=", re.IGNORECASE)


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("page", ["login", "home"])
def test_console_pages_forbid_inline_script(client, page):
    client.force_login(persona("analyst", "analyst"))
    if page == "login":
        client.logout()
    response = client.get(reverse(page))
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'"]  # no <style> elements; attributes only
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "default-src" in policy


def test_no_template_holds_an_inline_script_or_event_handler():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(TEMPLATES)}:{line}: {match.group(0).strip()}")
    assert offenders == []


def test_the_patterns_catch_what_they_are_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">x()</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert EVENT_HANDLER.search('<button onclick="go()">')
    assert EVENT_HANDLER.search('<form hx-on::after-request="reset()">')
    assert not EVENT_HANDLER.search('<input name="online">')


def test_htmx_is_configured_to_need_no_inline_style_or_eval(client):
    body = client.get(reverse("login")).content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", body)
    assert config, "base.html configures htmx through its meta tag"
    assert '"includeIndicatorStyles": false' in config.group(1)
    assert '"allowEval": false' in config.group(1)
    css = (Path(settings.BASE_DIR) / "static" / "css" / "console.css").read_text()
    assert ".htmx-indicator" in css  # the rules htmx would otherwise inject


def test_the_api_docs_load_their_start_up_script_from_the_server(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    policy = policy_of(page)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]  # Swagger UI's own <style> block
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
