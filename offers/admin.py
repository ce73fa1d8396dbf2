"""Django admin for the catalog: read-only, with each row's change history.

Catalog writes must be audited and bump the catalog version, which the services in
``offers.services`` do; the console calls them. The admin only shows.
"""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from compliance.admin import ReadOnlyAdmin
from offers.models import Offer, OfferContent, OfferTargeting, Product


class ReadOnlyHistoryAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    pass


@admin.register(Product)
class ProductAdmin(ReadOnlyHistoryAdmin):
    list_display = ("code", "name", "family", "annual_value", "is_credit", "is_active")
    list_filter = ("family", "is_credit", "is_active")
    search_fields = ("code", "name")


@admin.register(Offer)
class OfferAdmin(ReadOnlyHistoryAdmin):
    list_display = (
        "code",
        "name",
        "product",
        "kind",
        "status",
        "lever",
        "valid_from",
        "valid_until",
        "targeting_version",
    )
    list_filter = ("status", "kind", "product__family")
    search_fields = ("code", "name", "product__code")
    list_select_related = ("product",)


@admin.register(OfferContent)
class OfferContentAdmin(ReadOnlyHistoryAdmin):
    list_display = ("offer", "channel", "version", "headline", "content_hash", "created_at")
    list_filter = ("channel",)
    search_fields = ("offer__code", "headline", "content_hash")
    list_select_related = ("offer",)


@admin.register(OfferTargeting)
class OfferTargetingAdmin(ReadOnlyAdmin):
    list_display = ("offer", "version", "lever", "value", "content_hash", "created_at")
    search_fields = ("offer__code", "content_hash")
    list_select_related = ("offer",)
