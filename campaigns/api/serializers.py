from __future__ import annotations

from typing import Any

from rest_framework import serializers

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign
from campaigns.triggers import trigger_settings


class CampaignOfferSerializer(serializers.Serializer):
    offer_code = serializers.CharField()
    arm = serializers.CharField()
    weight = serializers.FloatField()


def _trigger_body(campaign: Campaign, event_type: str) -> dict[str, Any]:
    condition, pages, hours = trigger_settings(campaign.trigger_conditions, event_type)
    return {"condition": condition, "pages": list(pages), "max_age_hours": hours}


class TriggerConditionSerializer(serializers.Serializer):
    condition = serializers.CharField(
        help_text='Rule language over the payload, e.g. merchant_category in ("fuel"); '
        "empty = every event of the type."
    )
    pages = serializers.ListField(
        child=serializers.CharField(), help_text="Page patterns, e.g. /loans/*; empty = any."
    )
    max_age_hours = serializers.IntegerField(
        min_value=1,
        help_text="Older events fire nothing (a journey: hours after its wait ended).",
    )


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
    trigger_conditions = serializers.DictField(
        child=TriggerConditionSerializer(),
        help_text="Addition. Per trigger event type, what an event must be to fire the "
        "campaign: a condition on its payload in the rule language, page patterns its "
        "payload's page must match, and a maximum age in hours (default 24). A type not "
        "listed fires on every event of it at most 24 hours old.",
    )
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
            "trigger_conditions": {
                event_type: _trigger_body(campaign, event_type)
                for event_type in campaign.trigger_conditions or {}
            },
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
