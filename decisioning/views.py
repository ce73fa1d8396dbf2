"""Decision ledger, Customer 360, and the screens whose actions span layers.

Customer 360 reads every layer (profile, consents, decisions, messages, responses), and
erasure and consent changes are orchestrated by ``decisioning.customer_rights`` (the
highest layer involved), so their screens live here rather than in a lower app.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from compliance import selectors as compliance_selectors
from compliance import services as compliance_services
from compliance.forms import ConsentChangeForm, DoNotContactForm, ErasureForm, SuppressionForm
from compliance.models import Consent, DoNotContact, ErasureRequest, SuppressionEntry
from core import permissions
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.htmx import render_page, wants_partial
from core.paging import keyset_by_time, page_of
from core.permissions import has_role, role_required
from customers.models import Customer, Event, IdentityLink
from decisioning.engine.rules import RuleError, parse_rule, protected_fields_used
from decisioning.filtersets import DecisionFilterSet
from decisioning.models import Contact, Decision, Message, Response
from decisioning.rights import consent as rights
from decisioning.rights import erasure as rights_erasure
from decisioning.runs import batch, simulate
from offers.models import Product

PAGE_SIZE = 50
SCAN_WINDOW = 20_000
# Decision filters no index serves: checked row by row within the window.
UNINDEXED = frozenset({"channel", "mode", "control_group", "shadow", "outcome"})
CUSTOMER_DECISIONS = 10
CUSTOMER_ROWS = 20

# What a ledger row shows; the explanation JSON stays in the database until asked for.
LIST_FIELDS = (
    "id",
    "created_at",
    "mode",
    "channel",
    "control_group",
    "shadow",
    "offers_released",
    "top_offer_code",
    "outcome_reason",
    "policy_version",
    "customer__id",
    "customer__external_id",
    "campaign__id",
    "campaign__code",
)


_PLACEHOLDER_ID = uuid.UUID(int=0)


def _row_links() -> dict[str, str]:
    """URL prefixes for the ledger's rows (``prefix + id + "/"``): one ``reverse`` each per
    page instead of three per row."""

    def prefix(name: str, placeholder: Any) -> str:
        url = reverse(name, args=[placeholder])
        return url[: url.rindex(str(placeholder))]

    return {
        "decision": prefix("decisioning:decision_detail", _PLACEHOLDER_ID),
        "customer": prefix("decisioning:customer_360", "X"),
        "campaign": prefix("campaigns:campaign_detail", 0),
    }


@role_required(permissions.DECISION_READ)
def decision_list(request: HttpRequest) -> HttpResponse:
    """Newest first, a keyset page at a time; never counts the table.

    Filters an index serves (customer, campaign, days) narrow the index scan. The others
    (channel, mode, control group, shadow, outcome) are checked within a window of the
    ``SCAN_WINDOW`` decisions just past the cursor, and a page that runs out of window
    offers to search further back instead of walking the whole ledger.
    """
    queryset = Decision.objects.select_related("customer", "campaign").only(*LIST_FIELDS)
    filterset = DecisionFilterSet(request.GET, queryset=queryset)
    valid = filterset.is_valid()
    data = filterset.form.cleaned_data if valid else {}
    window_queryset = None
    if not data.get("customer") and any(data.get(name) not in (None, "") for name in UNINDEXED):
        # A customer's decisions are few: read them all. Otherwise bound the scan.
        window_queryset = Decision.objects.all()
        for name in ("date_from", "date_to"):
            if data.get(name):
                window_queryset = filterset.filters[name].filter(window_queryset, data[name])
    page = keyset_by_time(
        filterset.qs if valid else queryset.none(),
        before=request.GET.get("before"),
        after=request.GET.get("after"),
        per_page=PAGE_SIZE,
        window_queryset=window_queryset,
        window_rows=SCAN_WINDOW,
    )
    context = {
        "filter": filterset,
        "page": page,
        "page_size": PAGE_SIZE,
        "links": _row_links(),
        "can_see_customer": has_role(request.user, permissions.CUSTOMER_READ),
    }
    return render_page(
        request,
        "decisioning/decision_list.html",
        context,
        partial="decisioning/partials/decision_table.html",
    )


def _explanation_context(decision: Decision) -> dict[str, Any]:
    """The explanation, with the released and suppressed offers wherever they were stored.

    Real-time and inbound decisions keep the engine's whole ``Decision.to_dict()``; batch
    runs keep a compact explanation (audience verdict, arm, outcome) and the released
    offers in ``Decision.offers``.
    """
    x = decision.explanation or {}
    return {
        "decision": decision,
        "x": x,
        "released": x.get("offers") or decision.offers or [],
        "suppressed": x.get("suppressed") or decision.suppressed or [],
    }


def _decision(pk: Any) -> Decision:
    return get_object_or_404(
        Decision.objects.select_related("customer", "campaign", "run", "event"), pk=pk
    )


@role_required(permissions.DECISION_READ)
def decision_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    decision = _decision(pk)
    context = {
        **_explanation_context(decision),
        "messages_sent": decision.messages.select_related("offer", "content").order_by(
            "created_at"
        ),
        "contacts": decision.contacts.select_related("offer").order_by("released_at"),
        "responses": decision.responses.select_related("offer").order_by("occurred_at"),
        "overrides": decision.overrides.select_related("offer").order_by("created_at"),
        "can_see_customer": has_role(request.user, permissions.CUSTOMER_READ),
    }
    return render_page(request, "decisioning/decision_detail.html", context)


@role_required(permissions.DECISION_READ)
def decision_explain(request: HttpRequest, pk: Any) -> HttpResponse:
    """The explanation alone: loaded into Customer 360 when a decision is opened."""
    decision = get_object_or_404(
        Decision.objects.only("id", "explanation", "offers", "suppressed", "created_at"), pk=pk
    )
    return render_page(
        request,
        "decisioning/partials/explanation_page.html",
        _explanation_context(decision),
        partial="decisioning/partials/explanation.html",
    )


# --- Customer 360 -------------------------------------------------------------------------


def _customer_360(customer: Customer) -> dict[str, Any]:
    now = timezone.now()
    holdings = list(customer.holdings.order_by("closed_at", "product_code"))
    products = {
        product.code: product
        for product in Product.objects.filter(
            code__in={holding.product_code for holding in holdings}
        ).only("id", "code", "name", "family")
    }
    for holding in holdings:
        holding.product = products.get(holding.product_code)
    suppressions = list(
        SuppressionEntry.objects.filter(customer=customer).order_by("-created_at")[:50]
    )
    for entry in suppressions:
        entry.active = entry.until is None or entry.until > now
    decisions = list(
        Decision.objects.filter(customer=customer)
        .select_related("campaign")
        .defer("explanation", "offers", "suppressed")
        .order_by("-created_at")[:CUSTOMER_DECISIONS]
    )
    return {
        "customer": customer,
        "holdings": holdings,
        "identities": IdentityLink.objects.filter(customer=customer).order_by("type", "value"),
        "consents": Consent.objects.filter(customer=customer).order_by("channel"),
        "do_not_contact": DoNotContact.objects.filter(customer=customer).first(),
        "suppressions": suppressions,
        "events": Event.objects.filter(customer=customer)
        .defer("payload", "customer_ref")
        .order_by("-occurred_at")[:CUSTOMER_ROWS],
        "decisions": decisions,
        "messages_sent": Message.objects.filter(customer=customer)
        .select_related("offer", "campaign", "content")
        .order_by("-created_at")[:CUSTOMER_ROWS],
        "responses": Response.objects.filter(customer=customer)
        .select_related("offer")
        .order_by("-occurred_at")[:CUSTOMER_ROWS],
        "contacts": Contact.objects.filter(customer=customer)
        .select_related("offer", "campaign")
        .order_by("-released_at")[:CUSTOMER_ROWS],
        "erasures": ErasureRequest.objects.filter(
            Q(customer=customer) | Q(customer_ref=customer.pseudonym)
        ).order_by("-requested_at"),
        "now": now,
    }


@role_required(permissions.CUSTOMER_READ)
def customer_360(request: HttpRequest, external_id: str) -> HttpResponse:
    customer = get_object_or_404(Customer, external_id=external_id)
    context = _customer_360(customer)
    if has_role(request.user, permissions.CUSTOMER_RIGHTS):
        context.update(
            can_manage_rights=True,
            consent_form=ConsentChangeForm(),
            suppression_form=SuppressionForm(),
            dnc_form=DoNotContactForm(),
        )
    return render_page(request, "decisioning/customer_360.html", context)


# --- the rule language, checked live ------------------------------------------------------


def _caret(text: str, position: int, width: int = 40) -> dict[str, str]:
    flat = text.replace("\n", " ").replace("\r", " ")
    position = max(0, min(position, len(flat)))
    return {
        "before": ("…" if position > width else "") + flat[max(0, position - width) : position],
        "at": flat[position : position + 1],
        "after": flat[position + 1 : position + 1 + width]
        + ("…" if len(flat) > position + 1 + width else ""),
    }


@role_required(permissions.CATALOG_READ | permissions.CAMPAIGN_READ)
def rule_check(request: HttpRequest) -> HttpResponse:
    """Parse an audience or eligibility rule with the engine's parser (htmx, as it is typed).

    Shows where it breaks (``RuleError.position``), the fields it reads and any protected
    attribute it uses.
    """
    text = next(
        (
            request.GET[name]
            for name in ("rule", "audience_rule", "eligibility_rule")
            if name in request.GET
        ),
        "",
    )
    context: dict[str, Any] = {"text": text.strip()}
    try:
        rule = parse_rule(text)
    except RuleError as error:
        context.update(error=error, caret=_caret(text, error.position))
    else:
        context.update(
            fields=sorted(rule.fields()),
            protected=sorted(protected_fields_used(rule)),
            canonical="" if rule.always_true else rule.to_text(),
        )
    return render_page(
        request, "partials/rule_status.html", context, partial="partials/rule_status.html"
    )


# --- consent, do-not-contact and erasure (orchestrated by customer_rights) ------------------


def _consents_context(request: HttpRequest, customer: Customer, **extra: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "consents": Consent.objects.filter(customer=customer).order_by("channel"),
        "do_not_contact": DoNotContact.objects.filter(customer=customer).first(),
        "can_manage_rights": has_role(request.user, permissions.CUSTOMER_RIGHTS),
        "consent_form": ConsentChangeForm(),
        **extra,
    }


@role_required(permissions.CUSTOMER_RIGHTS)
@require_POST
def consent_change(request: HttpRequest, external_id: str) -> HttpResponse:
    """Record a consent change; a revoke cancels queued messages in the same transaction."""
    customer = get_object_or_404(Customer, external_id=external_id)
    form = ConsentChangeForm(request.POST)
    saved = ""
    if form.is_valid():
        try:
            change = rights.consent_change(
                actor=request.user,
                customer=customer,
                channel=form.cleaned_data["channel"],
                status=form.cleaned_data["status"],
                source=form.cleaned_data["source"],
                captured_at=timezone.now(),
            )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            consent = change.consent
            saved = f"{consent.get_channel_display()}: {consent.get_status_display().lower()}."
            if change.cancelled_messages:
                saved += f" {change.cancelled_messages} queued message(s) cancelled."
            if not wants_partial(request):
                messages.success(request, saved)
                return redirect("decisioning:customer_360", external_id=customer.external_id)
            form = ConsentChangeForm()
    context = _consents_context(request, customer, consent_form=form, consent_saved=saved)
    status = 400 if form.is_bound and form.errors else 200
    return render_page(
        request,
        "decisioning/consent_form.html",
        context,
        partial="decisioning/partials/consents.html",
        status=status,
    )


@role_required(permissions.CUSTOMER_RIGHTS)
@require_POST
def do_not_contact(request: HttpRequest, external_id: str) -> HttpResponse:
    """Set do-not-contact (pending sales messages cancelled at once) or lift it."""
    customer = get_object_or_404(Customer, external_id=external_id)
    form = DoNotContactForm(request.POST)
    clear = request.POST.get("clear") == "1"
    if not form.is_valid():
        messages.error(request, "Say why.")
    else:
        reason = form.cleaned_data["reason"]
        try:
            if clear:
                compliance_services.do_not_contact_clear(
                    actor=request.user, customer=customer, reason=reason
                )
                messages.success(request, "Do-not-contact lifted.")
            else:
                change = rights.do_not_contact_change(
                    actor=request.user, customer=customer, reason=reason, source="console"
                )
                messages.success(
                    request,
                    f"Do-not-contact set; {change.cancelled_messages} pending message(s) cancelled.",
                )
        except ApplicationError as error:
            messages.error(request, error.message)
    return redirect("decisioning:customer_360", external_id=customer.external_id)


@role_required(permissions.ERASURE)
def erasure_list(request: HttpRequest) -> HttpResponse:
    """Erasure requests, and the form that erases a customer (one transaction)."""
    form = ErasureForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            customer = Customer.objects.filter(external_id=form.cleaned_data["external_id"]).first()
            if customer is None:
                form.add_error("external_id", "No customer has this id (erased already?).")
            else:
                try:
                    erasure = rights_erasure.customer_erase(actor=request.user, customer=customer)
                except ApplicationError as error:
                    add_service_error(form, error)
                else:
                    summary = erasure.summary or {}
                    messages.success(
                        request,
                        f"Customer erased: {summary.get('messages_cancelled', 0)} message(s) "
                        f"cancelled, {summary.get('consents_revoked', 0)} consent(s) revoked, "
                        "personal data blanked. The ledger keeps the pseudonym.",
                    )
                    return redirect("decisioning:erasure_list")
        status = 400
    context = {
        "form": form,
        "page": page_of(request, compliance_selectors.erasure_list().select_related("customer")),
    }
    return render_page(request, "decisioning/erasure_list.html", context, status=status)


# --- batch runs and simulation (campaign screens post here) --------------------------------


@role_required(permissions.CAMPAIGN_WRITE)
@require_POST
def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
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
def campaign_simulate(request: HttpRequest, pk: int) -> HttpResponse:
    """Audience size, suppression funnel and expected conversions; stores nothing."""
    campaign = get_object_or_404(Campaign, pk=pk)
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
