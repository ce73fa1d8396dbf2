from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from campaigns.api.filtersets import CampaignApiFilterSet
from campaigns.api.serializers import CampaignSerializer
from campaigns.selectors import campaign_list
from core.api.permissions import roles
from core.api.schema import READ, errors
from core.api.views import ApiMixin
from core.choices import Role


@extend_schema_view(
    list=extend_schema(
        operation_id="campaign_list",
        summary="Campaigns with their status",
        description="Marketer, compliance, admin. Filter by `status` and `kind`.",
        responses={200: CampaignSerializer(many=True), **errors(*READ, 400)},
        tags=["catalog"],
    ),
    retrieve=extend_schema(
        operation_id="campaign_retrieve",
        summary="One campaign",
        description="Marketer, compliance, admin.",
        responses={200: CampaignSerializer, **errors(*READ, 404)},
        tags=["catalog"],
    ),
)
class CampaignViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    allowed_roles = roles(Role.MARKETER, Role.COMPLIANCE, Role.ADMIN)
    serializer_class = CampaignSerializer
    filterset_class = CampaignApiFilterSet
    lookup_field = "code"
    lookup_value_regex = r"[^/\x00]+"

    def get_queryset(self):
        return campaign_list()
