"""How a console refusal looks: a whole-page move to login for htmx, a 403 page that
says why, navigation that offers only what the role may open.

Who may open or act on which screen — every route, every role, anonymous visitors — is
the permission matrix's (tests/security/test_permission_matrix.py).
"""

from __future__ import annotations

from django.urls import reverse


def test_an_anonymous_htmx_request_is_redirected_as_a_whole_page(client, bank):
    response = client.get(reverse("offers:offer_list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_the_403_page_says_why(client, people):
    client.force_login(people["outsider"])
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_navigation_shows_only_what_the_role_may_open(client, bank, people):
    client.force_login(people["marketer"])
    nav = client.get(reverse("home")).content.decode()
    assert reverse("offers:offer_list") in nav
    assert reverse("compliance:approval_list") not in nav
    client.force_login(people["compliance"])
    nav = client.get(reverse("home")).content.decode()
    assert reverse("compliance:approval_list") in nav
    assert reverse("health") not in nav
