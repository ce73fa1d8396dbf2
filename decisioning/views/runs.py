"""Batch runs and simulations: the campaign screens post here."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from core import permissions
from core.exceptions import ApplicationError
from core.htmx import render_page
from core.permissions import role_required
from decisioning import selectors
from decisioning.runs import batch, simulate


def _campaign_or_404(pk: int) -> Campaign:
    campaign = selectors.campaign_get(pk=pk)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


@role_required(permissions.CAMPAIGN_WRITE)
@require_POST
def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a batch run (or a shadow run) of the campaign over its audience."""
    campaign = _campaign_or_404(pk)
    try:
        run = batch.campaign_run_start(
            actor=request.user, campaign=campaign, shadow=request.POST.get("shadow") == "1"
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("campaigns:campaign_detail", pk=pk)
    messages.success(request, f"Run {run.pk} started over {run.total_customers:,} customers.")
    return redirect("campaigns:run_detail", pk=run.pk)


@role_required(permissions.CAMPAIGN_WRITE)
@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Resume a failed or stalled run: the chunks not done are queued again."""
    run = selectors.run_get(pk=pk)
    if run is None:
        raise Http404("No such run.")
    try:
        resumed = batch.campaign_run_resume(actor=request.user, run=run)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("campaigns:run_detail", pk=pk)
    if resumed.queued_chunks < resumed.pending_chunks:
        messages.warning(
            request,
            f"Run {run.pk} resumed: {resumed.queued_chunks} of {resumed.pending_chunks} chunks "
            "queued now, the rest as soon as the task queue answers.",
        )
    else:
        messages.success(
            request, f"Run {run.pk} resumed: {resumed.pending_chunks} chunks to finish."
        )
    return redirect("campaigns:run_detail", pk=pk)


@role_required(permissions.CAMPAIGN_WRITE)
@require_POST
def campaign_simulate(request: HttpRequest, pk: int) -> HttpResponse:
    """Audience size, suppression funnel and expected conversions; stores nothing."""
    campaign = _campaign_or_404(pk)
    try:
        report = simulate.campaign_simulate(campaign=campaign)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("campaigns:campaign_detail", pk=pk)
    funnel = list(report.funnel.items())
    context = {
        "campaign": campaign,
        "report": report,
        "funnel": funnel,
        "funnel_max": max((count for _, count in funnel), default=0),
        "by_offer": sorted(report.by_offer.items(), key=lambda item: -item[1]),
        "by_channel": sorted(report.by_channel.items(), key=lambda item: -item[1]),
    }
    return render_page(request, "decisioning/simulation.html", context)
