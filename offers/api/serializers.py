"""Offers as channels see them: what can be offered, and on which channels."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.choices import Channel
from offers.choices import OfferKind, ProductFamily
from offers.models import Offer


class ProductSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    family = serializers.ChoiceField(choices=ProductFamily.choices)
    is_credit = serializers.BooleanField()


class OfferChannelSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    content_version = serializers.IntegerField(help_text="The approved version released there.")


class OfferSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=OfferKind.choices)
    product = ProductSerializer()
    family = serializers.ChoiceField(choices=ProductFamily.choices)
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    channels = OfferChannelSerializer(
        many=True, help_text="Channels with approved content (the newest approved version)."
    )

    def to_representation(self, offer: Offer) -> dict[str, Any]:
        product = offer.product
        approved = self.context.get("approved", {})
        return {
            "code": offer.code,
            "name": offer.name,
            "kind": offer.kind,
            "product": {
                "code": product.code,
                "name": product.name,
                "family": product.family,
                "is_credit": product.is_credit,
            },
            "family": product.family,
            "valid_from": offer.valid_from.isoformat() if offer.valid_from else None,
            "valid_until": offer.valid_until.isoformat() if offer.valid_until else None,
            "channels": [
                {"channel": channel, "content_version": content.version}
                for (offer_id, channel), content in sorted(approved.items())
                if offer_id == offer.pk
            ],
        }
