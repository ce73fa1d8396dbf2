"""Customer endpoints. They orchestrate across layers (a consent revoke cancels
decisioning's messages, an identity link resolves kept events), so they live in the
highest layer involved; the shapes come from customers.api and compliance.api."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from compliance.api.serializers import (
    ConsentChangeSerializer,
    ConsentInputSerializer,
    ConsentSerializer,
    SuppressionSerializer,
)
from compliance.choices import ConsentChannel, ConsentStatus
from core.api.permissions import require_channel, roles
from core.api.schema import READ, WRITE, errors
from core.api.views import ApiView, validated
from core.choices import Role
from core.exceptions import NotFound, ValidationFailed
from customers.api.serializers import (
    HoldingSerializer,
    IdentityInputSerializer,
    IdentitySerializer,
    ProfileInputSerializer,
    ProfileSerializer,
)
from customers.models import Customer
from customers.selectors import customer_get
from decisioning.rights.consent import consent_change
from decisioning.rights.erasure import customer_erase
from decisioning.selectors import customer_overview, earlier_erasure
from decisioning.signals.identity import customer_put, identity_add

# The bank's customer id as it may appear in a path: 1-64 characters, no slash, no NUL,
# no surrounding whitespace, and not an erased customer's placeholder.
EXTERNAL_ID_PATTERN = r"^(?!erased:)[^\s/\x00](?:[^/\x00]{0,62}[^\s/\x00])?$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)

EXTERNAL_ID_PATH = OpenApiParameter(
    "external_id",
    {"type": "string", "pattern": EXTERNAL_ID_PATTERN, "minLength": 1, "maxLength": 64},
    OpenApiParameter.PATH,
    description="The bank's customer id.",
)


def well_formed(external_id: str) -> bool:
    return bool(_EXTERNAL_ID.match(external_id))


def customer_or_404(external_id: str) -> Customer:
    customer = customer_get(external_id=external_id) if well_formed(external_id) else None
    if customer is None:
        raise NotFound("No such customer.")
    return customer


class CustomerOverviewSerializer(ProfileSerializer):
    holdings = HoldingSerializer(many=True, help_text="Open holdings.")
    consents = ConsentSerializer(many=True, help_text="Per channel, and `all` (global).")
    suppressions = SuppressionSerializer(many=True, help_text="Suppressions in force now.")
    do_not_contact = serializers.BooleanField()

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        body = super().to_representation(customer)
        body["holdings"] = [
            {
                "product_code": holding.product_code,
                "opened_at": holding.opened_at.isoformat() if holding.opened_at else None,
                "source": holding.source,
            }
            for holding in customer.open_holdings
        ]
        consent = ConsentSerializer()
        suppression = SuppressionSerializer()
        body["consents"] = [consent.to_representation(c) for c in customer.consent_list]
        body["suppressions"] = [
            suppression.to_representation(s) for s in customer.open_suppressions
        ]
        body["do_not_contact"] = hasattr(customer, "do_not_contact")
        return body


ERASURE = inline_serializer("ErasureAccepted", {"erasure_id": serializers.UUIDField()})


class CustomerView(ApiView):
    allowed_roles = {
        "PUT": roles(Role.CHANNEL, Role.MARKETER, Role.ADMIN),
        "GET": roles(Role.CHANNEL, Role.MARKETER, Role.COMPLIANCE, Role.ADMIN),
        "DELETE": roles(Role.COMPLIANCE, Role.ADMIN),
    }

    @extend_schema(
        operation_id="customer_put",
        summary="Create or update a customer profile",
        description=(
            "Channel (any channel), marketer, admin. Every field optional: on create missing "
            "fields take their defaults (`time_zone`: the bank's), on update they are left "
            "as they are. `holdings`, when given, is the full set of products held now "
            "(new ones opened, missing ones closed). 201 when created, 200 when updated; the "
            "stored profile comes back as the caller may see it (personal fields by role and "
            "channel, docs/API_FIELDS.md). "
            "Unresolved events naming this customer are processed. An erased customer "
            "cannot be re-created (409)."
        ),
        parameters=[EXTERNAL_ID_PATH],
        request=ProfileInputSerializer,
        responses={
            201: ProfileSerializer,
            200: ProfileSerializer,
            **errors(*WRITE, 409),
        },
        tags=["customers"],
    )
    def put(self, request, external_id):
        if not well_formed(external_id):
            raise ValidationFailed(
                "The customer id is not valid.",
                fields={"external_id": ["1-64 characters, no slash or surrounding spaces"]},
            )
        data = dict(validated(ProfileInputSerializer, request.data))
        holdings = data.pop("holdings", None)
        stored = customer_put(
            actor=self.client, external_id=external_id, profile=data, holdings=holdings
        )
        return Response(
            ProfileSerializer(stored.customer, context={"viewer": self.client}).data,
            status=201 if stored.created else 200,
        )

    @extend_schema(
        operation_id="customer_retrieve",
        summary="A customer's profile, holdings, consents and open suppressions",
        description=(
            "Channel, marketer, compliance, admin (analysts see no personal data). Personal "
            "fields (`first_name`, `last_name`, `email`, `phone`, `birth_date`, `attributes`) "
            "are present only for the callers that may see them (each field's description "
            "says who; a channel client sees the union of its channels'; docs/API_FIELDS.md)."
        ),
        parameters=[EXTERNAL_ID_PATH],
        responses={200: CustomerOverviewSerializer, **errors(*READ, 404)},
        tags=["customers"],
    )
    def get(self, request, external_id):
        customer = customer_overview(external_id=external_id) if well_formed(external_id) else None
        if customer is None:
            raise NotFound("No such customer.")
        return Response(CustomerOverviewSerializer(customer, context={"viewer": self.client}).data)

    @extend_schema(
        operation_id="customer_erase",
        summary="Erase a customer (right to be forgotten)",
        description=(
            "Compliance, admin. PII blanked, identities removed, consents revoked, messages "
            "cancelled, permanently suppressed; the audit ledger keeps only the pseudonymous "
            "reference. Repeating it answers 202 with the same `erasure_id`."
        ),
        parameters=[EXTERNAL_ID_PATH],
        request=None,
        responses={202: ERASURE, **errors(*READ, 404)},
        tags=["customers"],
    )
    def delete(self, request, external_id):
        if not well_formed(external_id):
            raise NotFound("No such customer.")
        customer = customer_get(external_id=external_id)
        if customer is None:
            earlier = earlier_erasure(external_id=external_id)
            if earlier is None:
                raise NotFound("No such customer.")
            return Response({"erasure_id": str(earlier.pk)}, status=202)
        erasure = customer_erase(actor=self.client, customer=customer)
        return Response({"erasure_id": str(erasure.pk)}, status=202)


class IdentityCreateView(ApiView):
    allowed_roles = roles(Role.CHANNEL, Role.MARKETER, Role.ADMIN)

    @extend_schema(
        operation_id="customer_identity_create",
        summary="Link an identifier to a customer",
        description=(
            "Channel, marketer, admin. 201 for a new link, 200 when the same identifier was "
            "already linked to this customer (method and confidence updated); 409 when it is "
            "linked to another customer. Kept events that named the customer by this "
            "identifier are processed (`resolved_events`)."
        ),
        parameters=[EXTERNAL_ID_PATH],
        request=IdentityInputSerializer,
        responses={
            201: IdentitySerializer,
            200: IdentitySerializer,
            **errors(*WRITE, 404, 409),
        },
        tags=["customers"],
    )
    def post(self, request, external_id):
        customer = customer_or_404(external_id)
        data = validated(IdentityInputSerializer, request.data)
        stored = identity_add(actor=self.client, customer=customer, **data)
        return Response(IdentitySerializer(stored).data, status=201 if stored.created else 200)


class ConsentView(ApiView):
    allowed_roles = roles(Role.CHANNEL, Role.COMPLIANCE, Role.ADMIN)

    @extend_schema(
        operation_id="customer_consent_put",
        summary="Record a consent change on a channel, or `all` (global opt-out)",
        description=(
            "Channel, compliance, admin. A revoke cancels that channel's queued and leased "
            "sales messages for the customer before it returns (`all`: every outbound "
            "channel's). A channel client may record a revoke for any channel (an opt-out is "
            "honoured wherever the customer says it) but a grant only for a channel it may "
            "act for (not `all`). The latest capture wins; `captured_at` may not be in the "
            "future (400)."
        ),
        parameters=[
            EXTERNAL_ID_PATH,
            OpenApiParameter(
                "channel",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(ConsentChannel.values),
                description="A channel, or `all` for marketing as a whole.",
            ),
        ],
        request=ConsentInputSerializer,
        responses={200: ConsentChangeSerializer, **errors(*WRITE, 404, 422)},
        tags=["customers"],
    )
    def put(self, request, external_id, channel):
        if channel not in ConsentChannel.values:
            raise NotFound(f"No consent channel {channel!r}.")
        customer = customer_or_404(external_id)
        data = validated(ConsentInputSerializer, request.data)
        if data["status"] == ConsentStatus.GRANTED:
            require_channel(self.client, channel)
        change = consent_change(
            actor=self.client,
            customer=customer,
            channel=channel,
            status=data["status"],
            source=data["source"],
            captured_at=data["captured_at"],
        )
        return Response(ConsentChangeSerializer(change).data)
