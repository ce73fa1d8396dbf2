"""The campaign builder's eligible-customer count, as the audience rule is typed (htmx).

A read of every layer's data through the engine's rule evaluation, so it belongs to the
highest layer (``decisioning.decisions.dry_run.audience_count``); the builder's page is
``campaigns.views``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core import permissions
from core.htmx import render_page
from core.permissions import role_required
from decisioning.decisions.dry_run import audience_count
from decisioning.engine import RuleError


@role_required(permissions.CAMPAIGN_READ)
def audience_count_view(request: HttpRequest) -> HttpResponse:
    """How many customers the rule selects now (not erased; before consent, caps and
    suppressions, which a simulation adds). Stores nothing."""
    text = request.GET.get("audience_rule", request.GET.get("rule", ""))
    context: dict = {"text": text.strip()}
    try:
        context["count"] = audience_count(rule_text=text)
    except RuleError as error:
        context["error"] = error
    return render_page(
        request,
        "campaigns/partials/audience_count.html",
        context,
        partial="campaigns/partials/audience_count.html",
    )
