"""Campaign screens: list, detail, builder, lifecycle actions, runs and contact policy.

Reads are here with the joins they need; writes call ``campaigns.services``. Starting a
batch run and simulating are decisioning work, so those buttons post to
``decisioning.views``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.choices import CampaignKind, CampaignStatus, ChunkStatus, RunStatus
from campaigns.filtersets import CampaignFilterSet
from campaigns.forms import CampaignForm, CampaignOfferFormSet, ContactPolicyForm, offer_rows
from campaigns.models import Campaign, CampaignOffer, CampaignRun
from compliance import selectors as compliance_selectors
from compliance.choices import ApprovalSubject
from core import permissions
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.history import history_rows
from core.htmx import confirmation_page, confirmed, render_page
from core.paging import page_of
from core.permissions import has_role, role_required
from offers.selectors import product_list

RUNS_SHOWN = 10
LIVE_RUN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
FINISHED = frozenset({CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED})


# --- reads ------------------------------------------------------------------------------------


@role_required(permissions.CAMPAIGN_READ)
def campaign_list(request: HttpRequest) -> HttpResponse:
    queryset = Campaign.objects.annotate(offer_count=Count("campaign_offers")).order_by(
        "-priority", "code"
    )
    filterset = CampaignFilterSet(request.GET, queryset=queryset)
    page = page_of(request, filterset.qs)
    context = {
        "filter": filterset,
        "page": page,
        "can_write": has_role(request.user, permissions.CAMPAIGN_WRITE),
    }
    return render_page(
        request,
        "campaigns/campaign_list.html",
        context,
        partial="campaigns/partials/campaign_table.html",
    )


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("created_by").prefetch_related(
            Prefetch(
                "campaign_offers",
                queryset=CampaignOffer.objects.select_related("offer__product").order_by(
                    "arm", "offer__code"
                ),
            )
        ),
        pk=pk,
    )


def _actions(campaign: Campaign) -> list[dict[str, str]]:
    """The lifecycle buttons this campaign's status allows (the services check again)."""
    status = campaign.status
    actions = []
    if status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        actions.append({"name": "submit", "label": "Submit targeting", "style": "primary"})
    if status == CampaignStatus.APPROVED:
        actions.append({"name": "launch", "label": "Launch", "style": "ok"})
    if status == CampaignStatus.RUNNING:
        actions.append({"name": "pause", "label": "Pause", "style": ""})
    if status == CampaignStatus.PAUSED:
        actions.append({"name": "resume", "label": "Resume", "style": "ok"})
    if status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.APPROVED):
        actions.append({"name": "complete", "label": "Complete", "style": "danger"})
    return actions


@role_required(permissions.CAMPAIGN_READ)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    approvals = list(
        compliance_selectors.approval_list(
            subject_type=ApprovalSubject.CAMPAIGN_TARGETING, subject_id=campaign.pk
        ).defer("snapshot")
    )
    current = [a for a in approvals if a.subject_version == campaign.targeting_version]
    can_write = has_role(request.user, permissions.CAMPAIGN_WRITE)
    context = {
        "campaign": campaign,
        "campaign_offers": campaign.campaign_offers.all(),
        "approvals": list(reversed(approvals)),
        "current_approval": current[-1] if current else None,
        "runs": list(campaign.runs.order_by("-created_at")[:RUNS_SHOWN]),
        "history": history_rows(campaign, limit=20),
        "can_write": can_write,
        "can_review": has_role(request.user, permissions.APPROVAL_READ),
        "actions": _actions(campaign) if can_write else [],
        "editable": can_write and campaign.status not in FINISHED,
    }
    return render_page(request, "campaigns/campaign_detail.html", context)


@role_required(permissions.CAMPAIGN_READ)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A batch run; while it runs, its progress fragment polls itself every second."""
    run = get_object_or_404(CampaignRun.objects.select_related("campaign"), pk=pk)
    context = {
        "run": run,
        "live": run.status in LIVE_RUN_STATUSES,
        "outcomes": sorted(run.outcome_counts.items(), key=lambda item: -item[1]),
        "suppressions": sorted(run.suppression_counts.items(), key=lambda item: -item[1]),
        "chunks": run.chunks.aggregate(
            total=Count("id"), done=Count("id", filter=Q(status=ChunkStatus.DONE))
        ),
    }
    return render_page(
        request,
        "campaigns/run_detail.html",
        context,
        partial="campaigns/partials/run_progress.html",
    )


@role_required(permissions.CAMPAIGN_READ)
def policy(request: HttpRequest) -> HttpResponse:
    states = selectors.contact_policy_versions()
    active = next((s.policy for s in states if s.policy.is_active), None)
    context = {
        "active": active,
        "versions": states,
        "proposal": selectors.contact_policy_proposal(states),
        "can_write": has_role(request.user, permissions.POLICY_WRITE),
    }
    return render_page(request, "campaigns/policy.html", context)


# --- the builder ------------------------------------------------------------------------------


def _schedule_preview(schedule: str, kind: str) -> dict[str, str | None]:
    problem = (
        services.schedule_problem(schedule, batch=kind == CampaignKind.BATCH) if schedule else None
    )
    return {
        "schedule": schedule,
        "problem": problem,
        "description": "" if problem else services.schedule_description(schedule),
        "zone": settings.BANK_TIME_ZONE,
        "kind": kind,
    }


@role_required(permissions.CAMPAIGN_READ)
def schedule_check(request: HttpRequest) -> HttpResponse:
    """A batch schedule in words as it is typed, or why beat could never run it (htmx)."""
    context = _schedule_preview(
        (request.GET.get("schedule") or "").strip(), request.GET.get("kind") or CampaignKind.BATCH
    )
    return render_page(
        request,
        "campaigns/partials/schedule_status.html",
        context,
        partial="campaigns/partials/schedule_status.html",
    )


def _builder(
    request: HttpRequest, campaign: Campaign | None, form: CampaignForm, offers, status: int = 200
) -> HttpResponse:
    preview = _schedule_preview(
        str(form["schedule"].value() or "").strip(),
        str(form["kind"].value() or (campaign.kind if campaign else CampaignKind.BATCH)),
    )
    return render_page(
        request,
        "campaigns/campaign_form.html",
        {
            "campaign": campaign,
            "form": form,
            "offers": offers,
            "schedule_preview": preview,
            # the rule help's product codes, for holds(...) and likelihood(...)
            "products": product_list(active=True).only("code", "name", "family", "is_credit"),
        },
        status=status,
    )


@role_required(permissions.CAMPAIGN_WRITE)
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    offers = CampaignOfferFormSet(request.POST or None, prefix="offers")
    if request.method == "POST":
        if form.is_valid() and offers.is_valid():
            try:
                campaign = services.campaign_create(
                    actor=request.user, offers=offers.entries(), **form.create_kwargs()
                )
            except ApplicationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"Campaign {campaign.code} created as a draft.")
                return redirect("campaigns:campaign_detail", pk=campaign.pk)
        return _builder(request, None, form, offers, status=400)
    return _builder(request, None, form, offers)


@role_required(permissions.CAMPAIGN_WRITE)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The builder on an existing campaign. A targeting change makes a new targeting
    version that needs approval (and is refused while the campaign runs)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    offers = CampaignOfferFormSet(
        request.POST or None,
        prefix="offers",
        initial=None if request.POST else offer_rows(campaign),
    )
    if request.method == "POST":
        if form.is_valid() and offers.is_valid():
            before = campaign.targeting_version
            try:
                campaign = services.campaign_update(
                    actor=request.user,
                    campaign=campaign,
                    data=form.changes(),
                    offers=offers.entries(),
                )
            except ApplicationError as error:
                add_service_error(form, error)
            else:
                note = (
                    f" Targeting is now v{campaign.targeting_version}: submit it for approval."
                    if campaign.targeting_version != before
                    else ""
                )
                messages.success(request, f"Campaign {campaign.code} saved.{note}")
                return redirect("campaigns:campaign_detail", pk=campaign.pk)
        return _builder(request, campaign, form, offers, status=400)
    return _builder(request, campaign, form, offers)


ACTIONS = {
    "submit": "campaign_submit_targeting",
    "launch": "campaign_launch",
    "pause": "campaign_pause",
    "resume": "campaign_resume",
    "complete": "campaign_complete",
}


@role_required(permissions.CAMPAIGN_WRITE)
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Submit targeting, launch, pause, resume, complete: one service call each."""
    if action not in ACTIONS:
        raise Http404("Unknown campaign action.")
    campaign = get_object_or_404(Campaign, pk=pk)
    if action == "complete" and not confirmed(request):
        return confirmation_page(
            request,
            title=f"Complete campaign {campaign.code}?",
            consequence="A completed campaign releases nothing more, on any channel, and "
            "cannot be launched or resumed again; its queued messages are no longer sent. "
            "To stop it for now, pause it instead.",
            button=f"Complete {campaign.code}",
            keep="Keep the campaign",
            back=reverse("campaigns:campaign_detail", args=[campaign.pk]),
        )
    service = getattr(services, ACTIONS[action])
    try:
        result = service(actor=request.user, campaign=campaign)
    except ApplicationError as error:
        details = "; ".join(
            f"{name}: {', '.join(map(str, problems))}" for name, problems in error.fields.items()
        )
        messages.error(request, f"{error.message} {details}".strip())
    else:
        if action == "submit":
            blocking = [f for f in result.prechecks if f.get("severity") == "blocking"]
            text = f"Targeting v{result.subject_version} submitted for approval"
            if blocking:
                text += f" with {len(blocking)} blocking finding(s): " + "; ".join(
                    f["message"] for f in blocking
                )
                messages.warning(request, text)
            else:
                messages.success(request, text + ".")
        else:
            messages.success(
                request, f"Campaign {result.code} is now {result.get_status_display().lower()}."
            )
    return redirect("campaigns:campaign_detail", pk=pk)


# --- contact policy -----------------------------------------------------------------------------


@role_required(permissions.POLICY_WRITE)
def policy_edit(request: HttpRequest) -> HttpResponse:
    """A change of the policy is a new version, submitted for approval; the active one
    stays in force until a compliance officer approves it. The form starts from the
    proposal waiting for review, if there is one (saving replaces it)."""
    active = selectors.active_contact_policy()
    proposal = selectors.contact_policy_proposal()
    start = proposal.policy if proposal else active
    form = ContactPolicyForm(request.POST or None, initial=ContactPolicyForm.initial_from(start))
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.contact_policy_update(
                actor=request.user, data=form.changes(), note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            if policy.is_active or policy.pk is None:
                messages.info(request, f"Nothing to approve: v{policy.version} stays in force.")
            elif proposal is not None and policy.pk == proposal.policy.pk:
                messages.info(request, f"Nothing changed: v{policy.version} is waiting for review.")
            else:
                messages.success(
                    request,
                    f"Contact policy v{policy.version} submitted for approval; "
                    f"v{active.version} stays in force until a compliance officer approves it.",
                )
            return redirect("campaigns:policy")
    return render_page(
        request,
        "campaigns/policy_form.html",
        {"form": form, "active": active, "proposal": proposal},
        status=400 if form.is_bound and form.errors else 200,
    )
