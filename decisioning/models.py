"""Decisions, the outbound message queue, contact history, responses and models."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, CampaignRunChunk
from core.channels import OUTBOUND_CHANNELS
from core.choices import Channel
from customers.models import Customer, Event
from decisioning.choices import DecisionMode, MessageStatus, ModelStatus, Outcome, OverrideAction
from offers.choices import OfferKind
from offers.models import Offer, OfferContent, Product


class PropensityModel(models.Model):
    """One version of a product's calibrated model of P(accept), in the registry.

    ``feature_names``/``coefficients``/``intercept``/``calibration`` are what the engine
    scores (``engine.ModelSpec``: a gradient-boosted model is one ``forest:`` feature with
    coefficient 1); ``inputs`` are the declared features it reads. The held-out figures
    (``auc``, ``brier``, ``calibration_curve``) are measured on the most recent responses
    when the history has dates. A version is ``active`` only when it beat the active one on
    the same held-out rows and clears the AUC floor; otherwise it stays a ``candidate``
    and ``status_reason`` says why.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="models")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    status_reason = models.TextField(blank=True)
    algorithm = models.CharField(max_length=64, default="logistic_regression")
    feature_names = models.JSONField(default=list)
    coefficients = models.JSONField(default=list)
    intercept = models.FloatField(default=0.0)
    calibration = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    auc = models.FloatField(null=True, blank=True)
    brier = models.FloatField(null=True, blank=True)
    calibration_curve = models.JSONField(default=list, blank=True)
    feature_importance = models.JSONField(default=list, blank=True)
    # every algorithm tried, with its held-out figures (the better one is this version)
    candidates = models.JSONField(default=list, blank=True)
    # the active version's figures on this version's held-out rows, when there was one
    challenged = models.JSONField(default=dict, blank=True)
    # credit products: approval-rate ratios across protected groups (four-fifths rule)
    fairness = models.JSONField(default=dict, blank=True)
    # per input, the training distribution's bins (edges and shares) for drift checks
    reference = models.JSONField(default=dict, blank=True)
    training_rows = models.PositiveIntegerField(default=0)
    holdout_rows = models.PositiveIntegerField(default=0)
    holdout_method = models.CharField(max_length=16, blank=True)  # "time" or "random"
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    trained_at = models.DateTimeField()
    trained_by = models.CharField(max_length=150)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="model_product_version"),
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(status=ModelStatus.ACTIVE),
                name="model_one_active_per_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} model v{self.version} ({self.status})"


class ModelDriftCheck(models.Model):
    """The population stability index of each input between a model's training data and
    the customers scored recently; inputs past ``PSI_FLAG`` are flagged."""

    model = models.ForeignKey(PropensityModel, on_delete=models.CASCADE, related_name="drift")
    checked_at = models.DateTimeField()
    window_start = models.DateTimeField()
    scored_customers = models.PositiveIntegerField()
    psi = models.JSONField(default=dict, blank=True)  # input -> PSI
    flagged = models.JSONField(default=list, blank=True)  # inputs with PSI > the flag
    max_psi = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model", "-checked_at"], name="drift_model_time_idx")]

    def __str__(self) -> str:
        return f"drift of {self.model} at {self.checked_at:%Y-%m-%d %H:%M}"


class Decision(models.Model):
    """One decision with its full explanation, including 'nothing offered'."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The foreign keys' own indexes are left out where a composite (or partial unique)
    # index leads with the same column and serves every lookup by it, the foreign-key
    # checks of a delete included: customer (decision_customer_time_idx), campaign
    # (decision_campaign_time_idx), run (decision_one_per_run_customer) and event
    # (decision_one_per_event_campaign). Each index costs every batch row an insertion.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="decisions", db_index=False
    )
    mode = models.CharField(max_length=10, choices=DecisionMode.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    run = models.ForeignKey(
        CampaignRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    control_group = models.BooleanField(default=False)
    shadow = models.BooleanField(default=False)
    offers_released = models.PositiveSmallIntegerField(default=0)
    top_offer_code = models.CharField(max_length=48, blank=True)
    outcome_reason = models.CharField(max_length=48, blank=True)
    snapshot_version = models.CharField(max_length=64)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    offers = models.JSONField(default=list)
    suppressed = models.JSONField(default=list)
    explanation = models.JSONField(default=dict)
    requested_by = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="decision_customer_time_idx"),
            # The ledger pages along (created_at, id) (core.paging.keyset_by_time), and a
            # batch chunk stores its 50,000 decisions with one created_at: the id is in
            # the index, or a page sorts the whole chunk to take its first 50 rows.
            models.Index(
                fields=["campaign", "-created_at", "-id"], name="decision_campaign_time_idx"
            ),
            models.Index(fields=["-created_at", "-id"], name="decision_time_idx"),
        ]
        constraints = [
            # A signal processed twice (retry, duplicate delivery) decides once per campaign.
            models.UniqueConstraint(
                fields=["event", "campaign"],
                condition=Q(event__isnull=False),
                name="decision_one_per_event_campaign",
            ),
            models.UniqueConstraint(
                fields=["run", "customer"],
                condition=Q(run__isnull=False),
                name="decision_one_per_run_customer",
            ),
            models.CheckConstraint(
                condition=Q(mode__in=DecisionMode.values), name="decision_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Message(models.Model):
    """An outbound offer waiting for (or handed to) a push, SMS or e-mail channel."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # decision: message_one_per_decision_offer leads with it; customer:
    # message_customer_status_idx (see Decision for why their own indexes are left out).
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="messages")
    content = models.ForeignKey(OfferContent, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    deliver_after = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=150, blank=True)
    # A new id on every lease: an ack names the lease it answers, so a holder whose lease
    # expired (and was taken by another) can never overwrite the newer holder's outcome.
    lease_id = models.UUIDField(null=True, blank=True)
    lease_count = models.PositiveIntegerField(default=0)
    provider_ref = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=48, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["channel", "deliver_after"],
                name="message_queue_idx",
                condition=Q(status=MessageStatus.QUEUED),
            ),
            models.Index(
                fields=["channel", "lease_expires_at"],
                name="message_lease_idx",
                condition=Q(status=MessageStatus.LEASED),
            ),
            models.Index(fields=["customer", "status"], name="message_customer_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "offer", "channel"], name="message_one_per_decision_offer"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=OUTBOUND_CHANNELS), name="message_outbound_channel"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="message_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=MessageStatus.LEASED) | Q(lease_expires_at__isnull=False),
                name="message_lease_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} message {self.id} ({self.status})"


class Contact(models.Model):
    """One offer released to a customer on a channel: the attention budget's ledger.

    Caps, cooldowns, fatigue and cross-channel dedupe are all read from here with one
    indexed query per customer.
    """

    # customer: contact_customer_time_idx leads with it; decision:
    # contact_one_per_decision_offer; campaign: contact_campaign_time_idx (see Decision).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="contact"
    )
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
        db_index=False,
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="contacts")
    product_code = models.CharField(max_length=32)
    family = models.CharField(max_length=16)
    kind = models.CharField(max_length=10, choices=OfferKind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    released_at = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-released_at"], name="contact_customer_time_idx"),
            models.Index(fields=["campaign", "released_at"], name="contact_campaign_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "offer", "channel"], name="contact_one_per_decision_offer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} to {self.customer_id} on {self.channel}"


class OwedAction(models.Model):
    """A service action no outbound channel could reach the customer on.

    It is shown on the customer's next inbound decision (where the offer has approved
    content for that channel and a fresh check passes) until ``expires_at``.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="owed_actions")
    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="owed")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="owed_actions")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="owed_actions")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    shown_decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="owed_shown"
    )
    shown_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["customer", "expires_at"],
                name="owed_open_idx",
                condition=Q(shown_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} owed to {self.customer_id}"


class Response(models.Model):
    response_id = models.CharField(max_length=128, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="responses")
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="responses")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=20, choices=Channel.choices)
    agent_id = models.CharField(max_length=100, blank=True)
    body_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="response_customer_time_idx"),
            models.Index(fields=["offer", "outcome"], name="response_offer_outcome_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=Outcome.values), name="response_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.response_id}: {self.outcome}"


class Override(models.Model):
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="overrides")
    agent_id = models.CharField(max_length=100)
    action = models.CharField(max_length=10, choices=OverrideAction.choices)
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="overrides"
    )
    reason = models.TextField()
    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(action=OverrideAction.REPLACE) | Q(offer__isnull=False),
                name="override_replace_names_offer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.decision_id} by {self.agent_id}"


# --- the outbox: work the database holds until it is done (decisioning/outbox.py) ---------


class EventOutbox(models.Model):
    """An accepted event not yet seen processed: written in the transaction that accepts
    the event, so a lost enqueue (broker down, Redis restarted, a task that gave up) is
    found by the sweeper and enqueued again; the sweeper deletes it once processed."""

    event = models.OneToOneField(
        Event, primary_key=True, on_delete=models.CASCADE, related_name="outbox"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The last time it was handed to the queue (or tried to be).
    dispatched_at = models.DateTimeField(default=timezone.now)
    dispatches = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["dispatched_at"], name="event_outbox_due_idx")]

    def __str__(self) -> str:
        return f"event {self.event_id}: {self.dispatches} dispatch(es)"


class ChunkDispatch(models.Model):
    """Where a batch run's chunk stands in the queue: last enqueued, last claimed by a
    worker, and how many attempts failed (a deterministic error, or a worker that claimed
    it and never finished) with the last reason."""

    chunk = models.OneToOneField(
        CampaignRunChunk, primary_key=True, on_delete=models.CASCADE, related_name="dispatch"
    )
    dispatched_at = models.DateTimeField(default=timezone.now)
    dispatches = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"chunk {self.chunk_id}: {self.attempts} attempt(s), {self.failures} failed"
