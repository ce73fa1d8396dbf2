"""Sign-in, sign-out and the page frame (one stylesheet, htmx vendored, no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import persona

PASSWORD = "correct horse battery staple"


def test_sign_in_lands_on_the_dashboard_and_a_wrong_password_is_refused(client, db):
    persona("maker", "marketer")
    page = client.get(reverse("login"))
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    wrong = client.post(reverse("login"), {"username": "maker", "password": "nope"})
    assert wrong.status_code == 200
    assert "did not match" in wrong.content.decode()
    right = client.post(reverse("login"), {"username": "maker", "password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_sign_out_is_a_post_and_ends_the_session(client, people):
    client.force_login(people["marketer"])
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_the_frame_loads_vendored_htmx_and_one_stylesheet(client, people):
    client.force_login(people["analyst"])
    body = client.get(reverse("home")).content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', body)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', body)
    assert scripts == ["/static/vendor/htmx.min.js"]
    assert sheets == ["/static/css/console.css"]
    assert "X-CSRFToken" in body  # htmx posts carry the CSRF token
    vendored = Path(settings.BASE_DIR, "static", "vendor", "htmx.min.js").read_text()
    assert "htmx" in vendored[:200]


@pytest.mark.parametrize(
    "name", ["home", "offers:offer_list", "campaigns:campaign_list", "decisioning:decision_list"]
)
def test_each_page_opens_with_a_skip_link_and_its_h1_is_the_first_heading(client, people, name):
    client.force_login(people["marketer"])
    body = client.get(reverse(name)).content.decode()
    first_link = re.search(r"<a\b[^>]*>", body).group(0)
    assert 'class="skip-link"' in first_link and 'href="#content"' in first_link
    assert 'id="content"' in body
    assert re.search(r"<h[1-6]\b", body).group(0) == "<h1"
