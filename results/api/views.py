from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core.api.filters import query_dict
from core.api.permissions import roles
from core.api.schema import READ, errors
from core.api.views import ApiView
from core.choices import Role
from results.api.serializers import KpiQuerySerializer, KpiSerializer
from results.filtersets import results_filters
from results.selectors import kpi_report, report_dict

READERS = roles(Role.MARKETER, Role.COMPLIANCE, Role.ADMIN)


class KpiView(ApiView):
    allowed_roles = READERS
    query_parameters = frozenset({"campaign", "offer", "channel", "since", "until"})

    @extend_schema(
        operation_id="kpis",
        summary="Campaign results: KPIs, lift against control, uplift by offer and segment",
        description=(
            "Marketer, compliance, admin. Read from the aggregate tables Celery computes "
            "(`compute_kpis`); `days_computed` says how much of the range they cover. "
            "`since`/`until` are inclusive bank-local days (default: the last 30 days). "
            "An unknown campaign or offer, a bad date or a reversed range is 400. Lift and "
            "uplift compare the conversion rate (the offered product opened within "
            "`attribution_days`) of treated and control decisions of sales offers: the "
            "difference with its 95 % Newcombe interval, and the pooled two-proportion "
            "z-test's p-value."
        ),
        parameters=[KpiQuerySerializer],
        responses={200: KpiSerializer, **errors(*READ)},
        tags=["results"],
    )
    def get(self, request):
        filters = results_filters(query_dict(request.query_params))
        return Response(report_dict(kpi_report(filters)))
