"""The rule language, checked live with the engine's parser as a rule is typed (htmx)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from core import permissions
from core.htmx import render_page
from core.permissions import role_required
from decisioning.engine.rules import RuleError, parse_rule, protected_fields_used


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

    Shows where it breaks (``RuleError.position``), the fields it reads, the products whose
    likelihood band it reads and any protected attribute it uses.
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
            likelihood=rule.likelihood_products(),
            protected=sorted(protected_fields_used(rule)),
            canonical="" if rule.always_true else rule.to_text(),
        )
    return render_page(
        request, "partials/rule_status.html", context, partial="partials/rule_status.html"
    )
