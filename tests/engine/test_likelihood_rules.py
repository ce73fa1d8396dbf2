"""``likelihood("PRODUCT")`` in the rule language: a band of the propensity scoring uses,
read from the snapshot's models, the same in the scalar and the vectorised evaluators."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from decisioning.engine import (
    CustomerBatch,
    DecisionRequest,
    ModelSpec,
    RuleError,
    decide,
    decide_batch,
    parse_payload_rule,
    parse_rule,
    reasons,
)
from decisioning.engine.bands import likelihood_band
from decisioning.engine.features import forest_feature_name
from decisioning.engine.rules import And, Compare, Likelihood, Not
from decisioning.engine.scoring import sigmoid
from decisioning.learning.fitting import TREES, export_forest

from .builders import NOW, PRODUCTS, campaign, customer, inbound, offer, snapshot
from .strategies import profiles

FAMILIES = {code: product.family for code, product in PRODUCTS.items()}

# SAVINGS: sigmoid(0.1 * age - 4): age 30 -> 0.27 (low), 40 -> 0.50 (target), 50 -> 0.73
SAVINGS_MODEL = ModelSpec("SAVINGS", "4", ("age",), (0.1,), intercept=-4.0)
FOREST_INPUTS = ("age", "tenure_months", "income_band=high", "holds:SAVINGS", "attributes.salary")


def held(person) -> frozenset[str]:
    return frozenset(FAMILIES[code] for code in person.holdings if code in FAMILIES)


@cache
def forest_model() -> ModelSpec:
    """An exported HistGradientBoosting model of FUND, as the trainer stores it."""
    rng = np.random.default_rng(3)
    n = 2000
    X = np.column_stack(
        [
            rng.integers(18, 80, n),
            rng.integers(0, 100, n),
            rng.random(n) < 0.4,
            rng.random(n) < 0.5,
            rng.uniform(0, 5000, n),
        ]
    ).astype(np.float64)
    logit = 0.08 * (X[:, 0] - 40) + 1.5 * X[:, 2] - 1.2 * X[:, 3] + 0.0004 * (X[:, 4] - 2500)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    fitted = HistGradientBoostingClassifier(random_state=0, **TREES).fit(X, y)
    forest, baseline = export_forest(fitted, FOREST_INPUTS)
    return ModelSpec(
        product_code="FUND",
        version="7",
        feature_names=(forest_feature_name(forest),),
        coefficients=(1.0,),
        intercept=baseline,
        calibration_a=1.1,
        calibration_b=0.1,
    )


# --- the language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bands", "canonical"),
    [
        ('likelihood("SAVINGS") >= "target"', ("priority", "target"), '>= "target"'),
        ('likelihood("SAVINGS") > "low"', ("priority", "target"), '>= "target"'),
        ('likelihood("SAVINGS") == "priority"', ("priority",), '== "priority"'),
        ('likelihood("SAVINGS") = "low"', ("low",), '== "low"'),
        ('likelihood("SAVINGS") < "priority"', ("target", "low"), '<= "target"'),
        ('likelihood("SAVINGS") != "target"', ("priority", "low"), 'in ("priority", "low")'),
        ('likelihood("SAVINGS") in ("target", "priority")', ("priority", "target"), '>= "target"'),
        ('likelihood("SAVINGS") not in ("low")', ("priority", "target"), '>= "target"'),
        ('likelihood("SAVINGS") >= "low"', ("priority", "target", "low"), '>= "low"'),
        ('LIKELIHOOD("SAVINGS") >= "target"', None, None),
    ],
)
def test_every_band_comparison_parses_to_the_bands_it_selects_and_reads_back(
    text, bands, canonical
):
    if bands is None:  # function names are not keywords: case matters, as for fields
        with pytest.raises(RuleError, match="unknown name 'LIKELIHOOD'"):
            parse_rule(text)
        return
    rule = parse_rule(text)
    assert rule.root == Likelihood("SAVINGS", bands)
    assert rule.to_text() == f'likelihood("SAVINGS") {canonical}'
    assert parse_rule(rule.to_text()) == rule
    assert rule.likelihood_products() == ("SAVINGS",)
    assert rule.fields() == frozenset()


def test_a_band_term_combines_with_the_rest_of_the_language():
    rule = parse_rule('age >= 18 and not likelihood("FUND") == "low" and holds("SAVINGS")')
    assert rule.root.children[:2] == (  # type: ignore[union-attr]
        Compare("age", ">=", 18.0, "number"),
        Not(Likelihood("FUND", ("low",))),
    )
    assert isinstance(rule.root, And)
    assert rule.likelihood_products() == ("FUND",)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ('likelihood("SAVINGS")', 21, 'a comparison with a band after likelihood("SAVINGS")'),
        (
            'likelihood("SAVINGS") >= "high"',
            25,
            'a likelihood band ("priority", "target" or "low")',
        ),
        ('likelihood("SAVINGS") >= 0.7', 25, "a likelihood band"),
        ('likelihood("SAVINGS") < "low"', 22, "which no band meets"),
        ('likelihood("SAVINGS") not in ("low", "target", "priority")', 26, "which no band meets"),
        ('likelihood("SAVINGS") in ("low", 1)', 33, "a likelihood band"),
        ("likelihood(SAVINGS) >= 'target'", 11, "a quoted product code"),
        ('likelihood("") >= "target"', 11, "a product code"),
        ('likelihood("SAVINGS" >= "target"', 21, "')' to close likelihood("),
        ('"target" <= likelihood("SAVINGS")', 12, "a field after '<='"),
    ],
)
def test_band_errors_name_the_position_and_what_was_expected(text, position, message):
    with pytest.raises(RuleError) as error:
        parse_rule(text)
    assert error.value.position == position, error.value.message
    assert message in error.value.message


def test_a_trigger_condition_refuses_the_band_term_but_keeps_a_payload_key_of_that_name():
    with pytest.raises(RuleError, match="reads the customer, not the event"):
        parse_payload_rule('likelihood("SAVINGS") >= "target"')
    condition = parse_payload_rule("likelihood > 0.5")
    assert condition.evaluate({"likelihood": 0.9}) and not condition.evaluate({"likelihood": 0.1})


def test_a_rule_reading_a_band_refuses_to_evaluate_until_bound_to_a_snapshot():
    rule = parse_rule('likelihood("SAVINGS") >= "target"')
    batch = CustomerBatch.from_contexts([customer(1)])
    with pytest.raises(LookupError, match="bind it to a snapshot"):
        rule.evaluate(customer(1), frozenset())
    with pytest.raises(LookupError, match="bind it to a snapshot"):
        rule.mask(batch.source(FAMILIES))
    plain = parse_rule("age > 3")
    assert plain.bind(snapshot([], []).likelihoods) is plain


# --- what a band reads ----------------------------------------------------------------------


@pytest.mark.parametrize(("age", "band"), [(30, "low"), (40, "target"), (50, "priority")])
def test_the_band_is_the_active_models_calibrated_propensity(age, band):
    snap = snapshot([offer("SAVE", "SAVINGS")], [], models=[SAVINGS_MODEL])
    person = customer(1, age=age)
    for wanted in ("low", "target", "priority"):
        rule = snap.bind_rule(parse_rule(f'likelihood("SAVINGS") == "{wanted}"'))
        assert rule.evaluate(person, frozenset()) == (wanted == band)
    passed, seen = snap.bind_rule(parse_rule('likelihood("SAVINGS") >= "target"')).explain(
        person, frozenset()
    )
    assert passed == (band != "low")
    assert seen["SAVINGS"].to_dict() == {
        "propensity": sigmoid(0.1 * age - 4.0),
        "band": band,
        "source": "model",
        "model_version": "4",
    }


def test_without_a_model_the_band_is_the_products_pooled_smoothed_acceptance_rate():
    offers = [
        offer("SAVE_A", "SAVINGS", prior_presented=100, prior_accepted=60),
        offer("SAVE_B", "SAVINGS", prior_presented=20, prior_accepted=14),
        offer("GOLD", "GOLD_CARD", prior_presented=100, prior_accepted=90),
    ]
    snap = snapshot(offers, [])
    rule = snap.bind_rule(parse_rule('likelihood("SAVINGS") >= "target"'))
    passed, seen = rule.explain(customer(1, age=20), frozenset())
    rate = (60 + 14 + 1) / (120 + 20)  # Beta(1, 19) prior over both SAVINGS offers
    assert seen == {"SAVINGS": (rate, "target", "prior", None)}
    assert passed
    # a product with no history at all: the prior's 5 %, low
    fund = snap.bind_rule(parse_rule('likelihood("FUND") == "low"'))
    assert fund.explain(customer(1), frozenset()) == (True, {"FUND": (0.05, "low", "prior", None)})
    # a model replaces the rate, as it does in scoring
    modelled = snapshot(offers, [], models=[SAVINGS_MODEL])
    assert not modelled.bind_rule(rule).evaluate(customer(1, age=20), frozenset())


def test_a_product_the_snapshot_does_not_know_fails_every_band_comparison():
    snap = snapshot([], [])
    for text in ('likelihood("NOPE") >= "low"', 'likelihood("NOPE") != "priority"'):
        rule = snap.bind_rule(parse_rule(text))
        assert rule.explain(customer(1), frozenset()) == (False, {"NOPE": None})
        batch = CustomerBatch.from_contexts([customer(1), customer(2)])
        assert rule.mask(batch.source(FAMILIES)).tolist() == [False, False]
    negated = snap.bind_rule(parse_rule('not likelihood("NOPE") >= "low"'))
    assert negated.evaluate(customer(1), frozenset())


def test_equal_rules_are_bound_once_per_snapshot_and_share_its_models():
    text = 'likelihood("SAVINGS") >= "target"'
    snap = snapshot(
        [offer("SAVE", "SAVINGS", eligibility=text), offer("FUND_O", "FUND", eligibility=text)],
        [campaign(1, ["SAVE", "FUND_O"], audience=text)],
        models=[SAVINGS_MODEL],
    )
    eligibility = snap.offers["SAVE"].eligibility
    assert eligibility is snap.offers["FUND_O"].eligibility is snap.campaigns[1].audience
    assert eligibility.likelihoods is snap.likelihoods
    assert snap.likelihoods.evaluators["SAVINGS"] is snap.evaluators["SAVINGS"]


# --- scalar == vectorised -----------------------------------------------------------------------

BAND_RULES = (
    'likelihood("SAVINGS") >= "target"',
    'likelihood("FUND") == "priority"',
    'likelihood("FUND") in ("priority", "low") or likelihood("SAVINGS") == "low"',
    'not likelihood("FUND") <= "target" and age >= 18',
    'likelihood("GOLD_CARD") == "low" and likelihood("FUND") != "low"',
)


@st.composite
def band_people(draw: st.DrawFn) -> list:
    """Customers whose model inputs vary (ages around the SAVINGS thresholds, salaries,
    holdings), plus the strategies' odd profiles (missing and mistyped values)."""
    size = draw(st.integers(1, 12))
    people = []
    for i in range(size):
        fields = draw(profiles(customer_id=i + 1))
        if draw(st.booleans()):
            fields["age"] = draw(st.sampled_from((29, 30, 39, 40, 41, 49, 50, 51, 70)))
            fields["attributes"] = {"salary": draw(st.floats(0, 6000))}
            fields["income_band"] = draw(st.sampled_from(("high", "low", None)))
        people.append(customer(**fields))
    return people


@given(st.sampled_from(BAND_RULES), band_people())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_scalar_and_vectorised_band_verdicts_agree_with_a_logistic_and_a_forest_model(text, people):
    snap = snapshot(
        [offer("GOLD", prior_presented=10, prior_accepted=9)],
        [],
        models=[SAVINGS_MODEL, forest_model()],
    )
    rule = snap.bind_rule(parse_rule(text))
    batch = CustomerBatch.from_contexts(people, product_codes=tuple(PRODUCTS))
    expected = [rule.evaluate(person, held(person)) for person in people]
    assert rule.mask(batch.source(FAMILIES)).tolist() == expected
    # and the bands are the ones scoring's propensities give
    fund = snap.evaluators["FUND"]
    for person in people:
        _, seen = rule.explain(person, held(person))
        if "FUND" in seen:
            assert seen["FUND"].band == likelihood_band(fund.propensity(person, held(person)))


def test_the_forest_model_puts_customers_in_more_than_one_band():
    """Guards the agreement test above: it must see the bands differ across customers."""
    fund = forest_model()
    snap = snapshot([], [], models=[fund])
    people = [
        customer(i, age=age, income_band=band, attributes={"salary": salary})
        for i, (age, band, salary) in enumerate(
            [(20, "low", 500), (45, "high", 2500), (75, "high", 4800), (60, "low", 3000)], 1
        )
    ]
    batch = CustomerBatch.from_contexts(people, product_codes=tuple(PRODUCTS))
    seen = {
        band: snap.bind_rule(parse_rule(f'likelihood("FUND") == "{band}"'))
        .mask(batch.source(FAMILIES))
        .sum()
        for band in ("low", "target", "priority")
    }
    assert seen["low"] >= 1 and seen["priority"] >= 1


@given(band_people())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decide_batch_and_decide_agree_on_a_campaign_targeting_by_band(people):
    snap = snapshot(
        [
            offer("SAVE", "SAVINGS"),
            offer("FUND_O", "FUND", eligibility='likelihood("FUND") >= "target"'),
        ],
        [
            campaign(
                7,
                ["SAVE", "FUND_O"],
                kind="batch",
                channels=("email", "push"),
                audience='likelihood("SAVINGS") != "low" or likelihood("FUND") == "priority"',
            )
        ],
        models=[SAVINGS_MODEL, forest_model()],
    )
    request = DecisionRequest(mode="batch", now=NOW, campaign_ids=frozenset({7}), max_offers=2)
    result = decide_batch(snap, CustomerBatch.from_contexts(people), request, chunk_size=5)
    for row, person in enumerate(people):
        decision = decide(snap, person, request)
        assert result.outcome_of(row) == decision.outcome, decision.to_dict()["candidates"]
        assert [code for code, *_ in result.offers_of(row)] == [
            o.offer_code for o in decision.offers
        ]


# --- the verdict says what it saw -----------------------------------------------------------------


def test_the_audience_and_eligibility_verdicts_record_the_propensity_and_band_they_saw():
    snap = snapshot(
        [offer("SAVE", "SAVINGS", eligibility='likelihood("SAVINGS") == "priority"')],
        [campaign(1, ["SAVE"], audience='likelihood("SAVINGS") >= "target" and age > 18')],
        models=[SAVINGS_MODEL],
    )
    result = decide(snap, customer(1, age=45), inbound())
    decision = result.to_dict()
    verdicts = {v["rule"]: v for v in decision["verdicts"]}
    propensity = sigmoid(0.1 * 45 - 4.0)
    seen = {"propensity": propensity, "band": "target", "source": "model", "model_version": "4"}
    audience = verdicts[reasons.NOT_IN_AUDIENCE]
    assert audience["passed"]
    assert audience["detail"]["values"] == {"age": 45, "likelihood": {"SAVINGS": seen}}
    eligibility = verdicts[reasons.INELIGIBLE]
    assert not eligibility["passed"]
    assert eligibility["detail"] == {
        "rule": 'likelihood("SAVINGS") == "priority"',
        "values": {"likelihood": {"SAVINGS": seen}},
    }
    assert decision["outcome"] == reasons.INELIGIBLE
    # the stored (compact) form keeps the same values with the verdict
    stored = [row[2] for row in result.to_compact()["verdicts"] if row[0] == reasons.INELIGIBLE]
    assert stored == [eligibility["detail"]]
