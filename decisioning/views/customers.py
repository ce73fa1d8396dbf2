"""Customer 360, and the consent and do-not-contact changes its panels post.

The changes are orchestrated by ``decisioning.rights`` (a revoke or a do-not-contact
cancels queued messages in the same transaction).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from compliance import services as compliance_services
from compliance.forms import ConsentChangeForm, DoNotContactForm, SuppressionForm
from core import permissions
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.htmx import render_page, wants_partial
from core.permissions import has_role, role_required
from customers.models import Customer
from customers.selectors import customer_get
from decisioning import selectors
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
    return render_page(request, "decisioning/customer_360.html", context)


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
