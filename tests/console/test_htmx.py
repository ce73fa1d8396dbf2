"""An htmx request gets only the fragment it swaps in; a plain request gets the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

# (url builder, role, the id of the fragment's root element)
FRAGMENTS = [
    (lambda b: reverse("offers:offer_list") + "?status=active", "marketer", "offers"),
    (lambda b: reverse("offers:product_list") + "?family=cards", "marketer", "products"),
    (lambda b: reverse("campaigns:campaign_list") + "?kind=batch", "marketer", "campaigns"),
    (lambda b: reverse("campaigns:run_detail", args=[b.run.pk]), "marketer", "run-progress"),
    (lambda b: reverse("decisioning:decision_list") + "?channel=sms", "analyst", "decisions"),
    (lambda b: reverse("customers:search") + "?q=CUST-0001&go=0", "analyst", "results"),
    (lambda b: reverse("compliance:approval_list") + "?status=approved", "compliance", "approvals"),
    (lambda b: reverse("compliance:audit_list") + "?kind=catalog", "compliance", "audit"),
    (lambda b: reverse("health"), "admin", "health"),
    (
        lambda b: reverse("decisioning:decision_explain", args=[b.decision.pk]),
        "analyst",
        lambda b: f"explanation-{b.decision.pk}",
    ),
]


@pytest.mark.parametrize(
    "fragment", FRAGMENTS, ids=[f[2] if isinstance(f[2], str) else "explanation" for f in FRAGMENTS]
)
def test_htmx_requests_get_only_the_partial(client, bank, people, fragment):
    url, role, root_id = fragment
    client.force_login(people[role])
    target = url(bank)
    root_id = root_id if isinstance(root_id, str) else root_id(bank)

    partial = client.get(target, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    body = partial.content.decode()
    assert f'id="{root_id}"' in body
    assert "<html" not in body and "sidenav" not in body
    assert "HX-Request" in partial["Vary"]

    page = client.get(target)
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert f'id="{root_id}"' in page.content.decode()


def test_a_history_restore_gets_the_whole_page(client, bank, people):
    client.force_login(people["marketer"])
    response = client.get(
        reverse("offers:offer_list"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()


def test_the_filters_drive_the_list_through_htmx(client, bank, people):
    client.force_login(people["marketer"])
    page = client.get(reverse("offers:offer_list")).content.decode()
    assert 'hx-get="/offers/"' in page and 'hx-target="#offers"' in page
    body = client.get(
        reverse("offers:offer_list") + "?status=retired", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "No offers match." in body
