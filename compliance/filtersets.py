"""Filters of the compliance screens: the approval queue and the audit ledger."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from core.forms import ConsoleFilterSet
from customers.pseudonyms import pseudonym_for
from ledger.choices import AuditKind
from ledger.models import AuditRecord

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ApprovalFilterSet(ConsoleFilterSet):
    status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices, empty_label="Any status")
    subject_type = django_filters.ChoiceFilter(
        choices=ApprovalSubject.choices, empty_label="Any subject"
    )
    submitted_by = django_filters.CharFilter(
        field_name="submitted_by__username", label="Submitted by"
    )

    class Meta:
        model = ApprovalRequest
        fields = ["status", "subject_type", "submitted_by"]


class AuditFilterSet(ConsoleFilterSet):
    """Customer by the bank's id: turned into its pseudonym, the only name the ledger uses
    (so an erased customer's trail is still found)."""

    customer = django_filters.CharFilter(method="filter_customer", label="Customer id")
    kind = django_filters.ChoiceFilter(choices=AuditKind.choices, empty_label="Any kind")
    action = django_filters.CharFilter(label="Action")
    actor = django_filters.CharFilter(label="Actor")
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="From", widget=DATETIME
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Before", widget=DATETIME
    )

    class Meta:
        model = AuditRecord
        fields = ["customer", "kind", "action", "actor", "since", "until"]

    def filter_customer(self, queryset: QuerySet, _name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(customer_ref=pseudonym_for(value))
