"""Erasure requests, and the form that erases a customer (``decisioning.rights``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from compliance.forms import ErasureForm
from core import permissions
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.htmx import render_page
from core.paging import page_of
from core.permissions import role_required
from customers.selectors import customer_get
from decisioning import selectors
from decisioning.rights import erasure as rights_erasure


@role_required(permissions.ERASURE)
def erasure_list(request: HttpRequest) -> HttpResponse:
    """Erasure requests, and the form that erases a customer (one transaction)."""
    form = ErasureForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            customer = customer_get(external_id=form.cleaned_data["external_id"])
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
    context = {"form": form, "page": page_of(request, selectors.erasure_list())}
    return render_page(request, "decisioning/erasure_list.html", context, status=status)
