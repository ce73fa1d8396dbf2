"""Customer profile, holdings and identity links as the channel API carries them."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from rest_framework import serializers

from core.api.fields import JSONObjectField, StrictFloatField, text
from customers.choices import IdentifierType, IncomeBand, LinkMethod, RiskBand
from customers.models import Customer, IdentityLink


@cache
def time_zone_choices() -> list[str]:
    return sorted(available_timezones())


class ProfileInputSerializer(serializers.Serializer):
    """Every field optional. On create, missing fields take their defaults (``time_zone``
    the bank's); on update, missing fields are left as they are. ``holdings``, when
    given, is the full set of products held now: new ones are opened, missing ones
    closed."""

    first_name = text(100, blank=True, required=False)
    last_name = text(100, blank=True, required=False)
    email = serializers.EmailField(max_length=254, allow_blank=True, required=False)
    phone = text(32, blank=True, required=False)
    birth_date = serializers.DateField(allow_null=True, required=False)
    customer_since = serializers.DateField(allow_null=True, required=False)
    region = text(64, blank=True, required=False)
    branch_code = text(32, blank=True, required=False)
    time_zone = serializers.ChoiceField(
        choices=time_zone_choices(), required=False, help_text="IANA time zone."
    )
    risk_band = serializers.ChoiceField(choices=RiskBand.choices, allow_blank=True, required=False)
    income_band = serializers.ChoiceField(
        choices=IncomeBand.choices, allow_blank=True, required=False
    )
    attributes = JSONObjectField(required=False, help_text="Free attributes the rules can read.")
    holdings = serializers.ListField(
        child=text(32), max_length=200, required=False, help_text="Product codes held now."
    )


class HoldingSerializer(serializers.Serializer):
    product_code = serializers.CharField()
    opened_at = serializers.DateField(allow_null=True)
    source = serializers.CharField(allow_blank=True)


PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "customer_since",
    "region",
    "branch_code",
    "time_zone",
    "risk_band",
    "income_band",
    "attributes",
)


class ProfileSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    birth_date = serializers.DateField(allow_null=True)
    customer_since = serializers.DateField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    branch_code = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField()
    risk_band = serializers.CharField(allow_blank=True)
    income_band = serializers.CharField(allow_blank=True)
    attributes = JSONObjectField()
    holdings = serializers.ListField(child=serializers.CharField(), help_text="Open holdings.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        body: dict[str, Any] = {"external_id": customer.external_id}
        for name in PROFILE_FIELDS:
            value = getattr(customer, name)
            body[name] = value.isoformat() if hasattr(value, "isoformat") else value
        open_holdings = getattr(customer, "open_holdings", None)
        if open_holdings is None:
            open_holdings = customer.holdings.filter(closed_at__isnull=True).order_by(
                "product_code"
            )
        body["holdings"] = [holding.product_code for holding in open_holdings]
        body["created_at"] = customer.created_at.isoformat()
        body["updated_at"] = customer.updated_at.isoformat()
        return body


class IdentityInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=IdentifierType.choices)
    value = text(256)
    method = serializers.ChoiceField(
        choices=LinkMethod.choices, default=LinkMethod.DETERMINISTIC, required=False
    )
    confidence = StrictFloatField(
        min_value=0.0,
        max_value=1.0,
        default=1.0,
        required=False,
        help_text="0..1; a deterministic link is always 1. Probabilistic links resolve "
        "customers only at or above the bank's threshold (default 0.9).",
    )
    source = text(100, blank=True, required=False, default="")


class IdentitySerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external_id.")
    type = serializers.ChoiceField(choices=IdentifierType.choices)
    value = serializers.CharField()
    method = serializers.ChoiceField(choices=LinkMethod.choices)
    confidence = serializers.FloatField()
    created_at = serializers.DateTimeField()
    resolved_events = serializers.IntegerField(
        help_text="Kept, unresolved events this link attached to the customer."
    )

    def to_representation(self, stored) -> dict[str, Any]:
        link: IdentityLink = stored.link
        return {
            "customer": link.customer.external_id,
            "type": link.type,
            "value": link.value,
            "method": link.method,
            "confidence": link.confidence,
            "created_at": link.created_at.isoformat(),
            "resolved_events": stored.resolved_events,
        }
