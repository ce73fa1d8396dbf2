"""Targeting by likelihood band: rules naming ``likelihood("PRODUCT")`` are checked when
saved, the builder counts them with the registry's active models and shows the bands."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.services import campaign_create
from compliance.versioning import bump_catalog_version
from core.exceptions import ValidationFailed
from customers.models import Customer
from decisioning.choices import ModelStatus
from decisioning.decisions.dry_run import audience_count, forget_frame
from decisioning.decisions.snapshots import snapshots
from decisioning.engine import likelihood_band, parse_rule
from decisioning.engine.scoring import sigmoid
from decisioning.models import PropensityModel
from offers.models import Product
from offers.services import offer_create, offer_update, product_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

AGES = (25, 35, 40, 45, 55, 65)


@pytest.fixture(autouse=True)
def _fresh_caches():
    forget_frame()
    snapshots.clear()
    yield
    forget_frame()
    snapshots.clear()


@pytest.fixture
def catalog(maker):
    card = product_create(actor=maker, code="CARD", name="Card", family="cards", annual_value=100)
    save = product_create(
        actor=maker, code="SAVE", name="Savings", family="deposits", annual_value=50
    )
    loan = product_create(
        actor=maker, code="LOAN", name="Loan", family="loans", annual_value=300, is_credit=True
    )
    return {
        "card": offer_create(actor=maker, product=card, code="CARD_OFFER", name="Card offer"),
        "save": offer_create(actor=maker, product=save, code="SAVE_OFFER", name="Savings"),
        "loan": offer_create(actor=maker, product=loan, code="LOAN_OFFER", name="Loan offer"),
    }


def _campaign(maker, offers, audience_rule):
    return campaign_create(
        actor=maker,
        code="BANDS",
        name="By band",
        kind="batch",
        channels=["sms"],
        offers=[{"offer": offer} for offer in offers],
        audience_rule=audience_rule,
    )


def _active_model(product_code: str) -> PropensityModel:
    """sigmoid(0.1 * age - 4): 25 and 35 low, 40 and 45 target, 55 and 65 priority."""
    model = PropensityModel.objects.create(
        product=Product.objects.get(code=product_code),
        version=3,
        status=ModelStatus.ACTIVE,
        feature_names=["age"],
        coefficients=[0.1],
        intercept=-4.0,
        calibration={"a": 1.0, "b": 0.0},
        auc=0.7,
        trained_at=timezone.now(),
        trained_by="test",
    )
    bump_catalog_version()  # what activation does, so the snapshot is rebuilt
    return model


def _age(customer: Customer) -> int:
    today = timezone.now().date()
    born = customer.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- saved rules -----------------------------------------------------------------------------


def test_an_audience_rule_naming_an_unknown_product_is_refused_with_its_position(maker, catalog):
    rule = 'age > 18 and likelihood("NOPE") >= "target"'
    quoted = '"NOPE"'  # the position of the quoted code, as the parser names strings
    with pytest.raises(ValidationFailed) as error:
        _campaign(maker, [catalog["card"]], rule)
    assert error.value.fields == {
        "audience_rule": [
            f'unknown product code "NOPE" in likelihood(...) at position {rule.index(quoted)}'
        ]
    }
    campaign = _campaign(maker, [catalog["card"]], 'likelihood("SAVE") >= "target"')
    assert campaign.audience_rule == 'likelihood("SAVE") >= "target"'


def test_an_audience_rule_with_a_band_error_is_refused_with_the_parsers_position(maker, catalog):
    with pytest.raises(ValidationFailed) as error:
        _campaign(maker, [catalog["card"]], 'likelihood("SAVE") >= "hot"')
    (message,) = error.value.fields["audience_rule"]
    assert (
        "position 22" in message and 'a likelihood band ("priority", "target" or "low")' in message
    )


def test_an_eligibility_rule_naming_an_unknown_product_is_refused(maker, catalog):
    with pytest.raises(ValidationFailed) as error:
        offer_create(
            actor=maker,
            product=catalog["card"].product,
            code="CARD_2",
            name="Card 2",
            eligibility_rule="likelihood('CARDX') == 'priority'",
        )
    assert error.value.fields == {
        "eligibility_rule": ['unknown product code "CARDX" in likelihood(...) at position 11']
    }
    offer = offer_update(
        actor=maker,
        offer=catalog["card"],
        data={"eligibility_rule": 'likelihood("CARD") == "priority"'},
    )
    assert offer.eligibility_rule == 'likelihood("CARD") == "priority"'


def test_credit_offers_are_never_targeted_by_a_non_credit_products_likelihood(maker, catalog):
    """A non-credit product's model may read protected attributes; a credit product's
    model never does, so only credit bands may target credit offers."""
    with pytest.raises(ValidationFailed) as error:
        _campaign(maker, [catalog["loan"], catalog["card"]], 'likelihood("SAVE") >= "target"')
    assert error.value.fields == {
        "audience_rule": [
            "reads the likelihood of non-credit product(s) SAVE with credit offer(s) LOAN_OFFER"
        ]
    }
    with pytest.raises(ValidationFailed) as error:
        offer_update(
            actor=maker,
            offer=catalog["loan"],
            data={"eligibility_rule": 'likelihood("CARD") != "low"'},
        )
    assert error.value.fields == {
        "eligibility_rule": ["reads the likelihood of non-credit product(s): CARD"]
    }
    assert _campaign(maker, [catalog["loan"]], 'likelihood("LOAN") >= "target"').pk
    # a campaign without credit offers may read any product's band
    assert campaign_create(
        actor=maker,
        code="BANDS_2",
        name="By band 2",
        kind="batch",
        channels=["sms"],
        offers=[{"offer": catalog["card"]}],
        audience_rule='likelihood("SAVE") >= "target" or likelihood("LOAN") == "priority"',
    ).pk


# --- the builder's count ---------------------------------------------------------------------


def test_the_builder_counts_a_band_rule_with_the_active_model_and_shows_each_bands_share(
    client, maker, catalog
):
    for age in AGES:
        CustomerFactory(birth_date=f"{timezone.now().year - age}-01-01")
    _active_model("SAVE")
    bands = {c.pk: likelihood_band(sigmoid(0.1 * _age(c) - 4.0)) for c in Customer.objects.all()}
    assert set(bands.values()) == {"low", "target", "priority"}  # the ages span every band

    count = audience_count(rule_text='likelihood("SAVE") >= "target"')
    assert count.matched == sum(1 for band in bands.values() if band != "low")
    assert count.total == len(bands)
    (save,) = count.bands
    assert (save.product_code, save.source, save.model_version) == ("SAVE", "model", "3")
    assert dict(save.counts) == {
        band: sum(1 for b in bands.values() if b == band) for band in ("priority", "target", "low")
    }
    exactly = audience_count(rule_text='likelihood("SAVE") == "target" and age < 44')
    assert exactly.matched == sum(
        1 for c in Customer.objects.all() if bands[c.pk] == "target" and _age(c) < 44
    )

    client.force_login(maker)
    body = client.get(
        reverse("decisioning:audience_count"),
        {"audience_rule": 'likelihood("SAVE") >= "target"'},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert f'data-testid="audience-count">{count.matched}<' in body
    shares = re.sub(
        r"<[^>]+>", "", body.split('data-testid="likelihood-bands">')[1].split("</div>")[0]
    )
    priority = dict(save.counts)["priority"]
    assert f"Likelihood of SAVE (model v3) — priority {priority} (" in shares
    assert f"of {len(bands)} customers" in shares


def test_without_a_usable_model_the_builder_counts_by_the_products_smoothed_rate(maker, catalog):
    for age in AGES:
        CustomerFactory(birth_date=f"{timezone.now().year - age}-01-01")
    # no model: SAVE's offers have no history, so every customer is at the 5 % prior
    count = audience_count(rule_text='likelihood("SAVE") == "low"')
    assert count.matched == count.total == len(AGES)
    assert (count.bands[0].source, dict(count.bands[0].counts)["low"]) == ("prior", len(AGES))
    # a retired model is not read either
    model = _active_model("SAVE")
    model.status = ModelStatus.RETIRED
    model.save(update_fields=["status"])
    bump_catalog_version()
    forget_frame()
    assert audience_count(rule_text='likelihood("SAVE") == "low"').matched == len(AGES)


def test_the_count_agrees_with_the_engines_scalar_verdict_customer_by_customer(maker, catalog):
    """The builder's vectorised count and a decision's scalar verdict read the same model."""
    from decisioning.decisions.context import load_context
    from decisioning.decisions.snapshots import current_snapshot

    for age in AGES:
        CustomerFactory(birth_date=f"{timezone.now().year - age}-06-15")
    _active_model("SAVE")
    text = 'likelihood("SAVE") >= "target" and not likelihood("CARD") == "priority"'
    snapshot = current_snapshot().engine
    rule = snapshot.bind_rule(parse_rule(text))
    scalar = 0
    for customer in Customer.objects.all():
        context = load_context(customer, now=timezone.now(), policy=snapshot.policy)
        scalar += rule.evaluate(context, snapshot.held_families(context.holdings))
    assert audience_count(rule_text=text).matched == scalar > 0


def test_the_builder_lists_the_band_term_and_the_product_codes_in_its_rule_help(
    client, maker, catalog
):
    client.force_login(maker)
    page = client.get(reverse("campaigns:campaign_create")).content.decode()
    help_block = page.split('data-testid="rule-help"')[1].split("</details>")[0]
    assert 'likelihood("PRODUCT") &gt;= "target"' in help_block
    assert "<strong>priority</strong> at 70 % or more" in help_block
    for code in ("CARD", "LOAN", "SAVE"):
        assert f">{code}</code>" in help_block
    status = client.get(
        reverse("decisioning:rule_check"), {"audience_rule": 'likelihood("SAVE") >= "target"'}
    ).content.decode()
    assert "Reads the likelihood band of <code>SAVE</code>" in status
