"""GET /api/v1/kpis/: the figures of the exact day, roles, and every bad filter a 400."""

from __future__ import annotations

import pytest

from results.services import kpis_compute_day
from tests.api.conftest import error_of
from tests.results.builders import DAY, build_results_bank

URL = "/api/v1/kpis/"


@pytest.fixture
def bank(db):
    bank = build_results_bank()
    kpis_compute_day(actor="system:tests", day=DAY)
    return bank


def test_marketer_reads_the_campaigns_kpis_and_lift(make_api, bank):
    response = make_api("marketer").get(
        URL, {"campaign": "FUEL", "since": DAY.isoformat(), "until": DAY.isoformat()}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["offers_released"], body["conversions"], body["duplicates_prevented"]) == (
        15,
        5,
        2,
    )
    assert body["acceptance_rate"] == pytest.approx(4 / 15, abs=1e-6)
    assert body["opt_out_rate"] == pytest.approx(1 / 15, abs=1e-6)
    assert body["revenue"] == "500.00" and body["revenue_per_customer"] == "31.25"
    assert (body["days"], body["days_computed"], body["attribution_days"]) == (1, 1, 30)
    lift = body["lift"]
    assert lift["measurable"] and lift["treated"]["decisions"] == 15
    assert lift["difference"] == pytest.approx(5 / 15 - 1 / 8, abs=1e-6)
    assert lift["ci95_low"] < lift["difference"] < lift["ci95_high"]
    assert 0 < lift["p_value"] < 1
    by_channel = {row["channel"]: row for row in body["by_channel"]}
    assert by_channel["sms"]["conversion_rate"] == pytest.approx(4 / 9, abs=1e-6)
    ages = {row["label"]: row for row in body["uplift"]["by_segment"]["age_band"]}
    assert ages["under 25"]["control"] == {"decisions": 4, "conversions": 0, "rate": 0.0}
    assert [row["offer"] for row in body["uplift"]["by_offer"]] == ["CARD"]
    assert body["latency_ms"]["decisions"] == 2


def test_inbound_adoption_is_served(make_api, bank):
    body = make_api("compliance").get(URL, {"campaign": "NBO", "since": DAY.isoformat(),
                                           "until": DAY.isoformat()}).json()  # fmt: skip
    adoption = body["adoption"]
    assert (adoption["decisions"], adoption["presented"], adoption["overridden"]) == (4, 3, 1)
    assert adoption["by_channel"][0]["channel"] == "branch"


@pytest.mark.parametrize("role", ["marketer", "compliance", "admin"])
def test_readers_are_let_in(make_api, bank, role):
    assert make_api(role).get(URL).status_code == 200


@pytest.mark.parametrize("role", ["channel", "analyst"])
def test_other_roles_are_refused(make_api, bank, role):
    response = make_api(role, ["sms"]).get(URL)
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"campaign": "NOPE"}, "campaign"),
        ({"offer": "NOPE"}, "offer"),
        ({"channel": "pigeon"}, "channel"),
        ({"since": "2025-13-01"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2025-03-10", "until": "2025-03-01"}, "until"),
        ({"since": "2020-01-01", "until": "2025-03-01"}, "since"),
        ({"campaign": ""}, "campaign"),
    ],
)
def test_bad_filters_are_400_in_the_contract_shape(make_api, bank, params, field):
    response = make_api("marketer").get(URL, params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"], error


def test_a_reversed_range_says_so(make_api, bank):
    error = error_of(make_api("admin").get(URL, {"since": "2025-03-10", "until": "2025-03-01"}))
    assert "reversed" in error["fields"]["until"][0]


def test_a_range_without_control_decisions_says_why_lift_is_missing(make_api, bank):
    body = make_api("marketer").get(URL, {"offer": "SAVE", "since": DAY.isoformat(),
                                          "until": DAY.isoformat()}).json()  # fmt: skip
    assert body["lift"]["measurable"] is False
    assert body["lift"]["reason"] == "no control-group decisions in this range"
    assert body["lift"]["p_value"] is None
