import django_filters

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign
from core.api.filters import StrictFilterSet


class CampaignApiFilterSet(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices)
    kind = django_filters.ChoiceFilter(choices=CampaignKind.choices)

    class Meta:
        model = Campaign
        fields = ["status", "kind"]
