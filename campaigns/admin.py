"""Django admin for campaigns and the contact policy: read-only.

Campaign and policy changes are versioned, approved and audited by
``campaigns.services``; the console calls them. The admin only shows.
"""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from campaigns.models import Campaign, CampaignOffer, CampaignRun, CampaignRunChunk, ContactPolicy
from compliance.admin import ReadOnlyAdmin


class CampaignOfferInline(admin.TabularInline):
    model = CampaignOffer
    extra = 0
    can_delete = False
    readonly_fields = ("offer", "arm", "weight")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "status",
        "targeting_version",
        "priority",
        "shadow_mode",
    )
    list_filter = ("status", "kind", "shadow_mode")
    search_fields = ("code", "name")
    inlines = [CampaignOfferInline]


class CampaignRunChunkInline(admin.TabularInline):
    model = CampaignRunChunk
    extra = 0
    can_delete = False
    readonly_fields = (
        "first_customer_id",
        "last_customer_id",
        "status",
        "customers",
        "finished_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CampaignRun)
class CampaignRunAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "campaign",
        "status",
        "shadow",
        "processed_customers",
        "total_customers",
        "created_at",
    )
    list_filter = ("status", "shadow")
    list_select_related = ("campaign",)
    inlines = [CampaignRunChunkInline]


@admin.register(ContactPolicy)
class ContactPolicyAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "version",
        "is_active",
        "daily_cap",
        "weekly_cap",
        "quiet_start",
        "quiet_end",
        "created_by",
        "created_at",
    )
