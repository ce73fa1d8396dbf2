"""Campaign results: aggregate tables written by ``results.services.kpis_compute_day``.

Every table is keyed by the bank-local day of the decisions it counts; recomputing a day
replaces all of its rows in one transaction (``KpiComputation`` is the day's lock and
records when it was computed). Nothing here is a source of truth: each row can be
rebuilt from the decision ledger, contacts, responses, overrides, holdings and consents.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from campaigns.models import Campaign
from core.choices import Channel
from offers.models import Offer
from results.choices import Group


class KpiComputation(models.Model):
    """One computed day: when, how long it took, and how many rows it wrote."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField()
    seconds = models.FloatField(default=0.0)
    attribution_days = models.PositiveIntegerField()
    rows = models.PositiveIntegerField(default=0)
    computed_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"KPIs of {self.day} computed {self.computed_at:%Y-%m-%d %H:%M}"


class OfferDay(models.Model):
    """Per day x campaign x offer x channel x group: what was released and what followed.

    Treated rows count contacts (an offer released on a channel); control rows count the
    offers held-out decisions would have made. ``offer`` is empty only for duplicates a
    batch run prevented (it records the reason, not the offer).
    """

    day = models.DateField()
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    group = models.CharField(max_length=10, choices=Group.choices)
    units = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    accepts = models.PositiveIntegerField(default=0)
    declines = models.PositiveIntegerField(default=0)
    dismisses = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    opt_outs = models.PositiveIntegerField(default=0)
    duplicates_prevented = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day", "campaign"], name="results_offerday_day_idx"),
            models.Index(fields=["campaign", "day"], name="results_offerday_campaign_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(group__in=Group.values), name="results_offerday_group_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.campaign_id}/{self.offer_id}/{self.channel} {self.group}"


class SegmentDay(models.Model):
    """Per day x campaign x offer x group x (age, tenure, holdings) band: the units and
    their conversions, the cube uplift by segment is read from."""

    day = models.DateField()
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    group = models.CharField(max_length=10, choices=Group.choices)
    age_band = models.CharField(max_length=16)
    tenure_band = models.CharField(max_length=16)
    holdings_band = models.CharField(max_length=16)
    units = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day", "campaign"], name="results_segmentday_day_idx"),
            models.Index(fields=["campaign", "day"], name="results_segday_campaign_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(group__in=Group.values), name="results_segmentday_group_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.campaign_id}/{self.offer_id} {self.group}"


class AdoptionDay(models.Model):
    """Per day x campaign x human channel: inbound decisions that released offers to a
    banker or agent, how many of them were presented (a response came back) and how many
    the person overrode."""

    day = models.DateField()
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    decisions = models.PositiveIntegerField(default=0)
    presented = models.PositiveIntegerField(default=0)
    overridden = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "campaign"], name="results_adoptionday_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.campaign_id}/{self.channel}"


class LatencyDay(models.Model):
    """Per day x campaign: signal-to-offer latency of event decisions that released an
    offer, as counts per bucket of ``results.stats.LATENCY_BUCKETS_MS`` (histograms add up
    across days and campaigns; percentiles do not)."""

    day = models.DateField()
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    decisions = models.PositiveIntegerField(default=0)
    buckets = models.JSONField(default=list)
    max_ms = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["day", "campaign"], name="results_latencyday_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.campaign_id}: {self.decisions} decisions"
