"""Channel actions (API.md): one view per operation, input and output serializers, a
service call. No business rules here: views check roles and channels, validate input and
shape output; what they read comes from ``decisioning.selectors``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api.permissions import (
    CHANNEL,
    require_any_channel,
    require_channel,
    roles,
)
from core.api.schema import READ, WRITE, errors
from core.api.views import ApiView, validated
from core.channels import OUTBOUND
from core.choices import Role
from core.exceptions import NotFound, Unprocessable
from decisioning.api.serializers import (
    AckInputSerializer,
    AckSerializer,
    DecisionDetailSerializer,
    DecisionInputSerializer,
    DecisionSerializer,
    EventAcceptedSerializer,
    EventInputSerializer,
    LeaseInputSerializer,
    LeaseSerializer,
    OverrideInputSerializer,
    OverrideSerializer,
    ResponseInputSerializer,
    ResponseSerializer,
)
from decisioning.decisions.inbound import decide_inbound_for
from decisioning.feedback.overrides import override_record
from decisioning.feedback.responses import response_record
from decisioning.models import Decision
from decisioning.outbound.ack import message_ack
from decisioning.outbound.lease import messages_lease
from decisioning.selectors import decision_get, message_channel
from decisioning.signals.ingest import event_ingest


def decision_channels(decision: Decision) -> set[str]:
    """The channels a decision concerns: where it was asked, and where it released."""
    channels = {item.get("channel") for item in decision.offers or ()}
    channels.add(decision.channel)
    return {channel for channel in channels if channel}


class EventCreateView(ApiView):
    allowed_roles = roles(Role.CHANNEL, Role.ADMIN)

    @extend_schema(
        operation_id="event_create",
        summary="Send a signal",
        description=(
            "Channel, admin. Idempotent by `event_id`: the same body again answers 202 with "
            "`duplicate: true` and the original status, a different body 409. An event whose "
            "customer cannot be resolved is kept as `unresolved` and processed when an "
            "identity link or profile names the customer. An event naming an erased customer "
            "(the erased id, their former id or a former identifier) is kept as `erased`: "
            "the identifier is replaced by a redaction marker, and it is never processed. A "
            "channel client may only send events for channels it may act for (403)."
        ),
        request=EventInputSerializer,
        responses={202: EventAcceptedSerializer, **errors(*WRITE, 409)},
        tags=["signals"],
    )
    def post(self, request):
        data = validated(EventInputSerializer, request.data)
        if data.get("channel"):
            require_channel(self.client, data["channel"])
        ingested = event_ingest(
            actor=self.client,
            event_id=data["event_id"],
            type=data["type"],
            occurred_at=data["occurred_at"],
            customer=data["customer"],
            channel=data.get("channel", ""),
            payload=data["payload"],
        )
        return Response(EventAcceptedSerializer(ingested).data, status=202)


class DecisionCreateView(ApiView):
    allowed_roles = CHANNEL

    @extend_schema(
        operation_id="decision_create",
        summary="Next best offers for a customer present on an inbound channel",
        description=(
            "Channel clients, for a channel they may act for. The customer is named by "
            "`external_id` or an identifier; an unknown customer is 404. A customer who was "
            "erased at their request is addressable by no reference (the erased id, their "
            "former id or a former identifier): 422, nothing decided or stored. An empty "
            "`offers` list is a normal answer; `suppressed` lists what was held back and why "
            "(stable reason codes). Every offer returned is audited as released."
        ),
        request=DecisionInputSerializer,
        responses={200: DecisionSerializer, **errors(*WRITE, 404, 422)},
        tags=["decisions"],
    )
    def post(self, request):
        data = validated(DecisionInputSerializer, request.data)
        require_channel(self.client, data["channel"])
        context = data.get("context") or {}
        # resolves the customer (404 / 422) in the same read as their context
        decision = decide_inbound_for(
            actor=self.client,
            reference=data["customer"],
            channel=data["channel"],
            event_type=context.get("event_type"),
            page=context.get("page"),
            max_offers=data.get("max_offers"),
        )
        return Response(DecisionSerializer(decision).data)


class DecisionDetailView(ApiView):
    allowed_roles = roles(Role.CHANNEL, Role.COMPLIANCE, Role.ADMIN)

    @extend_schema(
        operation_id="decision_retrieve",
        summary="A decision with its full explanation",
        description="Compliance, admin; channel clients for decisions on their channels.",
        responses={200: DecisionDetailSerializer, **errors(*READ, 404)},
        tags=["decisions"],
    )
    def get(self, request, decision_id):
        decision = decision_get(pk=decision_id)
        if decision is None:
            raise NotFound("No such decision.")
        require_any_channel(self.client, decision_channels(decision))
        return Response(DecisionDetailSerializer(decision).data)


CHANNEL_PATH = OpenApiParameter(
    "channel",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=sorted(OUTBOUND),
    description="An outbound channel.",
)


class MessageLeaseView(ApiView):
    allowed_roles = CHANNEL

    @extend_schema(
        operation_id="messages_lease",
        summary="Lease due outbound messages",
        description=(
            "Channel clients, for a channel they may act for. Leases up to `max` (1-500) "
            "messages for `lease_seconds` (1-3600). Atomic: two clients leasing at once "
            "never receive the same message. The pre-send gate re-checks consent, "
            "do-not-contact, erasure, suppressions, holdings, decline cooldown and quiet "
            "hours, and cancels (or, for quiet hours, defers) what fails instead of handing "
            "it out. A message whose lease expires without an ack is leased again later. "
            "Every message handed out is audited as released."
        ),
        parameters=[CHANNEL_PATH],
        request=LeaseInputSerializer,
        responses={200: LeaseSerializer, **errors(*WRITE, 404)},
        tags=["messages"],
    )
    def post(self, request, channel):
        if channel not in OUTBOUND:
            raise NotFound(f"No outbound message queue for channel {channel!r}.")
        require_channel(self.client, channel)
        data = validated(LeaseInputSerializer, request.data)
        result = messages_lease(
            actor=self.client,
            channel=channel,
            max_messages=data["max"],
            lease_seconds=data["lease_seconds"],
        )
        return Response(LeaseSerializer(result).data)


class MessageAckView(ApiView):
    allowed_roles = CHANNEL

    @extend_schema(
        operation_id="message_ack",
        summary="Confirm delivery (or failure) of a leased message",
        description=(
            "Channel clients, for the message's channel. Repeating the same ack is "
            "harmless (200, `duplicate: true`); acking a message that is not leased "
            "(cancelled, never leased, or acked with the other status) is 409, and so is "
            "an ack whose `lease_id` names an older lease of the message (addition)."
        ),
        request=AckInputSerializer,
        responses={200: AckSerializer, **errors(*WRITE, 404, 409)},
        tags=["messages"],
    )
    def post(self, request, message_id):
        channel = message_channel(message_id=message_id)
        if channel is None:
            raise NotFound("No such message.")
        require_channel(self.client, channel)
        data = validated(AckInputSerializer, request.data)
        result = message_ack(
            actor=self.client,
            message_id=message_id,
            status=data["status"],
            provider_ref=data["provider_ref"],
            error=data["error"],
            lease_id=data.get("lease_id"),
        )
        return Response(AckSerializer(result).data)


class ResponseCreateView(ApiView):
    allowed_roles = CHANNEL

    @extend_schema(
        operation_id="response_create",
        summary="Record a customer's response to an offer",
        description=(
            "Channel clients, for the response's channel. Idempotent by `response_id`: the "
            "first time 201; the same body again 200 with the original result and "
            "`duplicate: true`; a different body 409. `accept` of a sales offer records the "
            "product as held (its family is never offered again); `decline` starts the "
            "decline cooldown on every channel before the call returns. 422 for an unknown "
            "offer code, decision or message, an offer the decision did not make, or a "
            "response that names no decision, message or customer."
        ),
        request=ResponseInputSerializer,
        responses={
            201: ResponseSerializer,
            200: ResponseSerializer,
            **errors(*WRITE, 409, 422),
        },
        tags=["responses"],
    )
    def post(self, request):
        data = validated(ResponseInputSerializer, request.data)
        require_channel(self.client, data["channel"])
        recorded = response_record(
            actor=self.client,
            response_id=data["response_id"],
            decision_id=data.get("decision_id"),
            message_id=data.get("message_id"),
            customer_ref=data.get("customer"),
            offer_code=data["offer_code"],
            outcome=data["outcome"],
            occurred_at=data["occurred_at"],
            channel=data["channel"],
            agent_id=data["agent_id"],
        )
        return Response(
            ResponseSerializer(recorded).data, status=200 if recorded.duplicate else 201
        )


class OverrideCreateView(ApiView):
    allowed_roles = CHANNEL

    @extend_schema(
        operation_id="override_create",
        summary="Record that a banker or agent overrode the recommendation",
        description=(
            "Channel clients, for the decision's channel. `replace` names the offer made "
            "instead; `suppress` may name the recommended offer withheld. 422 for an unknown "
            "decision or offer code, or a replace without `offer_code`. Audited."
        ),
        request=OverrideInputSerializer,
        responses={201: OverrideSerializer, **errors(*WRITE, 422)},
        tags=["responses"],
    )
    def post(self, request):
        data = validated(OverrideInputSerializer, request.data)
        decision = decision_get(pk=data["decision_id"])
        if decision is None:
            raise Unprocessable("Unknown decision.", fields={"decision_id": ["unknown decision"]})
        require_any_channel(self.client, decision_channels(decision))
        override = override_record(
            actor=self.client,
            decision=decision,
            agent_id=data["agent_id"],
            action=data["action"],
            offer_code=data.get("offer_code"),
            reason=data["reason"],
        )
        return Response(OverrideSerializer(override).data, status=201)
