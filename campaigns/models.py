"""Campaigns, their batch runs, and the versioned contact policy."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from campaigns.choices import CampaignKind, CampaignStatus, ChunkStatus, RunStatus
from offers.models import Offer


class Campaign(models.Model):
    code = models.CharField(max_length=48, unique=True)
    name = models.CharField(max_length=160)
    objective = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=CampaignKind.choices)
    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    audience_rule = models.TextField(blank=True, help_text="Rule language; empty = everyone.")
    trigger_event_types = models.JSONField(default=list, blank=True)
    # Per trigger event type, what the event must be to fire the campaign: a condition
    # on its payload, page patterns, a maximum age (``campaigns.triggers``).
    trigger_conditions = models.JSONField(default=dict, blank=True)
    # Journeys that continue: fire when `absence_event_type` has not followed a trigger
    # event within `absence_days`.
    absence_event_type = models.CharField(max_length=64, blank=True)
    absence_days = models.PositiveIntegerField(null=True, blank=True)
    schedule = models.CharField(
        max_length=64, blank=True, help_text="Crontab for batch runs, e.g. '0 9 * * mon'."
    )
    channels = models.JSONField(default=list, help_text="Allowed channels, in preference order.")
    control_group_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("10"))
    daily_volume_limit = models.PositiveIntegerField(null=True, blank=True)
    per_customer_cap = models.PositiveIntegerField(null=True, blank=True)
    priority = models.IntegerField(default=0)
    shadow_mode = models.BooleanField(default=False)
    # Bumped whenever audience, offers, channels or control group change; approvals
    # name the version they cover.
    targeting_version = models.PositiveIntegerField(default=1)
    offers = models.ManyToManyField(Offer, through="CampaignOffer", related_name="campaigns")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["offers"])

    class Meta:
        ordering = ["-priority", "code"]
        indexes = [models.Index(fields=["status", "kind"], name="campaign_status_kind_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CampaignKind.values), name="campaign_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(control_group_pct__gte=0) & Q(control_group_pct__lte=100),
                name="campaign_control_pct_0_100",
                violation_error_message="The control group is a share between 0 and 100 %.",
            ),
            models.CheckConstraint(
                condition=Q(absence_event_type="") | Q(absence_days__gte=1),
                name="campaign_absence_needs_days",
                violation_error_message="A journey that waits for an event's absence needs "
                "the number of days to wait (at least 1).",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CampaignOffer(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="campaign_offers")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="campaign_offers")
    arm = models.CharField(max_length=16, default="A")
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "offer"], name="campaign_offer_unique"),
            models.CheckConstraint(
                condition=Q(weight__gt=0),
                name="campaign_offer_weight_positive",
                violation_error_message="An offer's A/B weight must be greater than 0.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.offer_id} arm {self.arm}"


class CampaignRun(models.Model):
    """One batch execution, split into customer-id-range chunks so it can resume."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    shadow = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_customers = models.PositiveIntegerField(default=0)
    processed_customers = models.PositiveIntegerField(default=0)
    outcome_counts = models.JSONField(default=dict, blank=True)
    suppression_counts = models.JSONField(default=dict, blank=True)
    snapshot_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="run_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.campaign_id} ({self.status})"

    @property
    def progress_pct(self) -> float:
        if not self.total_customers:
            return 100.0 if self.status == RunStatus.COMPLETED else 0.0
        return round(100.0 * self.processed_customers / self.total_customers, 1)


class CampaignRunChunk(models.Model):
    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="chunks")
    first_customer_id = models.BigIntegerField()
    last_customer_id = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    customers = models.PositiveIntegerField(default=0)
    outcome_counts = models.JSONField(default=dict, blank=True)
    suppression_counts = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "first_customer_id"], name="run_chunk_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(last_customer_id__gte=models.F("first_customer_id")),
                name="run_chunk_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} customers {self.first_customer_id}-{self.last_customer_id}"


class ContactPolicy(models.Model):
    """Global caps, cooldowns and quiet hours. Changing it writes a new version.

    A new version is written inactive and submitted for approval (subject
    ``contact_policy``: this row's id, ``version`` and ``campaigns.policy_hash``); only a
    checker's approval makes it the active one, so ``is_active`` marks the version in
    force and a pending version never is.
    """

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    daily_cap = models.PositiveIntegerField(default=1)
    weekly_cap = models.PositiveIntegerField(default=3)
    quiet_start = models.TimeField(default=datetime.time(21, 0))
    quiet_end = models.TimeField(default=datetime.time(8, 0))
    # Empty: quiet hours hold nothing back (a change that needs approval like any other).
    quiet_channels = models.JSONField(default=list, blank=True)
    decline_cooldown_days = models.PositiveIntegerField(default=30)
    fatigue_ignored_in_row = models.PositiveIntegerField(default=3)
    fatigue_backoff_days = models.PositiveIntegerField(default=14)
    presented_elsewhere_days = models.PositiveIntegerField(default=7)
    hardship_event_types = models.JSONField(default=list)
    hardship_days = models.PositiveIntegerField(default=30)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="policy_one_active"
            ),
            models.CheckConstraint(
                condition=Q(weekly_cap__gte=models.F("daily_cap")),
                name="policy_week_covers_day",
                violation_error_message="The weekly cap must be at least the daily cap.",
            ),
        ]

    def __str__(self) -> str:
        return f"policy v{self.version}"
