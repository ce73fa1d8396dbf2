"""Django admin for customer data: read-only.

Profiles hold PII and every change is audited by ``customers.services`` (erasure by
``decisioning.customer_rights``); the admin only shows. (customers is the ground
layer, so it defines its own read-only base instead of importing compliance's.)
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from customers.models import Customer, Event, Holding, IdentityLink


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class HoldingInline(admin.TabularInline):
    model = Holding
    extra = 0
    can_delete = False
    readonly_fields = ("product_code", "opened_at", "closed_at", "source")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "region", "branch_code", "risk_band", "income_band", "erased_at")
    list_filter = ("region", "risk_band", "income_band")
    search_fields = ("=external_id", "=pseudonym")
    show_full_result_count = False
    inlines = [HoldingInline]


@admin.register(IdentityLink)
class IdentityLinkAdmin(ReadOnlyAdmin):
    list_display = ("type", "customer", "method", "confidence", "created_at")
    list_filter = ("type", "method")
    search_fields = ("=customer__external_id",)
    list_select_related = ("customer",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "occurred_at", "status", "customer", "channel")
    list_filter = ("status", "type")
    search_fields = ("=event_id",)
    list_select_related = ("customer",)
    show_full_result_count = False
