"""The seeded customers look like a retail bank's, and their history is learnable."""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict

import numpy as np
import pytest
from django.db.models import Count, Max, Min
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact
from customers.choices import IdentifierType, LinkMethod
from customers.models import Customer, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from decisioning.choices import Outcome
from decisioning.models import Response
from demo.catalog import CURRENT_ACCOUNT
from demo.population import ABROAD_TIME_ZONES, REGIONS
from offers.choices import ProductFamily
from offers.models import Product
from tests.demo.conftest import AS_OF, SHARED_CUSTOMERS

pytestmark = pytest.mark.django_db

INCOME_BANDS = ("low", "middle", "high", "affluent")


def age_at(birth: datetime.date, day: datetime.date = AS_OF) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_customers_have_believable_profiles(seeded_bank):
    customers = list(Customer.objects.all())
    assert len(customers) == SHARED_CUSTOMERS
    ages = [age_at(c.birth_date) for c in customers]
    assert min(ages) >= 18 and max(ages) <= 90
    assert 38 <= float(np.mean(ages)) <= 52
    for customer in customers:
        assert customer.customer_since <= AS_OF
        assert age_at(customer.birth_date, customer.customer_since) >= 17
        _share, region_time_zone, branches = REGIONS[customer.region]
        assert customer.branch_code in branches
        assert customer.time_zone in (region_time_zone, *ABROAD_TIME_ZONES)
        assert customer.pseudonym == pseudonym_for(customer.external_id)
        assert customer.income_band in INCOME_BANDS
        assert customer.risk_band in ("low", "medium", "high")
        assert {"segment", "balance", "digital_active"} <= customer.attributes.keys()
    assert {c.region for c in customers} == set(REGIONS)
    assert "Atlantic/Azores" in {c.time_zone for c in customers}
    bands = Counter(c.income_band for c in customers)
    assert all(bands[band] > 0 for band in INCOME_BANDS)
    salaried = sum("salary" in c.attributes for c in customers) / len(customers)
    assert 0.5 < salaried < 0.9


def _holders(code: str) -> set[int]:
    return set(
        Holding.objects.filter(product_code=code, closed_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def test_holdings_are_drawn_with_correlations(seeded_bank):
    customers = {c.pk: c for c in Customer.objects.all()}
    n = len(customers)
    assert len(_holders(CURRENT_ACCOUNT)) / n > 0.9

    mortgage = _holders("MORTGAGE_VARIABLE") | _holders("MORTGAGE_FIXED")
    prime = {
        pk
        for pk, c in customers.items()
        if 30 <= age_at(c.birth_date) <= 55 and c.income_band in ("high", "affluent")
    }
    others = set(customers) - prime
    assert len(mortgage & prime) / len(prime) > 2 * len(mortgage & others) / len(others)

    card = _holders("CLASSIC_CARD") | _holders("GOLD_CARD")
    salaried = {pk for pk, c in customers.items() if "salary" in c.attributes}
    unsalaried = set(customers) - salaried
    assert len(card & salaried) / len(salaried) > 1.5 * len(card & unsalaried) / len(unsalaried)

    home_insured = _holders("HOME_INSURANCE")
    assert len(home_insured & mortgage) / len(mortgage) > 0.5

    catalog = set(Product.objects.values_list("code", flat=True))
    held = set(Holding.objects.values_list("product_code", flat=True))
    assert held - catalog == {CURRENT_ACCOUNT, "DEBIT_CARD"}
    assert Holding.objects.filter(closed_at__isnull=False).exists()


def test_identity_links_are_deterministic_or_probabilistic_with_a_confidence(seeded_bank):
    links = IdentityLink.objects.all()
    per_customer = (
        links.filter(type=IdentifierType.ACCOUNT_NUMBER).values("customer").annotate(n=Count("pk"))
    )
    assert per_customer.count() == SHARED_CUSTOMERS
    assert links.filter(type=IdentifierType.CARD_TOKEN).exists()
    assert not links.filter(method=LinkMethod.DETERMINISTIC).exclude(confidence=1.0).exists()
    devices = links.filter(type=IdentifierType.DEVICE_ID)
    assert set(devices.values_list("method", flat=True)) == {LinkMethod.PROBABILISTIC}
    span = devices.aggregate(low=Min("confidence"), high=Max("confidence"))
    assert 0.8 <= span["low"] < 0.9 <= span["high"] <= 0.99


def test_consents_are_a_mix_per_channel_with_opt_outs_and_do_not_contact(seeded_bank):
    statuses = Counter(Consent.objects.values_list("channel", "status"))
    for channel in ("push", "sms", "email"):
        granted = statuses[(channel, ConsentStatus.GRANTED)]
        revoked = statuses[(channel, ConsentStatus.REVOKED)]
        assert 0.3 * SHARED_CUSTOMERS < granted < 0.85 * SHARED_CUSTOMERS
        assert revoked > 0.03 * SHARED_CUSTOMERS
    opt_outs = statuses[(ConsentChannel.ALL, ConsentStatus.REVOKED)]
    assert 0.005 * SHARED_CUSTOMERS < opt_outs < 0.1 * SHARED_CUSTOMERS
    assert 0 < DoNotContact.objects.count() < 0.02 * SHARED_CUSTOMERS
    assert not Consent.objects.filter(
        captured_at__gte=datetime.datetime(2025, 6, 2, tzinfo=datetime.UTC)
    ).exists()


def test_response_history_lies_in_the_months_before_as_of(seeded_bank):
    responses = Response.objects.all()
    assert responses.count() > SHARED_CUSTOMERS
    assert not responses.filter(decision__isnull=False).exists()
    assert not responses.filter(message__isnull=False).exists()
    span = responses.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    midnight = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
    assert span["last"] < midnight
    assert span["first"] > midnight - datetime.timedelta(days=200)
    outcomes = Counter(responses.values_list("outcome", flat=True))
    assert {Outcome.ACCEPT, Outcome.DECLINE, Outcome.DISMISS, Outcome.IMPRESSION} <= outcomes.keys()
    # No marketing history for customers who opted out of everything.
    opted_out = Consent.objects.filter(channel="all", status="revoked").values("customer")
    assert not responses.filter(customer__in=opted_out).exists()
    # Outbound responses only where the customer granted that channel.
    for channel in ("push", "sms", "email"):
        granted = Consent.objects.filter(channel=channel, status="granted").values("customer")
        assert not responses.filter(channel=channel).exclude(customer__in=granted).exists()


def test_base_acceptance_rates_are_those_of_a_bank(seeded_bank):
    rates = defaultdict(lambda: [0, 0])
    for product, outcome in Response.objects.values_list("offer__product__code", "outcome"):
        rates[product][0] += outcome == Outcome.ACCEPT
        rates[product][1] += 1
    overall = sum(a for a, _ in rates.values()) / sum(n for _, n in rates.values())
    assert 0.03 < overall < 0.12
    for product, (accepted, shown) in rates.items():
        if shown >= 300:
            assert 0.005 < accepted / shown < 0.25, product


def _features(customer: Customer, held: set[str], families: set[str]) -> list[float]:
    attributes = customer.attributes
    return [
        age_at(customer.birth_date),
        (AS_OF - customer.customer_since).days / 30.44,
        *(customer.income_band == band for band in INCOME_BANDS),
        customer.risk_band == "high",
        attributes.get("salary", 0),
        attributes.get("children", 0),
        *(family in families for family in ProductFamily.values),
        *(code in held for code in ("OVERDRAFT", "CLASSIC_CARD", "TRAVEL_CARD", "LIFE_INSURANCE")),
    ]


def test_acceptance_depends_learnably_on_profile_and_holdings(seeded_bank):
    """A tiny logistic regression on the stored rows beats chance clearly."""
    accepted = Counter(
        Response.objects.filter(outcome=Outcome.ACCEPT).values_list(
            "offer__product__code", flat=True
        )
    )
    product = accepted.most_common(1)[0][0]
    assert accepted[product] >= 60
    families = dict(Product.objects.values_list("code", "family"))
    held: dict[int, set[str]] = defaultdict(set)
    for customer_id, code in Holding.objects.filter(closed_at__isnull=True).values_list(
        "customer_id", "product_code"
    ):
        held[customer_id].add(code)
    customers = Customer.objects.in_bulk()
    rows, labels = [], []
    for customer_id, outcome in Response.objects.filter(offer__product__code=product).values_list(
        "customer_id", "outcome"
    ):
        codes = held[customer_id]
        rows.append(_features(customers[customer_id], codes, {families.get(c) for c in codes}))
        labels.append(outcome == Outcome.ACCEPT)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    auc = cross_val_score(
        model, np.array(rows, dtype=float), np.array(labels), cv=folds, scoring="roc_auc"
    )
    assert auc.mean() > 0.65, f"{product}: cross-validated AUC {auc.mean():.3f}"


@pytest.mark.django_db
def test_nothing_seeded_is_captured_after_the_seeds_now(seeded_bank):
    """The seed's "now" is the start of its as-of day: a consent or response stamped later
    that day would outrank a real change made earlier that day (a revoke ignored)."""
    from compliance.models import Consent
    from decisioning.models import Contact, Response
    from demo.seed import bank_midnight_utc

    now = bank_midnight_utc(AS_OF)
    assert not Consent.objects.filter(captured_at__gt=now).exists()
    assert not Response.objects.filter(occurred_at__gt=now).exists()
    assert not Contact.objects.filter(released_at__gt=now).exists()
