"""The results screens: figures, charts drawn inline, a clear refusal of bad ranges, and a
fixed number of queries however many days and decisions lie behind them."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from results.services import kpis_compute_day
from tests.factories import persona
from tests.results.builders import DAY, build_results_bank

RANGE = {"since": DAY.isoformat(), "until": DAY.isoformat()}


@pytest.fixture
def bank(db):
    bank = build_results_bank()
    kpis_compute_day(actor="system:tests", day=DAY)
    return bank


@pytest.fixture
def analyst(db):
    return persona("analyst", "analyst")


def test_campaign_results_show_lift_with_its_interval_and_svg_charts(client, bank, analyst):
    client.force_login(analyst)
    response = client.get(reverse("results:campaign", args=[bank.campaign.pk]), RANGE)
    assert response.status_code == 200
    page = response.content.decode()
    # lift 5/15 - 1/8 = +20.8 pp; offers released 15; opt-outs 1 of 15
    assert "+20.8 pp" in page and "95 % CI" in page
    assert 'Results of <span class="mono">FUEL</span>' in page
    assert page.count("<svg") >= 4  # daily, channels, lift, three segment plots
    assert "http://" not in page.split("<body", 1)[1] and "https://" not in page
    assert "35-44" in page and "under 25" in page
    assert "6.67 %" in page  # opt-out rate 1/15


def test_dashboard_filters_by_campaign_and_channel(client, bank, analyst):
    client.force_login(analyst)
    response = client.get(reverse("results:dashboard"), {**RANGE, "campaign": "NBO"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "75.0 %" in page  # 3 of 4 inbound decisions presented
    assert "no control-group decisions in this range" in page


def test_the_forms_blank_choices_mean_no_filter(client, bank, analyst):
    client.force_login(analyst)
    everything = client.get(reverse("results:dashboard"), RANGE)
    blank = client.get(reverse("results:dashboard"), {**RANGE, "campaign": "", "channel": ""})
    assert blank.status_code == 200
    assert "may not be blank" not in blank.content.decode()
    assert blank.content.decode().count("<svg") == everything.content.decode().count("<svg")


def test_a_reversed_range_is_explained_not_shown_as_empty(client, bank, analyst):
    client.force_login(analyst)
    response = client.get(
        reverse("results:dashboard"), {"since": "2025-03-10", "until": "2025-03-01"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "the range is reversed" in page
    assert "No offer was released" not in page


def test_a_bad_date_is_named(client, bank, analyst):
    client.force_login(analyst)
    response = client.get(reverse("results:dashboard"), {"since": "10/03/2025"})
    assert response.status_code == 400
    assert "is not a date; give YYYY-MM-DD" in response.content.decode()


def test_an_unknown_campaign_page_is_404(client, bank, analyst):
    client.force_login(analyst)
    assert client.get(reverse("results:campaign", args=[999_999])).status_code == 404


def test_people_without_a_console_role_are_refused(client, bank):
    client.force_login(persona("outsider"))
    assert client.get(reverse("results:dashboard")).status_code == 403


def _queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_results_pages_run_a_fixed_number_of_queries(
    client, bank, analyst, django_assert_max_num_queries
):
    """Session, user and roles (3), the campaign picker, then the report's seven grouped
    queries and the offers of the uplift table: the same with one day or sixty computed."""
    client.force_login(analyst)
    url = reverse("results:dashboard")
    few = _queries(client, url, RANGE)
    for offset in range(1, 60):
        kpis_compute_day(actor="system:tests", day=DAY - datetime.timedelta(days=offset))
    wide = {"since": (DAY - datetime.timedelta(days=59)).isoformat(), "until": DAY.isoformat()}
    many = _queries(client, url, wide)
    assert few == many
    with django_assert_max_num_queries(12):
        client.get(url, wide)
    campaign_url = reverse("results:campaign", args=[bank.campaign.pk])
    with django_assert_max_num_queries(12):
        assert client.get(campaign_url, wide).status_code == 200
