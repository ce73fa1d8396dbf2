"""Customer profile, holdings and identity links as the channel API carries them.

Personal data is shown by role and channel (DESIGN.md rule 10; the matrix and its
reasons are in docs/API_FIELDS.md). ``visible_personal_fields`` is the one place that
says which personal fields a caller sees; it derives the channel rows from the channel
registry, so a new channel gets its row from its entry there. Output serializers take
the caller as ``context["viewer"]`` (an API client: ``role`` and ``channels``) and leave
out what it may not see; without a viewer they show no personal data at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Protocol
from zoneinfo import available_timezones

from rest_framework import serializers

from core.api.fields import JSONObjectField, StrictFloatField, text
from core.channels import CHANNELS, ChannelSpec
from core.choices import Role
from customers.choices import IdentifierType, IncomeBand, LinkMethod, RiskBand
from customers.models import Customer, IdentityLink
from customers.services import PII_FIELDS

# --- who sees which personal field ------------------------------------------------------

# Personal data is exactly what erasure blanks; everything else a profile carries is a
# classification (region, bands, tenure, time zone) or the bank's id, shown to every
# caller of the endpoint.
PERSONAL_FIELDS: tuple[str, ...] = PII_FIELDS
NAME_FIELDS = frozenset({"first_name", "last_name"})

# Roles other than ``channel``: what each sees of the personal fields.
ROLE_PERSONAL_FIELDS: dict[str, frozenset[str]] = {
    # Oversight: erasure requests, complaints, regulator exports, support.
    Role.COMPLIANCE: frozenset(PERSONAL_FIELDS),
    Role.ADMIN: frozenset(PERSONAL_FIELDS),
    # Targeting: the free attributes audience rules read, never whom or how to contact
    # (delivery goes through the channels, consent and the contact policy) nor the
    # birth date (the engine reads the age; the date is an authentication factor).
    Role.MARKETER: frozenset({"attributes"}),
    Role.ANALYST: frozenset(),
}


def channel_personal_fields(spec: ChannelSpec) -> frozenset[str]:
    """A channel's row, from the registry: a person at a desk (``human``) addresses the
    customer by name; a gateway sees the one contact field it delivers to, when that is
    a profile field (push's device id comes from identity links, not the profile)."""
    fields: set[str] = set()
    if spec.human:
        fields |= NAME_FIELDS
    if spec.contact_field in PERSONAL_FIELDS:
        fields.add(spec.contact_field)
    return frozenset(fields)


CHANNEL_PERSONAL_FIELDS: dict[str, frozenset[str]] = {
    spec.code: channel_personal_fields(spec) for spec in CHANNELS
}


def visible_personal_fields(role: str, channels: Iterable[str] = ()) -> frozenset[str]:
    """The personal fields a caller with this role (and, for ``channel``, these channels)
    sees: a channel client with several channels sees the union of their rows; an
    unknown role or channel sees none."""
    if role == Role.CHANNEL:
        return frozenset().union(
            *(CHANNEL_PERSONAL_FIELDS.get(channel, frozenset()) for channel in channels)
        )
    return ROLE_PERSONAL_FIELDS.get(role, frozenset())


class Viewer(Protocol):
    role: str
    channels: Any


def viewer_personal_fields(viewer: Viewer | None) -> frozenset[str]:
    if viewer is None:
        return frozenset()
    return visible_personal_fields(viewer.role, viewer.channels or ())


def personal_help(field: str) -> str:
    """The schema's note on a personal field: who sees it, from the matrix itself."""
    roles = [role for role, fields in ROLE_PERSONAL_FIELDS.items() if field in fields]
    channels = [code for code, fields in CHANNEL_PERSONAL_FIELDS.items() if field in fields]
    seen_by = ", ".join([*roles, *(f"channel {code}" for code in channels)])
    return (
        f"Personal data, present only for the callers that may see it ({seen_by}); "
        "see docs/API_FIELDS.md."
    )


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
    """A stored profile as ``context["viewer"]`` may see it: the personal fields it may
    not see are absent (not blanked), so absence never reads as "no e-mail on file"."""

    external_id = serializers.CharField()
    first_name = serializers.CharField(
        allow_blank=True, required=False, help_text=personal_help("first_name")
    )
    last_name = serializers.CharField(
        allow_blank=True, required=False, help_text=personal_help("last_name")
    )
    email = serializers.CharField(
        allow_blank=True, required=False, help_text=personal_help("email")
    )
    phone = serializers.CharField(
        allow_blank=True, required=False, help_text=personal_help("phone")
    )
    birth_date = serializers.DateField(
        allow_null=True, required=False, help_text=personal_help("birth_date")
    )
    customer_since = serializers.DateField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    branch_code = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField()
    risk_band = serializers.CharField(allow_blank=True)
    income_band = serializers.CharField(allow_blank=True)
    attributes = JSONObjectField(required=False, help_text=personal_help("attributes"))
    holdings = serializers.ListField(child=serializers.CharField(), help_text="Open holdings.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        visible = viewer_personal_fields(self.context.get("viewer"))
        body: dict[str, Any] = {"external_id": customer.external_id}
        for name in PROFILE_FIELDS:
            if name in PERSONAL_FIELDS and name not in visible:
                continue
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
