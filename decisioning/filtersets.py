"""Filters of the decision ledger (django-filter).

Every filter narrows a query that is ordered by ``-created_at`` and read a page at a time
(keyset), so none of them counts the table. Days are the bank's days.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet

from campaigns.models import Campaign
from core.choices import Channel
from core.forms import ConsoleFilterSet, yes_no_filter
from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from decisioning.choices import DecisionMode
from decisioning.models import Decision

DATE = forms.DateInput(attrs={"type": "date"})


def _bank_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time.min, tzinfo=ZoneInfo(settings.BANK_TIME_ZONE)
    )


class DecisionFilterSet(ConsoleFilterSet):
    campaign = django_filters.ModelChoiceFilter(
        queryset=Campaign.objects.only("id", "code").order_by("code"), empty_label="Any campaign"
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any channel")
    mode = django_filters.ChoiceFilter(choices=DecisionMode.choices, empty_label="Any mode")
    control_group = yes_no_filter("Control group")
    shadow = yes_no_filter("Shadow")
    outcome = django_filters.CharFilter(field_name="outcome_reason", label="Outcome")
    customer = django_filters.CharFilter(method="filter_customer", label="Customer id")
    date_from = django_filters.DateFilter(method="filter_from", label="From (day)", widget=DATE)
    date_to = django_filters.DateFilter(method="filter_to", label="To (day)", widget=DATE)

    class Meta:
        model = Decision
        fields = [
            "campaign",
            "channel",
            "mode",
            "control_group",
            "shadow",
            "outcome",
            "customer",
            "date_from",
            "date_to",
        ]

    def filter_customer(self, queryset: QuerySet, _name: str, value: str) -> QuerySet:
        """By the customer's id, resolved first so the ``(customer, -created_at)`` index
        serves the page (an erased customer is found by the pseudonym of the old id)."""
        value = value.strip()
        pk = (
            Customer.objects.filter(Q(external_id=value) | Q(pseudonym=pseudonym_for(value)))
            .values_list("pk", flat=True)
            .first()
        )
        return queryset.filter(customer_id=pk) if pk is not None else queryset.none()

    def filter_from(self, queryset: QuerySet, _name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(created_at__gte=_bank_midnight(value))

    def filter_to(self, queryset: QuerySet, _name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(created_at__lt=_bank_midnight(value + datetime.timedelta(days=1)))
