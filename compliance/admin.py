"""Django admin for compliance: read-only.

The ledger (records, seals, memberships) can never change — the database refuses it —
and every other compliance write must be audited by its service, so the admin only
shows; decisions are taken in the console.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from compliance.models import (
    ApprovalComment,
    ApprovalRequest,
    CatalogVersion,
    Consent,
    DoNotContact,
    ErasureRequest,
    SuppressionEntry,
)
from ledger.models import AuditRecord, AuditSeal, AuditSealerState, AuditSealMembership


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows rows; never adds, changes or deletes them."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "kind", "action", "actor", "customer_ref", "channel")
    list_filter = ("kind",)
    search_fields = ("=seq", "=customer_ref", "action", "actor", "=object_id", "=request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    ordering = ("-seq",)


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "created_at",
        "record_count",
        "first_record_seq",
        "last_record_seq",
        "seal_hash",
    )
    ordering = ("-seq",)
    show_full_result_count = False


@admin.register(AuditSealMembership)
class AuditSealMembershipAdmin(ReadOnlyAdmin):
    list_display = ("record_id", "seal_id")
    search_fields = ("=record__seq", "=seal__seq")
    ordering = ("-record_id",)
    show_full_result_count = False


@admin.register(AuditSealerState)
class AuditSealerStateAdmin(ReadOnlyAdmin):
    list_display = ("id", "high_water_seq", "last_run_at", "last_sweep_at")


@admin.register(CatalogVersion)
class CatalogVersionAdmin(ReadOnlyAdmin):
    list_display = ("id", "version", "changed_at")


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("customer", "channel", "status", "source", "captured_at")
    list_filter = ("channel", "status")
    search_fields = ("=customer__external_id",)
    list_select_related = ("customer",)


@admin.register(DoNotContact)
class DoNotContactAdmin(ReadOnlyAdmin):
    list_display = ("customer", "reason", "created_by", "created_at")
    search_fields = ("=customer__external_id",)
    list_select_related = ("customer",)


@admin.register(SuppressionEntry)
class SuppressionEntryAdmin(ReadOnlyAdmin):
    list_display = ("customer", "scope", "value", "until", "reason", "created_by", "created_at")
    list_filter = ("scope", "reason")
    search_fields = ("=customer__external_id", "value")
    list_select_related = ("customer",)


class ApprovalCommentInline(admin.TabularInline):
    model = ApprovalComment
    extra = 0
    can_delete = False
    readonly_fields = ("author", "body", "created_at")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "subject_repr",
        "subject_type",
        "subject_version",
        "status",
        "has_blocking_findings",
        "submitted_by",
        "submitted_at",
        "decided_by",
    )
    list_filter = ("status", "subject_type", "has_blocking_findings")
    search_fields = ("subject_repr", "content_hash")
    list_select_related = ("submitted_by", "decided_by")
    inlines = [ApprovalCommentInline]


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer_ref", "status", "requested_by", "requested_at", "completed_at")
    list_filter = ("status",)
    search_fields = ("=customer_ref",)
