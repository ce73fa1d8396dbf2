"""The models page: each product's model versions, champion and challenger, held-out
figures, calibration, feature importance, drift and fair-lending flags; training on demand.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core import permissions
from core.htmx import render_page
from core.permissions import role_required
from decisioning.learning import selectors
from decisioning.learning.dataset import MIN_POSITIVES, MIN_ROWS

MODEL_READ = permissions.DECISION_READ
# Training is analysis work: analysts and marketers may ask for it (it changes no
# catalog or campaign; a new version still has to beat the active one).
MODEL_TRAIN = frozenset({permissions.ANALYST, permissions.MARKETER})


@role_required(MODEL_READ)
def model_list(request: HttpRequest) -> HttpResponse:
    """Every product with a model: active version, challenger, flags."""
    return render_page(
        request,
        "decisioning/models.html",
        {
            "rows": selectors.models_overview(),
            "thresholds": selectors.THRESHOLDS,
            "min_rows": MIN_ROWS,
            "min_positives": MIN_POSITIVES,
        },
    )


@role_required(MODEL_READ)
def model_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One product's versions; ``?version=`` picks the one shown (default: active, else
    newest)."""
    found = selectors.product_models(code)
    if found is None:
        raise Http404("No such product.")
    product, versions = found
    if not versions:
        raise Http404("This product has no model yet.")
    wanted = request.GET.get("version", "")
    shown = next((m for m in versions if str(m.version) == wanted), None)
    if wanted and shown is None:
        raise Http404("No such version.")
    active = next((m for m in versions if m.status == "active"), None)
    shown = shown or active or versions[0]
    return render_page(
        request,
        "decisioning/models_detail.html",
        {
            "product": product,
            "versions": versions,
            "active": active,
            "shown": shown,
            "chart": selectors.calibration_points(shown),
            "importance": selectors.importance_bars(shown),
            "drift": selectors.drift_checks(shown),
            "thresholds": selectors.THRESHOLDS,
            "can_train": permissions.has_role(request.user, MODEL_TRAIN),
        },
    )


@role_required(MODEL_TRAIN)
@require_POST
def model_train_request(request: HttpRequest, code: str) -> HttpResponse:
    """Queue the product's training (the Celery task the nightly beat runs)."""
    from decisioning.tasks import train_models

    found = selectors.product_models(code)
    if found is None:
        raise Http404("No such product.")
    transaction.on_commit(lambda: train_models.delay(code))
    messages.success(
        request,
        f"Training of {code} queued: the new version becomes active only if it beats the "
        "active one on the same held-out rows.",
    )
    return redirect("decisioning:model_detail", code=code)
