"""Products, offers, their targeting versions and their content per channel.

Content and targeting versions are immutable once submitted for approval; whether a
version is approved is answered by compliance from (id, version, content hash).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from core.choices import Channel
from offers.choices import OfferKind, OfferStatus, ProductFamily


class Product(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    family = models.CharField(max_length=16, choices=ProductFamily.choices)
    description = models.TextField(blank=True)
    annual_value = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Expected annual value to the bank."
    )
    is_credit = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["family", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(family__in=ProductFamily.values), name="product_family_valid"
            ),
            models.CheckConstraint(
                condition=Q(annual_value__gte=0), name="product_value_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


# What a marketer reads when a constraint refuses a value (never the constraint's name).
LEVER_MESSAGE = "The lever must be greater than 0 (1 leaves the score as it is)."
VALUE_MESSAGE = "The value cannot be negative."
WINDOW_MESSAGE = "The end of the validity window must come after its start."


def targeting_constraints(*, lever: str, value: str, window: str) -> list[models.CheckConstraint]:
    """What an offer's targeting must keep, on the offer and on each targeting version
    (the names are the tables' own, so each model keeps its constraints)."""
    return [
        models.CheckConstraint(
            condition=Q(lever__gt=0), name=lever, violation_error_message=LEVER_MESSAGE
        ),
        models.CheckConstraint(
            condition=Q(value__isnull=True) | Q(value__gte=0),
            name=value,
            violation_error_message=VALUE_MESSAGE,
        ),
        models.CheckConstraint(
            condition=Q(valid_from__isnull=True)
            | Q(valid_until__isnull=True)
            | Q(valid_until__gt=models.F("valid_from")),
            name=window,
            violation_error_message=WINDOW_MESSAGE,
        ),
    ]


class Offer(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="offers")
    code = models.CharField(max_length=48, unique=True)
    name = models.CharField(max_length=160)
    kind = models.CharField(max_length=10, choices=OfferKind.choices, default=OfferKind.SALES)
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.DRAFT)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    eligibility_rule = models.TextField(blank=True, help_text="Rule language; empty = everyone.")
    lever = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("1.000"))
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0, message=VALUE_MESSAGE)],
        help_text="Overrides the product's annual value when set.",
    )
    cooldown_days = models.PositiveIntegerField(default=0)
    # {event_type: context weight}: how relevant a triggering event is to this offer.
    trigger_weights = models.JSONField(default=dict, blank=True)
    # The ``OfferTargeting`` version the targeting fields above carry (see its docstring).
    # 0: the row was written outside the services and never versioned.
    targeting_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["status"], name="offer_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OfferKind.values), name="offer_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=OfferStatus.values), name="offer_status_valid"
            ),
            *targeting_constraints(
                lever="offer_lever_positive",
                value="offer_value_not_negative",
                window="offer_validity_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class OfferTargeting(models.Model):
    """One version of an offer's targeting: eligibility rule, validity window, lever,
    value, cooldown and trigger weights (``offers.targeting_hash.TARGETING_FIELDS``).

    Storage: the targeting *in force* lives on the ``Offer`` row itself, with
    ``Offer.targeting_version`` naming the version it is; every version, the one in force
    and any proposal waiting for review, is a row here. A change to a live or approved
    offer is written here as a new version and submitted for approval; only when a
    checker approves it is it copied onto the offer (``offers.services``, on
    ``approval_decided``, in the approval's transaction). Why this shape: the engine's
    snapshot, the pre-send gate, replay, the API and the console all read the offer row
    already, so each of them reads the approved targeting with no extra join or query,
    and none of them can pick up a proposal by mistake. The snapshot still re-hashes the
    offer row and releases the offer only if (offer id, ``targeting_version``, hash) is
    approved, so a row edited behind the services is held back, not released.

    A draft offer that was never approved has nothing in force: its row follows its
    working version, edited in place until submitted.
    """

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="targetings")
    version = models.PositiveIntegerField()
    eligibility_rule = models.TextField(blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    lever = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("1.000"))
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0, message=VALUE_MESSAGE)],
    )
    cooldown_days = models.PositiveIntegerField(default=0)
    trigger_weights = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    note = models.CharField(max_length=200, blank=True, help_text="Why this change.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offer", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "version"], name="targeting_one_per_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="targeting_version_positive"),
            *targeting_constraints(
                lever="targeting_lever_positive",
                value="targeting_value_not_negative",
                window="targeting_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer.code} targeting v{self.version}"


class OfferContent(models.Model):
    """One version of an offer's words on one channel."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="contents")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    version = models.PositiveIntegerField()
    headline = models.CharField(max_length=200)
    body = models.TextField()
    call_to_action = models.CharField(max_length=100, blank=True)
    disclosure = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["offer", "channel", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "channel", "version"], name="content_one_per_offer_channel_version"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="content_channel_valid"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="content_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.offer.code}/{self.channel} v{self.version}"
