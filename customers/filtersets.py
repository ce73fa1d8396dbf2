"""Customer search: by the bank's customer id or any identifier linked to the customer.

Exact matches only, so every search is a few index lookups (``external_id`` and
``pseudonym`` are unique, identity links are unique on ``(type, value)``) whatever the
customer count.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from core.forms import ConsoleFilterSet
from customers.choices import IdentifierType
from customers.models import Customer, IdentityLink
from customers.pseudonyms import pseudonym_for

MAX_RESULTS = 25


class CustomerSearchFilterSet(ConsoleFilterSet):
    q = django_filters.CharFilter(method="search", label="Customer id or identifier")
    identifier_type = django_filters.ChoiceFilter(
        choices=IdentifierType.choices, method="noop", empty_label="Any identifier type"
    )

    class Meta:
        model = Customer
        fields = ["q", "identifier_type"]

    def noop(self, queryset: QuerySet, _name: str, _value: str) -> QuerySet:
        return queryset  # read by ``search``

    def search(self, queryset: QuerySet, _name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset.none()
        kind = self.form.cleaned_data.get("identifier_type")
        # Every type named, so the lookup is the (type, value) unique index's (one link per
        # type at most); the linked customers read first, so the three matches below are
        # one BitmapOr of three index lookups (with a subquery among them, PostgreSQL
        # scanned every customer).
        linked = list(
            IdentityLink.objects.filter(
                type__in=[kind] if kind else IdentifierType.values, value=value
            ).values_list("customer_id", flat=True)
        )
        # The pseudonym finds an erased customer too (erasure replaces the bank's id).
        return queryset.filter(
            Q(external_id=value) | Q(pseudonym=pseudonym_for(value)) | Q(pk__in=linked)
        ).distinct()

    @property
    def searched(self) -> bool:
        return bool(self.form.is_valid() and self.form.cleaned_data.get("q", "").strip())
