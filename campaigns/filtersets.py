"""List filters for campaigns (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign
from core.forms import ConsoleFilterSet, yes_no_filter


class CampaignFilterSet(ConsoleFilterSet):
    q = django_filters.CharFilter(method="search", label="Code or name")
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=CampaignKind.choices, empty_label="Any kind")
    shadow_mode = yes_no_filter("Shadow mode")

    class Meta:
        model = Campaign
        fields = ["q", "status", "kind", "shadow_mode"]

    def search(self, queryset: QuerySet, _name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))
