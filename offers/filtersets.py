"""List filters for the catalog screens (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from core.forms import ConsoleFilterSet, yes_no_filter
from offers.choices import OfferKind, OfferStatus, ProductFamily
from offers.models import Offer, Product


def _search(queryset: QuerySet, _name: str, value: str) -> QuerySet:
    value = value.strip()
    if not value:
        return queryset
    return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))


class ProductFilterSet(ConsoleFilterSet):
    q = django_filters.CharFilter(method=_search, label="Code or name")
    family = django_filters.ChoiceFilter(choices=ProductFamily.choices, empty_label="Any family")
    is_credit = yes_no_filter("Credit product")
    is_active = yes_no_filter("Active")

    class Meta:
        model = Product
        fields = ["q", "family", "is_credit", "is_active"]


class OfferFilterSet(ConsoleFilterSet):
    q = django_filters.CharFilter(method=_search, label="Code or name")
    family = django_filters.ChoiceFilter(
        field_name="product__family", choices=ProductFamily.choices, empty_label="Any family"
    )
    kind = django_filters.ChoiceFilter(choices=OfferKind.choices, empty_label="Any kind")
    status = django_filters.ChoiceFilter(choices=OfferStatus.choices, empty_label="Any status")

    class Meta:
        model = Offer
        fields = ["q", "family", "kind", "status"]
