"""Every console screen admits its roles and refuses the others.

A matrix over the personas: marketer (maker), compliance (checker), analyst, admin, an
outsider with no console role (403 everywhere) and an anonymous visitor (sent to login).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

ALL = {"marketer", "compliance", "analyst", "admin"}
MARKETER = {"marketer"}
COMPLIANCE = {"compliance"}
PEOPLE_DATA = {"marketer", "compliance", "analyst"}

# (name, url builder over the bank fixture, roles that may GET it)
PAGES = [
    ("home", lambda b: reverse("home"), ALL),
    ("health", lambda b: reverse("health"), {"admin"}),
    ("product list", lambda b: reverse("offers:product_list"), ALL),
    ("product detail", lambda b: reverse("offers:product_detail", args=[b.product.pk]), ALL),
    ("product create", lambda b: reverse("offers:product_create"), MARKETER),
    ("product edit", lambda b: reverse("offers:product_edit", args=[b.product.pk]), MARKETER),
    ("offer list", lambda b: reverse("offers:offer_list"), ALL),
    ("offer detail", lambda b: reverse("offers:offer_detail", args=[b.offer.pk]), ALL),
    ("offer create", lambda b: reverse("offers:offer_create"), MARKETER),
    ("offer edit", lambda b: reverse("offers:offer_edit", args=[b.offer.pk]), MARKETER),
    ("content", lambda b: reverse("offers:content_edit", args=[b.offer.pk, "sms"]), ALL),
    ("campaign list", lambda b: reverse("campaigns:campaign_list"), ALL),
    ("campaign detail", lambda b: reverse("campaigns:campaign_detail", args=[b.campaign.pk]), ALL),
    ("campaign create", lambda b: reverse("campaigns:campaign_create"), MARKETER),
    ("campaign edit", lambda b: reverse("campaigns:campaign_edit", args=[b.campaign.pk]), MARKETER),
    ("run", lambda b: reverse("campaigns:run_detail", args=[b.run.pk]), ALL),
    ("policy", lambda b: reverse("campaigns:policy"), ALL),
    ("policy edit", lambda b: reverse("campaigns:policy_edit"), MARKETER),
    ("rule check", lambda b: reverse("decisioning:rule_check") + "?rule=age", ALL),
    ("customer search", lambda b: reverse("customers:search"), PEOPLE_DATA),
    (
        "customer 360",
        lambda b: reverse("decisioning:customer_360", args=[b.customer.external_id]),
        PEOPLE_DATA,
    ),
    ("decision ledger", lambda b: reverse("decisioning:decision_list"), ALL),
    (
        "decision detail",
        lambda b: reverse("decisioning:decision_detail", args=[b.decision.pk]),
        ALL,
    ),
    (
        "explanation",
        lambda b: reverse("decisioning:decision_explain", args=[b.decision.pk]),
        ALL,
    ),
    ("approval queue", lambda b: reverse("compliance:approval_list"), COMPLIANCE),
    (
        "approval detail",
        lambda b: reverse("compliance:approval_detail", args=[b.approval.pk]),
        COMPLIANCE,
    ),
    ("audit ledger", lambda b: reverse("compliance:audit_list"), {"compliance", "admin"}),
    ("audit export", lambda b: reverse("compliance:audit_export", args=["csv"]), COMPLIANCE),
    ("erasure", lambda b: reverse("decisioning:erasure_list"), COMPLIANCE),
]

# (name, url builder, POST data, roles that may do it). Refusals never reach the service.
ACTIONS = [
    (
        "approve",
        lambda b: reverse("compliance:approval_detail", args=[b.approval.pk]),
        {"action": "approve"},
        COMPLIANCE,
    ),
    ("verify ledger", lambda b: reverse("compliance:ledger_verify"), {}, {"compliance", "admin"}),
    (
        "add suppression",
        lambda b: reverse("compliance:suppression_add", args=[b.customer.external_id]),
        {"scope": "all", "reason": "complaint"},
        COMPLIANCE,
    ),
    (
        "consent change",
        lambda b: reverse("decisioning:consent_change", args=[b.customer.external_id]),
        {"channel": "sms", "status": "revoked", "source": "phone"},
        COMPLIANCE,
    ),
    (
        "erase",
        lambda b: reverse("decisioning:erasure_list"),
        {"external_id": "nobody", "confirm": "nobody"},
        COMPLIANCE,
    ),
    (
        "pause campaign",
        lambda b: reverse("campaigns:campaign_action", args=[b.campaign.pk, "pause"]),
        {},
        MARKETER,
    ),
    (
        "retire offer",
        lambda b: reverse("offers:offer_transition", args=[b.offer.pk, "pause"]),
        {},
        MARKETER,
    ),
    (
        "submit content",
        lambda b: reverse("offers:content_submit", args=[b.content.pk]),
        {},
        MARKETER,
    ),
    (
        "start run",
        lambda b: reverse("decisioning:run_start", args=[b.campaign.pk]),
        {},
        MARKETER,
    ),
]

PERSONAS = ("marketer", "compliance", "analyst", "admin", "outsider")


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_page_admits_its_roles_and_refuses_the_others(client, bank, people, page, persona):
    name, url, allowed = page
    client.force_login(people[persona])
    response = client.get(url(bank))
    expected = 200 if persona in allowed else 403
    assert response.status_code == expected, f"{persona} on {name}"


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
def test_anonymous_visitors_are_sent_to_login(client, bank, page):
    _name, url, _allowed = page
    target = url(bank)
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


REFUSALS = [
    (action, persona) for action in ACTIONS for persona in PERSONAS if persona not in action[3]
]


@pytest.mark.parametrize(("action", "persona"), REFUSALS, ids=[f"{a[0]}-{p}" for a, p in REFUSALS])
def test_actions_are_refused_to_other_roles(client, bank, people, action, persona):
    """The allowed roles are exercised by each screen's own tests."""
    name, url, data, _allowed = action
    client.force_login(people[persona])
    response = client.post(url(bank), data)
    assert response.status_code == 403, f"{persona} doing {name}"


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
