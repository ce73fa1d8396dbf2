"""Customer search, the way into Customer 360 (which lives in ``decisioning.views``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from core import permissions
from core.htmx import render_page, wants_partial
from core.permissions import role_required
from customers.filtersets import MAX_RESULTS, CustomerSearchFilterSet
from customers.models import Customer


@role_required(permissions.CUSTOMER_READ)
def search(request: HttpRequest) -> HttpResponse:
    filterset = CustomerSearchFilterSet(
        request.GET,
        queryset=Customer.objects.only(
            "id", "external_id", "first_name", "last_name", "region", "erased_at"
        ).order_by("external_id"),
    )
    results = list(filterset.qs[:MAX_RESULTS]) if filterset.searched else []
    if len(results) == 1 and not wants_partial(request) and request.GET.get("go") != "0":
        return redirect("decisioning:customer_360", external_id=results[0].external_id)
    context = {"filter": filterset, "results": results, "searched": filterset.searched}
    return render_page(
        request, "customers/search.html", context, partial="customers/partials/results.html"
    )
