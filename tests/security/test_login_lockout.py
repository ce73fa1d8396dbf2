"""Sign-in throttling (django-axes): wrong passwords lock a username from an address for a
while, the sign-in page says so, and an administrator can unlock it.

The test settings switch axes off so other tests sign in freely; it is on here.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import persona

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def axes(settings):
    settings.AXES_ENABLED = True
    assert settings.AXES_FAILURE_LIMIT == 5
    return settings


def sign_in(client, password, username="maker", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_seven_wrong_passwords_lock_the_sign_in_and_the_right_one_is_refused(client, axes):
    persona("maker", "marketer")
    answers = [sign_in(client, f"wrong-{n}") for n in range(7)]
    # Four plain refusals, then the fifth failure locks: 429 with the reason, not a 500 and
    # not the same "did not match" as before.
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 3
    assert "did not match" in answers[0].content.decode()
    locked = answers[-1].content.decode()
    assert "Sign-in is locked" in locked and "15 minutes" in locked
    assert 'name="password"' in locked  # still the sign-in page, with its form
    right = sign_in(client, PASSWORD)
    assert right.status_code == 429 and "Sign-in is locked" in right.content.decode()
    assert client.get(reverse("home")).status_code == 302  # not signed in


def test_an_administrator_unlocks_a_locked_username(client, axes):
    persona("maker", "marketer")
    for n in range(5):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, PASSWORD).status_code == 429
    call_command("axes_reset_username", "maker")
    right = sign_in(client, PASSWORD)
    assert right.status_code == 302 and right["Location"] == reverse("home")


def test_the_lock_is_per_username_and_address(client, axes):
    persona("maker", "marketer")
    persona("checker", "compliance")
    for n in range(5):
        sign_in(client, f"wrong-{n}")
    # The same username from another address, and another username from this one, sign in.
    elsewhere = sign_in(client, PASSWORD, REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 302
    client.post(reverse("logout"))
    assert sign_in(client, PASSWORD, username="checker").status_code == 302


def test_a_successful_sign_in_clears_the_failures(client, axes):
    persona("maker", "marketer")
    for n in range(4):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for n in range(4):
        assert sign_in(client, f"again-{n}").status_code == 200


def test_behind_proxies_the_address_is_the_one_the_outermost_proxy_saw(client, axes):
    axes.CROSSSELL_PROXY_COUNT = 1
    persona("maker", "marketer")
    # A client cannot pick its address by sending its own X-Forwarded-For: the proxy appends
    # the real one (203.0.113.7), and that is the one counted.
    for n in range(5):
        sign_in(client, f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7")
    refused = sign_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7")
    assert refused.status_code == 429
    other = sign_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, axes):
    persona("maker", "marketer")
    url = reverse("admin:login")
    for n in range(5):
        client.post(url, {"username": "maker", "password": f"wrong-{n}"})
    locked = client.post(url, {"username": "maker", "password": PASSWORD})
    assert locked.status_code == 429
