"""Customer 360, and the consent and do-not-contact changes its panels post.

The changes are orchestrated by ``decisioning.rights`` (a revoke or a do-not-contact
cancels queued messages in the same transaction).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from compliance import services as compliance_services
from compliance.choices import ConsentChannel, ConsentStatus
from compliance.forms import ConsentChangeForm, DoNotContactForm, SuppressionForm
from core import permissions
from core.channels import CHANNELS, OUTBOUND
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.htmx import confirmation_page, confirmed, render_page, wants_partial
from core.permissions import has_role, role_required
from customers.models import Customer
from customers.selectors import customer_get
from decisioning import selectors
from decisioning.decisions import dry_run
from decisioning.decisions.explanation import decision_explanation
from decisioning.decisions.replay import decision_replay
from decisioning.engine import reasons
from decisioning.rights import consent as rights


def _customer_or_404(external_id: str) -> Customer:
    customer = customer_get(external_id=external_id)
    if customer is None:
        raise Http404("No such customer.")
    return customer


@role_required(permissions.CUSTOMER_READ)
def customer_360(request: HttpRequest, external_id: str) -> HttpResponse:
    """Profile, holdings, identities, consents, suppressions, decisions, contacts,
    messages, responses, events and erasures of one customer; the rights forms for those
    who may use them."""
    return _customer_360_page(
        request,
        external_id,
        now_channel=request.GET.get("now_channel") or "",
        replay=request.GET.get("replay") or "",
    )


def _customer_360_page(
    request: HttpRequest, external_id: str, *, now_channel: str = "", replay: str = ""
) -> HttpResponse:
    overview = selectors.customer_360(external_id=external_id)
    if overview is None:
        raise Http404("No such customer.")
    context: dict[str, Any] = {
        field.name: getattr(overview, field.name) for field in dataclasses.fields(overview)
    }
    if has_role(request.user, permissions.CUSTOMER_RIGHTS):
        context.update(
            can_manage_rights=True,
            consent_form=ConsentChangeForm(),
            suppression_form=SuppressionForm(),
            dnc_form=DoNotContactForm(),
        )
    customer = overview.customer
    context["inbound_channels"] = [(spec.code, spec.label) for spec in CHANNELS if spec.inbound]
    # Without JavaScript the two panels below are asked for by query string; htmx asks
    # their own views (customer_offer_now, customer_replay) for the fragment alone.
    if now_channel:
        context.update(_offer_now_context(customer, now_channel))
    if replay:
        context.update(_replay_context(customer, replay))
    return render_page(request, "decisioning/customer_360.html", context)


def _offer_now_context(customer: Customer, channel: str) -> dict[str, Any]:
    """The dry run's panel: what the engine would release now, explained; nothing stored."""
    context: dict[str, Any] = {"customer": customer, "now_channel": channel}
    try:
        dry = dry_run.offer_now(customer=customer, channel=channel)
    except ApplicationError as error:
        context["now_error"] = error.message
        return context
    decision = dry_run.unsaved_decision(dry, customer)
    x = decision_explanation(decision)
    context["offer_now"] = {
        "dry": dry,
        "decision": decision,
        "x": x,
        "released": x.get("offers") or dry.offers,
        "suppressed": x.get("suppressed") or [],
    }
    return context


def _replay_context(customer: Customer, pk: str) -> dict[str, Any]:
    """A past decision of this customer re-decided under today's rules: what changed, why."""
    try:
        decision_id = uuid.UUID(str(pk))
    except ValueError:
        raise Http404("No such decision.") from None
    decision = selectors.decision_get(pk=decision_id)
    if decision is None or decision.customer_id != customer.pk:
        raise Http404("No such decision for this customer.")
    context: dict[str, Any] = {"customer": customer, "replayed": decision}
    if customer.is_erased:
        context["replay_error"] = "The customer was erased; nothing is decided for them again."
        return context
    replay = decision_replay(decision=decision)
    now = replay["now"]
    context["replay"] = {
        "decision": decision,
        "diff": replay["diff"],
        "replayed_at": replay["replayed_at"],
        "now": now,
        "outcome_label": reasons.outcome_label(now.get("outcome")),
        "x": {
            "outcome": now.get("outcome"),
            "outcome_label": reasons.outcome_label(now.get("outcome")),
            "control_group": now.get("control_group"),
            "offers": now.get("offers") or [],
            "suppressed": [
                {**item, "reason_label": reasons.outcome_label(item.get("reason"))}
                for item in now.get("suppressed") or []
            ],
        },
    }
    return context


@role_required(permissions.CUSTOMER_READ)
def customer_offer_now(request: HttpRequest, external_id: str) -> HttpResponse:
    """ "What would we offer now on channel X?": a dry run through the engine, releasing
    and storing nothing (``decisions.dry_run.offer_now``)."""
    customer = _customer_or_404(external_id)
    channel = request.GET.get("channel") or request.GET.get("now_channel") or ""
    if not wants_partial(request):
        return _customer_360_page(request, customer.external_id, now_channel=channel)
    return render_page(
        request,
        "decisioning/partials/c360_offer_now.html",
        _offer_now_context(customer, channel),
        partial="decisioning/partials/c360_offer_now.html",
    )


@role_required(permissions.CUSTOMER_READ)
def customer_replay(request: HttpRequest, external_id: str, pk: uuid.UUID) -> HttpResponse:
    """One of the customer's decisions replayed under today's rules, storing nothing."""
    customer = _customer_or_404(external_id)
    if not wants_partial(request):
        return _customer_360_page(request, customer.external_id, replay=str(pk))
    return render_page(
        request,
        "decisioning/partials/c360_replay.html",
        _replay_context(customer, str(pk)),
        partial="decisioning/partials/c360_replay.html",
    )


def _consents_context(request: HttpRequest, customer: Customer, **extra: Any) -> dict[str, Any]:
    panel = selectors.customer_consents(customer=customer)
    return {
        "customer": customer,
        "consents": panel.consents,
        "do_not_contact": panel.do_not_contact,
        "can_manage_rights": has_role(request.user, permissions.CUSTOMER_RIGHTS),
        "consent_form": ConsentChangeForm(),
        **extra,
    }


@role_required(permissions.CUSTOMER_RIGHTS)
@require_POST
def consent_change(request: HttpRequest, external_id: str) -> HttpResponse:
    """Record a consent change; a revoke cancels queued messages in the same transaction."""
    customer = _customer_or_404(external_id)
    form = ConsentChangeForm(request.POST)
    saved = ""
    if form.is_valid() and form.cleaned_data["status"] == ConsentStatus.REVOKED:
        channel = form.cleaned_data["channel"]
        pending = selectors.pending_sales_messages(
            customer=customer, channels=OUTBOUND if channel == ConsentChannel.ALL else {channel}
        )
        if pending and not confirmed(request):
            return confirmation_page(
                request,
                title=f"Revoke {dict(ConsentChannel.choices)[channel].lower()} consent?",
                consequence=(
                    f"{pending} queued sales message(s) to {customer.external_id} on this "
                    "channel will be cancelled now. Granting consent again later does not "
                    "bring them back."
                ),
                button="Revoke and cancel them",
                keep="Keep the consent",
                back=reverse("decisioning:customer_360", args=[customer.external_id]),
                carry=("channel", "status", "source"),
            )
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
    customer = _customer_or_404(external_id)
    form = DoNotContactForm(request.POST)
    clear = request.POST.get("clear") == "1"
    if not form.is_valid():
        messages.error(request, "Say why.")
    else:
        reason = form.cleaned_data["reason"]
        pending = (
            0 if clear else selectors.pending_sales_messages(customer=customer, channels=OUTBOUND)
        )
        if pending and not confirmed(request):
            return confirmation_page(
                request,
                title=f"Set do-not-contact for {customer.external_id}?",
                consequence=(
                    f"{pending} queued sales message(s) will be cancelled now, on every "
                    "channel. Lifting do-not-contact later does not bring them back."
                ),
                button="Set do-not-contact and cancel them",
                keep="Leave it as it is",
                back=reverse("decisioning:customer_360", args=[customer.external_id]),
                carry=("reason",),
            )
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
