"""The results screens: the dashboard over every campaign and one campaign's results,
over a chosen date range (the filters of ``results.filtersets``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from campaigns.models import Campaign
from core import permissions
from core.channels import ALL_CHANNELS
from core.exceptions import ValidationFailed
from core.htmx import render_page
from core.permissions import role_required
from results import charts
from results.choices import Segment
from results.filtersets import results_filters
from results.selectors import kpi_report

RESULTS_READ = permissions.CAMPAIGN_READ


def _render(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    # The page's own form sends its "every campaign / every channel" choices as blank
    # values: on this page a blank filter is no filter (the API refuses them instead).
    params = {key: value for key in request.GET if (value := request.GET.getlist(key)[-1].strip())}
    context: dict = {
        "campaign": campaign,
        "params": params,
        "channels": sorted(ALL_CHANNELS),
        "campaigns": list(Campaign.objects.order_by("code").values_list("code", flat=True))
        if campaign is None
        else [],
        "since_value": params.get("since", ""),
        "until_value": params.get("until", ""),
    }
    try:
        filters = results_filters(params, campaign=campaign)
    except ValidationFailed as refused:
        context["errors"] = refused.fields
        return render_page(request, "results/results.html", context, status=400)
    report = kpi_report(filters)
    segments = [
        (label, charts.forest(report.uplift_by_segment[value]), report.uplift_by_segment[value])
        for value, label in Segment.choices
    ]
    context.update(
        since_value=filters.since.isoformat(),
        until_value=filters.until.isoformat(),
        filters=filters,
        report=report,
        daily=charts.daily_bars(report.series),
        channel_chart=charts.channel_bars(report.by_channel),
        lift_chart=charts.forest([report.lift, *(lift for _, lift in report.uplift_by_offer)]),
        segments=segments,
    )
    return render_page(request, "results/results.html", context)


@role_required(RESULTS_READ)
def dashboard(request: HttpRequest) -> HttpResponse:
    return _render(request, None)


@role_required(RESULTS_READ)
def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, get_object_or_404(Campaign, pk=pk))
