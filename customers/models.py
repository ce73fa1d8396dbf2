"""The customer data layer: profiles, holdings, identities and incoming signals."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import Channel
from customers.choices import EventStatus, IdentifierType, IncomeBand, LinkMethod, RiskBand


def default_time_zone() -> str:
    return settings.BANK_TIME_ZONE


class Customer(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    # Keyed hash of external_id: the only way the audit ledger names a customer.
    pseudonym = models.CharField(max_length=64, unique=True, editable=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    customer_since = models.DateField(null=True, blank=True)
    region = models.CharField(max_length=64, blank=True)
    branch_code = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=64, default=default_time_zone)
    risk_band = models.CharField(max_length=16, choices=RiskBand.choices, blank=True)
    income_band = models.CharField(max_length=16, choices=IncomeBand.choices, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_band__in=[*RiskBand.values, ""]), name="customer_risk_band_valid"
            ),
            models.CheckConstraint(
                condition=Q(income_band__in=[*IncomeBand.values, ""]),
                name="customer_income_band_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class Holding(models.Model):
    """A product the customer holds, by the bank's product code (offers sit above us)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="holdings")
    product_code = models.CharField(max_length=32)
    opened_at = models.DateField(null=True, blank=True)
    closed_at = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product_code"],
                condition=Q(closed_at__isnull=True),
                name="holding_one_open_per_product",
            ),
        ]
        indexes = [models.Index(fields=["product_code"], name="holding_product_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.product_code}"


class IdentityLink(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    type = models.CharField(max_length=20, choices=IdentifierType.choices)
    value = models.CharField(max_length=256)
    method = models.CharField(
        max_length=16, choices=LinkMethod.choices, default=LinkMethod.DETERMINISTIC
    )
    confidence = models.FloatField(default=1.0)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The context's "which addresses reach this customer" reads a customer's links of
            # a few types; without it PostgreSQL may AND the customer index with the
            # (type, value) index and scan every link of those types (40 ms at 550k links).
            models.Index(fields=["customer", "type"], name="identity_customer_type_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["type", "value"], name="identity_type_value_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="identity_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=~Q(method=LinkMethod.DETERMINISTIC) | Q(confidence=1),
                name="identity_deterministic_is_certain",
            ),
            models.CheckConstraint(
                condition=Q(type__in=IdentifierType.values), name="identity_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class ErasedIdentifier(models.Model):
    """A tombstone: the keyed hash of an identifier an erased customer had (an identity
    link's value, or the profile's e-mail or phone), written by erasure.

    It lets resolution recognise an event or request that still names the erased
    customer by that identifier, without keeping the identifier itself
    (``customers.identity.identifier_hmac``; DESIGN.md rule 10). A live identity link
    always wins over a tombstone, so a recycled phone number or e-mail linked to a new
    customer resolves to them.
    """

    identifier_type = models.CharField(max_length=20, choices=IdentifierType.choices)
    value_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["identifier_type", "value_hmac"], name="erased_identifier_unique"
            ),
            models.CheckConstraint(
                condition=Q(identifier_type__in=IdentifierType.values),
                name="erased_identifier_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier_type}:{self.value_hmac[:12]}…"


class Event(models.Model):
    """A signal from a channel system. Kept even when its customer is not known yet."""

    event_id = models.CharField(max_length=128, unique=True)
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    # How the channel named the customer, kept so an unresolved event can be matched later.
    customer_ref = models.JSONField(default=dict)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=EventStatus.choices)
    identity_link = models.ForeignKey(
        IdentityLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    identity_confidence = models.FloatField(null=True, blank=True)
    body_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=100, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="event_customer_time_idx"),
            models.Index(
                fields=["status", "received_at"],
                name="event_unresolved_idx",
                condition=Q(status=EventStatus.UNRESOLVED),
            ),
            models.Index(fields=["type", "occurred_at"], name="event_type_time_idx"),
            # What waits for processing: /metrics counts it and reads its oldest at each
            # scrape (crosssell/observability/collector.py).
            models.Index(
                fields=["received_at"],
                name="event_pending_idx",
                condition=Q(status=EventStatus.ACCEPTED),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EventStatus.values), name="event_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=EventStatus.PROCESSED) | Q(customer__isnull=False),
                name="event_processed_has_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type}:{self.event_id}"
