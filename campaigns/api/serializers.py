from __future__ import annotations

from typing import Any

from rest_framework import serializers

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign


class CampaignOfferSerializer(serializers.Serializer):
    offer_code = serializers.CharField()
    arm = serializers.CharField()
    weight = serializers.FloatField()


class CampaignSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    objective = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=CampaignKind.choices)
    status = serializers.ChoiceField(choices=CampaignStatus.choices)
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    channels = serializers.ListField(
        child=serializers.CharField(), help_text="In preference order."
    )
    trigger_event_types = serializers.ListField(child=serializers.CharField())
    control_group_pct = serializers.FloatField()
    daily_volume_limit = serializers.IntegerField(allow_null=True)
    per_customer_cap = serializers.IntegerField(allow_null=True)
    priority = serializers.IntegerField()
    shadow_mode = serializers.BooleanField()
    offers = CampaignOfferSerializer(many=True)

    def to_representation(self, campaign: Campaign) -> dict[str, Any]:
        return {
            "code": campaign.code,
            "name": campaign.name,
            "objective": campaign.objective,
            "kind": campaign.kind,
            "status": campaign.status,
            "starts_at": campaign.starts_at.isoformat() if campaign.starts_at else None,
            "ends_at": campaign.ends_at.isoformat() if campaign.ends_at else None,
            "channels": list(campaign.channels or []),
            "trigger_event_types": list(campaign.trigger_event_types or []),
            "control_group_pct": float(campaign.control_group_pct),
            "daily_volume_limit": campaign.daily_volume_limit,
            "per_customer_cap": campaign.per_customer_cap,
            "priority": campaign.priority,
            "shadow_mode": campaign.shadow_mode,
            "offers": [
                {"offer_code": entry.offer.code, "arm": entry.arm, "weight": float(entry.weight)}
                for entry in campaign.campaign_offers.all()
            ],
        }
