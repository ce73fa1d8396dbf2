"""The KPI endpoint's shapes: its query parameters and its body (for the schema; the
body is built by ``results.selectors.report_dict``)."""

from __future__ import annotations

from rest_framework import serializers

from core.choices import Channel


class KpiQuerySerializer(serializers.Serializer):
    campaign = serializers.CharField(required=False, help_text="A campaign's code.")
    offer = serializers.CharField(required=False, help_text="An offer's code.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    since = serializers.DateField(
        required=False, help_text="First bank-local day, inclusive (default: 29 days before until)."
    )
    until = serializers.DateField(
        required=False, help_text="Last bank-local day, inclusive (default: today)."
    )


class ResponsesSerializer(serializers.Serializer):
    impression = serializers.IntegerField()
    click = serializers.IntegerField()
    accept = serializers.IntegerField()
    decline = serializers.IntegerField()
    dismiss = serializers.IntegerField()


class FunnelFields(serializers.Serializer):
    offers_released = serializers.IntegerField(help_text="Contacts not cancelled at send time.")
    cancelled_at_send = serializers.IntegerField()
    customers_reached = serializers.IntegerField(
        help_text="Customers reached, each counted once per day, offer and channel."
    )
    responses = ResponsesSerializer()
    acceptance_rate = serializers.FloatField(allow_null=True)
    conversions = serializers.IntegerField(
        help_text="Offers whose customer opened the product within the attribution window."
    )
    conversion_rate = serializers.FloatField(allow_null=True)
    opt_outs = serializers.IntegerField()
    opt_out_rate = serializers.FloatField(allow_null=True)
    duplicates_prevented = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2, coerce_to_string=True)
    revenue_per_customer = serializers.DecimalField(
        max_digits=16, decimal_places=2, coerce_to_string=True, allow_null=True
    )


class ChannelFunnelSerializer(FunnelFields):
    channel = serializers.CharField(help_text="Empty: duplicates a batch run prevented.")


class AdoptionFields(serializers.Serializer):
    decisions = serializers.IntegerField()
    presented = serializers.IntegerField()
    presented_share = serializers.FloatField(allow_null=True)
    overridden = serializers.IntegerField()
    overridden_share = serializers.FloatField(allow_null=True)


class ChannelAdoptionSerializer(AdoptionFields):
    channel = serializers.CharField()


class AdoptionSerializer(AdoptionFields):
    by_channel = ChannelAdoptionSerializer(many=True)


class GroupSerializer(serializers.Serializer):
    decisions = serializers.IntegerField()
    conversions = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class LiftSerializer(serializers.Serializer):
    label = serializers.CharField()
    treated = GroupSerializer()
    control = GroupSerializer()
    measurable = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    difference = serializers.FloatField(allow_null=True, help_text="Treated minus control rate.")
    ci95_low = serializers.FloatField(allow_null=True, help_text="Newcombe hybrid score.")
    ci95_high = serializers.FloatField(allow_null=True)
    relative_lift = serializers.FloatField(allow_null=True)
    z = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True, help_text="Two-proportion z-test, pooled.")
    significant = serializers.BooleanField()


class OfferLiftSerializer(LiftSerializer):
    offer = serializers.CharField()


class SegmentUpliftSerializer(serializers.Serializer):
    age_band = LiftSerializer(many=True)
    tenure_band = LiftSerializer(many=True)
    holdings_band = LiftSerializer(many=True)


class UpliftSerializer(serializers.Serializer):
    by_offer = OfferLiftSerializer(many=True)
    by_segment = SegmentUpliftSerializer()


class LatencySerializer(serializers.Serializer):
    decisions = serializers.IntegerField()
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


class KpiSerializer(FunnelFields):
    since = serializers.DateField()
    until = serializers.DateField()
    campaign = serializers.CharField(allow_null=True)
    offer = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    days = serializers.IntegerField()
    days_computed = serializers.IntegerField(help_text="Days of the range computed so far.")
    computed_at = serializers.DateTimeField(allow_null=True)
    attribution_days = serializers.IntegerField(allow_null=True)
    by_channel = ChannelFunnelSerializer(many=True)
    adoption = AdoptionSerializer()
    lift = LiftSerializer()
    uplift = UpliftSerializer()
    latency_ms = LatencySerializer()
