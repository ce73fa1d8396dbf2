"""Catalog screens: products, offers, and offer content per channel.

Reads use ``offers.selectors`` (or the small queries here); every write goes through
``offers.services``, whose ``ApplicationError`` is shown on the form.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from compliance import previews
from compliance.diffs import snapshot_diff
from compliance.prechecks import RuleSyntaxError, content_prechecks, rule_fields
from core import permissions
from core.choices import Channel
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.history import history_rows
from core.htmx import confirmation_page, confirmed, render_page
from core.paging import page_of
from core.permissions import has_role, role_required
from offers import selectors, services
from offers.choices import OfferStatus
from offers.filtersets import OfferFilterSet, ProductFilterSet
from offers.forms import ContentForm, OfferForm, ProductForm
from offers.models import Offer, OfferContent, Product
from offers.targeting_hash import TARGETING_FIELDS

# Which status buttons an offer shows; ``offers.services`` enforces the transitions.
TRANSITIONS = {
    OfferStatus.DRAFT: ("activate", "retire"),
    OfferStatus.ACTIVE: ("pause", "retire"),
    OfferStatus.PAUSED: ("activate", "retire"),
    OfferStatus.RETIRED: (),
}
TRANSITION_SERVICES = {
    "activate": services.offer_activate,
    "pause": services.offer_pause,
    "retire": services.offer_retire,
}


# --- products -------------------------------------------------------------------------------


@role_required(permissions.CATALOG_READ)
def product_list(request: HttpRequest) -> HttpResponse:
    queryset = Product.objects.annotate(offer_count=Count("offers")).order_by("family", "code")
    filterset = ProductFilterSet(request.GET, queryset=queryset)
    context = {
        "filter": filterset,
        "page": page_of(request, filterset.qs),
        "can_write": has_role(request.user, permissions.CATALOG_WRITE),
    }
    return render_page(
        request, "offers/product_list.html", context, partial="offers/partials/product_table.html"
    )


@role_required(permissions.CATALOG_READ)
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    context = {
        "product": product,
        "offers": product.offers.order_by("code"),
        "history": history_rows(product),
        "can_write": has_role(request.user, permissions.CATALOG_WRITE),
    }
    return render_page(request, "offers/product_detail.html", context)


@role_required(permissions.CATALOG_WRITE)
def product_create(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            product = services.product_create(
                actor=request.user,
                code=data["code"],
                name=data["name"],
                family=data["family"],
                annual_value=data["annual_value"],
                is_credit=data["is_credit"],
                description=data["description"],
                is_active=data["is_active"],
            )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Product {product.code} created.")
            return redirect("offers:product_detail", pk=product.pk)
    return render_page(
        request,
        "offers/product_form.html",
        {"form": form, "product": None},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(permissions.CATALOG_WRITE)
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(actor=request.user, product=product, data=form.changes())
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Product {product.code} saved.")
            return redirect("offers:product_detail", pk=product.pk)
    return render_page(
        request,
        "offers/product_form.html",
        {"form": form, "product": product},
        status=400 if form.is_bound and form.errors else 200,
    )


# --- offers ---------------------------------------------------------------------------------


@role_required(permissions.CATALOG_READ)
def offer_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        Offer.objects.select_related("product")
        .annotate(channel_count=Count("contents__channel", distinct=True))
        .order_by("code")
    )
    filterset = OfferFilterSet(request.GET, queryset=queryset)
    context = {
        "filter": filterset,
        "page": page_of(request, filterset.qs),
        "can_write": has_role(request.user, permissions.CATALOG_WRITE),
    }
    return render_page(
        request, "offers/offer_list.html", context, partial="offers/partials/offer_table.html"
    )


def _changed(before: Any, after: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The fields that differ between two versions, as the approval screen shows them."""
    if before is None:
        return []
    rows = snapshot_diff(
        {name: _plain(getattr(before, name)) for name in fields},
        {name: _plain(getattr(after, name)) for name in fields},
    )
    return [row for row in rows if row["changed"]]


def _plain(value: Any) -> Any:
    return (
        value if isinstance(value, str | dict | list | int | float) or value is None else str(value)
    )


def _channels(offer: Offer, states: list[selectors.ContentState]) -> list[dict[str, Any]]:
    """Per channel: every version with its approval state, its preview, what changed from
    the version before it and whether its words can be brought back; the latest, the
    approved one."""
    by_channel: dict[str, list[selectors.ContentState]] = {}
    for state in states:
        by_channel.setdefault(state.content.channel, []).append(state)
    rows = []
    for value, label in Channel.choices:
        versions = by_channel.get(value, [])
        history = [
            {
                "state": state,
                "p": previews.preview_of(state.content),
                "changes": _changed(
                    versions[i + 1].content if i + 1 < len(versions) else None,
                    state.content,
                    ContentForm.FIELDS,
                ),
                "can_roll_back": state.status == "approved" and i > 0,
            }
            for i, state in enumerate(versions)
        ]
        rows.append(
            {
                "value": value,
                "label": label,
                "versions": versions,
                "history": history,
                "latest": versions[0] if versions else None,
                "approved": next((s for s in versions if s.status == "approved"), None),
            }
        )
    return rows


def _targeting(
    offer: Offer, states: list[selectors.TargetingState] | None = None
) -> dict[str, Any]:
    """The offer's targeting versions, the one in force (and whether the engine may
    release under it) and the proposal waiting to replace it."""
    if states is None:
        states = selectors.targeting_states(offer=offer)
    in_force = next((s for s in states if s.in_force), None)
    released = offer.targeting_version == 0 or bool(
        in_force
        and in_force.status == "approved"
        and in_force.approval is not None
        and in_force.approval.content_hash == selectors.in_force_targeting_hash(offer)
    )
    latest = states[0] if states else None
    history = [
        {
            "state": state,
            "changes": _changed(
                states[i + 1].targeting if i + 1 < len(states) else None,
                state.targeting,
                TARGETING_FIELDS,
            ),
            "can_roll_back": state.status == "approved" and not state.in_force,
        }
        for i, state in enumerate(states)
    ]
    return {
        "states": states,
        "history": history,
        "in_force": in_force,
        "approved": released,
        "proposal": selectors.targeting_proposal(states),
        "can_submit": latest is not None and not latest.submitted,
        "latest": latest,
    }


@role_required(permissions.CATALOG_READ)
def offer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(Offer.objects.select_related("product", "created_by"), pk=pk)
    can_write = has_role(request.user, permissions.CATALOG_WRITE)
    contents, targeting = selectors.offer_states(offer=offer)
    channels = _channels(offer, contents)
    context = {
        "offer": offer,
        "channels": channels,
        "drafts": [ch for ch in channels if ch["latest"] and ch["latest"].status == "draft"],
        "targeting": _targeting(offer, targeting),
        "history": history_rows(offer),
        "can_write": can_write,
        "transitions": TRANSITIONS.get(offer.status, ()) if can_write else (),
    }
    return render_page(request, "offers/offer_detail.html", context)


@role_required(permissions.CATALOG_WRITE)
def offer_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    if request.GET.get("product"):
        initial["product"] = request.GET["product"]
    form = OfferForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            offer = services.offer_create(actor=request.user, **form.create_kwargs())
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Offer {offer.code} created as a draft.")
            return redirect("offers:offer_detail", pk=offer.pk)
    return render_page(
        request,
        "offers/offer_form.html",
        {"form": form, "offer": None},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(permissions.CATALOG_WRITE)
def offer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Name and kind change at once; targeting of a live or approved offer becomes a new
    version, submitted for approval, while the approved one stays in force. The form
    starts from the proposal waiting for review, if there is one (saving replaces it)."""
    offer = get_object_or_404(Offer.objects.select_related("product"), pk=pk)
    targeting = _targeting(offer)
    proposal = targeting["proposal"]
    form = OfferForm(
        request.POST or None,
        instance=offer,
        targeting=proposal.targeting if proposal else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.offer_update(
                actor=request.user, offer=offer, data=form.changes(), note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            after = selectors.targeting_proposal(selectors.targeting_states(offer=offer))
            if after is not None and after.approval is not None and after != proposal:
                messages.success(
                    request,
                    f"Offer {offer.code} saved. Its targeting change is v{after.targeting.version}, "
                    f"submitted for approval; v{offer.targeting_version} stays in force until "
                    "a compliance officer approves it.",
                )
            else:
                messages.success(request, f"Offer {offer.code} saved.")
            return redirect("offers:offer_detail", pk=offer.pk)
    return render_page(
        request,
        "offers/offer_form.html",
        {"form": form, "offer": offer, "targeting": targeting},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(permissions.CATALOG_WRITE)
@require_POST
def offer_targeting_submit(request: HttpRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(Offer, pk=pk)
    url = reverse("offers:offer_detail", args=[pk]) + "#targeting"
    try:
        approval = services.offer_targeting_submit_for_approval(actor=request.user, offer=offer)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(url)
    blocking = [f for f in approval.prechecks if f.get("severity") == "blocking"]
    if blocking:
        messages.warning(
            request,
            f"Submitted targeting v{approval.subject_version} for approval with "
            f"{len(blocking)} blocking finding(s): compliance cannot approve it until they "
            "are fixed in a new version.",
        )
    else:
        messages.success(request, f"Submitted targeting v{approval.subject_version} for approval.")
    return redirect(url)


@role_required(permissions.CATALOG_WRITE)
@require_POST
def offer_transition(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    service = TRANSITION_SERVICES.get(verb)
    if service is None:
        raise Http404("Unknown offer action.")
    offer = get_object_or_404(Offer, pk=pk)
    if verb == "retire" and not confirmed(request):
        return confirmation_page(
            request,
            title=f"Retire offer {offer.code}?",
            consequence="A retired offer is never released again and cannot be activated; "
            "its content can no longer be edited. To stop it for now, pause it instead.",
            button=f"Retire {offer.code}",
            keep="Keep the offer",
            back=reverse("offers:offer_detail", args=[offer.pk]),
        )
    try:
        offer = service(actor=request.user, offer=offer)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Offer {offer.code} is now {offer.get_status_display().lower()}."
        )
    return redirect("offers:offer_detail", pk=pk)


@role_required(permissions.CATALOG_WRITE)
@require_POST
def offer_targeting_rollback(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    """Bring back an earlier approved targeting version, as a new version for approval."""
    offer = get_object_or_404(Offer, pk=pk)
    url = reverse("offers:offer_detail", args=[pk]) + "#targeting"
    try:
        row = services.offer_targeting_rollback(actor=request.user, offer=offer, version=version)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(url)
    if row is None:
        messages.info(request, f"Targeting v{version}'s values are already in force.")
    else:
        messages.success(
            request,
            f"Targeting v{version} brought back as v{row.version}, submitted for approval; "
            "the targeting in force stays until a compliance officer approves it.",
        )
    return redirect(url)


@role_required(permissions.CATALOG_WRITE)
@require_POST
def offer_content_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit every channel's newest draft as one change (one item in the review queue)."""
    offer = get_object_or_404(Offer, pk=pk)
    url = reverse("offers:offer_detail", args=[pk]) + "#content"
    try:
        approvals = services.offer_content_submit(actor=request.user, offer=offer)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(url)
    channels = ", ".join(a.snapshot.get("channel", a.subject_repr) for a in approvals)
    blocking = sum(1 for a in approvals if a.has_blocking_findings)
    text = f"Submitted {offer.code}'s content for {channels} as one change for approval"
    if blocking:
        messages.warning(
            request,
            f"{text}, with blocking findings on {blocking} channel(s): compliance cannot "
            "approve it until they are fixed in a new version.",
        )
    else:
        messages.success(request, text + ".")
    return redirect(url)


# --- content ----------------------------------------------------------------------------------


def _channel_or_404(channel: str) -> str:
    if channel not in Channel.values:
        raise Http404("Unknown channel.")
    return channel


@role_required(permissions.CATALOG_READ)
def content_edit(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """One offer's content on one channel: its versions and an editor for the next one.

    Saving always makes a new version (an approved version never changes); it then
    needs its own approval, while the approved one stays released.
    """
    channel = _channel_or_404(channel)
    offer = get_object_or_404(Offer.objects.select_related("product"), pk=pk)
    states = selectors.content_states(offer=offer, channel=channel)
    latest = states[0].content if states else None
    can_write = has_role(request.user, permissions.CATALOG_WRITE)
    form = ContentForm(request.POST or None, initial=ContentForm.initial_from(latest))
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Only marketers write offer content.")
        if form.is_valid():
            try:
                content = services.content_create_version(
                    actor=request.user, offer=offer, channel=channel, **form.cleaned_data
                )
            except ApplicationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    f"Saved {offer.code}/{channel} v{content.version} as a draft. "
                    "Submit it for approval when it is ready.",
                )
                return redirect("offers:content_edit", pk=offer.pk, channel=channel)
    source = form.initial if not form.is_bound else form.data
    context = {
        "offer": offer,
        "channel": channel,
        "channel_label": Channel(channel).label,
        "states": [(state, previews.preview_of(state.content)) for state in states],
        "form": form,
        **_live(offer, channel, source),
        "can_write": can_write,
    }
    return render_page(
        request,
        "offers/content_edit.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )


def _live(offer: Offer, channel: str, data: Any) -> dict[str, Any]:
    """The channel's preview of the text in the editor and what the pre-checks say of it."""
    return {
        "p": previews.preview(
            channel=channel, **{name: str(data.get(name, "") or "") for name in ContentForm.FIELDS}
        ),
        "findings": _preview_findings(offer, channel, data),
    }


def _preview_findings(offer: Offer, channel: str, data: Any) -> list[Any]:
    """The pre-checks a submission would run, on the text in the editor (no write)."""
    try:
        fields = rule_fields(offer.eligibility_rule or "")
    except RuleSyntaxError:
        fields = frozenset()
    return content_prechecks(
        channel=channel,
        is_credit=offer.product.is_credit,
        headline=str(data.get("headline", "") or ""),
        body=str(data.get("body", "") or ""),
        call_to_action=str(data.get("call_to_action", "") or ""),
        disclosure=str(data.get("disclosure", "") or ""),
        eligibility_fields=fields,
        offer_code=offer.code,
    )


@role_required(permissions.CATALOG_READ)
def content_precheck(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """The live preview and the pre-check findings of the text being typed (htmx, as it
    is typed; debounced by the form's ``hx-trigger``). Writes nothing."""
    channel = _channel_or_404(channel)
    offer = get_object_or_404(Offer.objects.select_related("product"), pk=pk)
    source = request.POST if request.method == "POST" else request.GET
    return render_page(
        request,
        "offers/partials/live.html",
        {**_live(offer, channel, source), "preview": True, "offer": offer, "channel": channel},
        partial="offers/partials/live.html",
    )


@role_required(permissions.CATALOG_WRITE)
@require_POST
def content_submit(request: HttpRequest, pk: int) -> HttpResponse:
    content = get_object_or_404(OfferContent.objects.select_related("offer"), pk=pk)
    url = reverse("offers:content_edit", args=[content.offer_id, content.channel])
    try:
        approval = services.content_submit_for_approval(actor=request.user, content=content)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(url)
    blocking = [f for f in approval.prechecks if f.get("severity") == "blocking"]
    if blocking:
        messages.warning(
            request,
            f"Submitted v{content.version} for approval with {len(blocking)} blocking finding(s): "
            "compliance cannot approve it until they are fixed in a new version.",
        )
    else:
        messages.success(
            request,
            f"Submitted v{content.version} for approval"
            + (f" with {len(approval.prechecks)} warning(s)." if approval.prechecks else "."),
        )
    return redirect(f"{url}#version-{content.version}")


@role_required(permissions.CATALOG_WRITE)
@require_POST
def content_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring back an approved version's words as the channel's next version, submitted
    for approval (the version in force stays released until it is approved)."""
    content = get_object_or_404(OfferContent.objects.select_related("offer"), pk=pk)
    url = reverse("offers:content_edit", args=[content.offer_id, content.channel])
    try:
        approval = services.content_rollback(actor=request.user, content=content)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(url)
    messages.success(
        request,
        f"v{content.version}'s words brought back as v{approval.subject_version}, submitted "
        "for approval.",
    )
    return redirect(f"{url}#version-{approval.subject_version}")


@role_required(permissions.CATALOG_READ)
def content_redirect(request: HttpRequest, pk: int) -> HttpResponse:
    """A content version's own address (approval screens link here)."""
    content = get_object_or_404(OfferContent.objects.only("offer_id", "channel", "version"), pk=pk)
    url = reverse("offers:content_edit", args=[content.offer_id, content.channel])
    return redirect(f"{url}#version-{content.version}")
