"""Compliance: consent, suppression, approvals, erasure requests and the catalog version.

The audit ledger lives in ``ledger/``, below every layer that writes to it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from compliance.choices import (
    ApprovalStatus,
    ApprovalSubject,
    ConsentChannel,
    ConsentStatus,
    ErasureStatus,
    SuppressionScope,
)
from customers.models import Customer


class CatalogVersion(models.Model):
    """One row whose counter moves whenever anything the engine snapshots changes.

    Catalog, content approvals, campaigns, contact policy and models all bump it, so
    the engine checks one cheap row per decision instead of rebuilding its snapshot.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=1)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"catalog v{self.version}"


class Consent(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=20, choices=ConsentChannel.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(max_length=100, blank=True)
    captured_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="consent_one_per_channel"),
            models.CheckConstraint(
                condition=Q(status__in=ConsentStatus.values), name="consent_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=ConsentChannel.values), name="consent_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.channel}={self.status}"


class DoNotContact(models.Model):
    """Blocks all marketing to the customer on every channel (service actions still go)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="do_not_contact"
    )
    reason = models.CharField(max_length=200)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"do not contact {self.customer_id}"


class SuppressionEntry(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="suppressions")
    scope = models.CharField(max_length=10, choices=SuppressionScope.choices)
    # The family, product code, offer code or channel the scope names; empty for "all".
    value = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True, help_text="Empty means permanent.")
    reason = models.CharField(max_length=64)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)

    class Meta:
        indexes = [models.Index(fields=["customer", "until"], name="suppression_customer_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope=SuppressionScope.ALL) | ~Q(value=""),
                name="suppression_scoped_has_value",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=SuppressionScope.values), name="suppression_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.scope}:{self.value or '*'} ({self.reason})"


class ApprovalRequest(models.Model):
    """Maker-checker over one exact version of a subject, identified by its content hash."""

    subject_type = models.CharField(max_length=32, choices=ApprovalSubject.choices)
    subject_id = models.BigIntegerField()
    subject_version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    subject_repr = models.CharField(max_length=200)
    # Requests submitted as one change (an offer's content on all its channels) share this
    # key: the queue shows them as one item, decided together. Empty: a change of its own.
    change = models.UUIDField(null=True, blank=True, editable=False)
    # What the reviewer saw: the submitted content or targeting, frozen.
    snapshot = models.JSONField(default=dict)
    prechecks = models.JSONField(default=list, blank=True)
    has_blocking_findings = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals_submitted"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approvals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["subject_type", "subject_id", "subject_version"],
                name="approval_subject_idx",
            ),
            models.Index(fields=["status", "submitted_at"], name="approval_queue_idx"),
            models.Index(fields=["change", "status"], name="approval_change_idx"),
        ]
        constraints = [
            # The checker is never the maker, whatever the caller.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("submitted_by")),
                name="approval_checker_is_not_maker",
            ),
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "subject_version"],
                condition=Q(status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED]),
                name="approval_one_open_per_version",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ApprovalStatus.values), name="approval_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_repr} v{self.subject_version}: {self.status}"


class ApprovalComment(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"comment on {self.request_id}"


class ErasureRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        Customer, null=True, on_delete=models.SET_NULL, related_name="erasure_requests"
    )
    customer_ref = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=ErasureStatus.choices, default=ErasureStatus.PENDING
    )
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"erasure {self.id} ({self.status})"
