from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.response import Response

from core.api.fields import TEXT_PATTERN
from core.api.permissions import ALL_ROLES
from core.api.schema import READ, errors
from core.api.views import ApiMixin
from offers.api.filtersets import OfferApiFilterSet
from offers.api.serializers import OfferSerializer
from offers.choices import OfferStatus
from offers.selectors import approved_content, offer_list


@extend_schema_view(
    list=extend_schema(
        operation_id="offer_list",
        summary="Active offers with product, family and the channels with approved content",
        description="Any role. Active offers inside their validity window.",
        parameters=[
            OpenApiParameter(
                "product",
                {"type": "string", "minLength": 1, "maxLength": 32, "pattern": TEXT_PATTERN},
                OpenApiParameter.QUERY,
                description="Product code",
            )
        ],
        responses={200: OfferSerializer(many=True), **errors(*READ, 400)},
        tags=["catalog"],
    ),
    retrieve=extend_schema(
        operation_id="offer_retrieve",
        summary="One active offer",
        description="Any role.",
        responses={200: OfferSerializer, **errors(*READ, 404)},
        tags=["catalog"],
    ),
)
class OfferViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    allowed_roles = ALL_ROLES
    serializer_class = OfferSerializer
    filterset_class = OfferApiFilterSet
    lookup_field = "code"
    lookup_value_regex = r"[^/\x00]+"

    def get_queryset(self):
        now = timezone.now()
        return offer_list(status=OfferStatus.ACTIVE).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=now),
            Q(valid_until__isnull=True) | Q(valid_until__gt=now),
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        offers = list(page if page is not None else queryset)
        serializer = OfferSerializer(
            offers, many=True, context={"approved": approved_content(offers=offers)}
        )
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    def retrieve(self, request, *args, **kwargs):
        offer = self.get_object()
        return Response(
            OfferSerializer(offer, context={"approved": approved_content(offers=[offer])}).data
        )
