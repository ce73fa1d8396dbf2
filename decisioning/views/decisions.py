"""The decision ledger, one decision, and its explanation (loaded into Customer 360)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from core import permissions
from core.htmx import render_page
from core.permissions import has_role, role_required
from decisioning import selectors
from decisioning.decisions.explanation import decision_explanation
from decisioning.models import Decision

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
    """Newest first, a keyset page at a time; never counts the table (see
    ``selectors.decision_ledger_page`` for how filters no index serves are bounded)."""
    ledger = selectors.decision_ledger_page(
        params=request.GET, before=request.GET.get("before"), after=request.GET.get("after")
    )
    context = {
        "filter": ledger.filterset,
        "page": ledger.page,
        "page_size": selectors.LEDGER_PAGE_SIZE,
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
    """The one explanation view (``decisions.explanation.decision_explanation``, which the
    API answers with too): every candidate with each rule's verdict named and resolved,
    batch decisions replayed for their candidates."""
    x = decision_explanation(decision)
    return {"decision": decision, "x": x, "released": x["offers"], "suppressed": x["suppressed"]}


@role_required(permissions.DECISION_READ)
def decision_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """A decision, its full explanation, and the messages, contacts, responses and
    overrides that followed it."""
    decision = selectors.decision_get(pk=pk)
    if decision is None:
        raise Http404("No such decision.")
    trail = selectors.decision_trail(decision=decision)
    context = {
        **_explanation_context(decision),
        "messages_sent": trail.messages,
        "contacts": trail.contacts,
        "responses": trail.responses,
        "overrides": trail.overrides,
        "can_see_customer": has_role(request.user, permissions.CUSTOMER_READ),
    }
    return render_page(request, "decisioning/decision_detail.html", context)


@role_required(permissions.DECISION_READ)
def decision_explain(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The explanation alone: loaded into Customer 360 when a decision is opened."""
    decision = selectors.decision_explanation_get(pk=pk)
    if decision is None:
        raise Http404("No such decision.")
    return render_page(
        request,
        "decisioning/partials/explanation_page.html",
        _explanation_context(decision),
        partial="decisioning/partials/explanation.html",
    )
