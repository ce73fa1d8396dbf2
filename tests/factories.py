"""factory_boy factories for every model the tests build, and the named personas."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign, CampaignOffer
from compliance.choices import ConsentStatus
from compliance.models import Consent
from customers.models import Customer, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from offers.choices import OfferKind, OfferStatus, ProductFamily
from offers.models import Offer, OfferContent, Product

# Zones spread round the clock: whenever a test runs, one of them is in working hours.
_ZONES = (
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Lisbon",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Auckland",
)


def daytime_zone(now: datetime.datetime | None = None) -> str:
    """A time zone where it is now between 10:00 and 18:00: far from the default quiet
    hours (21:00-08:00) and from midnight, for tests that send push or SMS on the real
    clock."""
    from zoneinfo import ZoneInfo

    now = now or timezone.now()
    for name in _ZONES:
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError(f"no zone in working hours at {now.isoformat()}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@bank.example")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                self.groups.add(Group.objects.get(name=name))


def persona(name: str, *groups: str) -> User:
    """Named people for permission tests: maker, checker, agent, outsider."""
    return UserFactory(username=name, groups=list(groups))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:07d}")
    pseudonym = factory.LazyAttribute(lambda o: pseudonym_for(o.external_id))
    first_name = "Ana"
    last_name = factory.Sequence(lambda n: f"Silva{n}")
    email = factory.LazyAttribute(lambda o: f"{o.external_id.lower()}@mail.example")
    phone = factory.Sequence(lambda n: f"+3519{n:08d}")
    birth_date = datetime.date(1985, 4, 12)
    customer_since = datetime.date(2015, 6, 1)
    region = "Lisbon"
    branch_code = "LIS01"
    time_zone = "Europe/Lisbon"
    risk_band = "low"
    income_band = "middle"
    attributes = factory.LazyFunction(lambda: {"salary": 2500})


class HoldingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holding

    customer = factory.SubFactory(CustomerFactory)
    product_code = "CURRENT_ACCOUNT"
    opened_at = datetime.date(2016, 1, 1)


class IdentityLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdentityLink

    customer = factory.SubFactory(CustomerFactory)
    type = "card_token"
    value = factory.Sequence(lambda n: f"tok_{n:010d}")


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    customer = factory.SubFactory(CustomerFactory)
    channel = "sms"
    status = ConsentStatus.GRANTED
    source = "onboarding"
    captured_at = factory.LazyFunction(timezone.now)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PRODUCT_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    family = ProductFamily.CARDS
    annual_value = Decimal("120.00")
    is_credit = False


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer
        django_get_or_create = ("code",)

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"OFFER_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    kind = OfferKind.SALES
    status = OfferStatus.ACTIVE
    lever = Decimal("1.000")


class OfferContentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfferContent

    offer = factory.SubFactory(OfferFactory)
    channel = "sms"
    version = 1
    headline = "A card that pays you back"
    body = "Get 2% cashback on fuel. Reply STOP to opt out."
    call_to_action = "Apply now"
    disclosure = ""
    content_hash = factory.Sequence(lambda n: f"{n:064x}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CAMPAIGN_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    kind = CampaignKind.REALTIME
    status = CampaignStatus.RUNNING
    channels = factory.LazyFunction(lambda: ["push", "sms", "email"])
    control_group_pct = Decimal("10")


class CampaignOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignOffer

    campaign = factory.SubFactory(CampaignFactory)
    offer = factory.SubFactory(OfferFactory)
