"""Compliance screens: the approval queue, the audit ledger, customer suppressions.

Approve / reject / request changes call ``compliance.services``; the author of a change
never sees the approve button, and the view refuses the action (403) before the service
refuses it again.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from compliance import selectors, services
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.filtersets import ApprovalFilterSet, AuditFilterSet
from compliance.forms import (
    ApprovalDecisionForm,
    DoNotContactForm,
    SuppressionForm,
    SuppressionLiftForm,
)
from compliance.models import ApprovalRequest, SuppressionEntry
from core import permissions
from core.exceptions import ApplicationError
from core.forms import add_service_error
from core.htmx import render_page
from core.paging import keyset_by_seq, page_of
from core.permissions import has_role, role_required
from customers.models import Customer
from ledger.export import FORMATS, export_stream
from ledger.models import AuditRecord
from ledger.verify import verify_ledger

AUDIT_PAGE_SIZE = 50
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


# --- approvals ----------------------------------------------------------------------------


@role_required(permissions.APPROVAL_READ)
def approval_list(request: HttpRequest) -> HttpResponse:
    """Opens on the pending requests, oldest waiting first; with any status, pending first,
    then everything decided."""
    queryset = (
        ApprovalRequest.objects.select_related("submitted_by", "decided_by")
        .defer("snapshot")
        .annotate(
            waiting=Case(
                When(status=ApprovalStatus.PENDING, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
    )
    params = request.GET.copy()
    if "status" not in params:
        # the queue opens on what waits for a checker; "Any status" shows the history
        params["status"] = ApprovalStatus.PENDING
    filterset = ApprovalFilterSet(params, queryset=queryset)
    ordered = filterset.qs.order_by("waiting", "submitted_at", "pk")
    page = page_of(request, ordered)
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count()
    context = {"filter": filterset, "page": page, "pending": pending}
    return render_page(
        request,
        "compliance/approval_list.html",
        context,
        partial="compliance/partials/approval_table.html",
    )


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A snapshot as ``{dotted.path: text}`` so two versions compare field by field."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    if isinstance(value, str):
        return {prefix: value}
    return {prefix: json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)}


def snapshot_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (field, old, new, changed, lines) where ``lines`` is a line diff of texts."""
    before = _flatten(old or {})
    after = _flatten(new or {})
    rows = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        lines = []
        if (
            a != b
            and a is not None
            and b is not None
            and ("\n" in a or "\n" in b or len(a) + len(b) > 80)
        ):
            for line in difflib.ndiff(a.splitlines(), b.splitlines()):
                if line.startswith("? "):
                    continue
                lines.append({"op": {"- ": "del", "+ ": "add"}.get(line[:2], ""), "text": line[2:]})
        rows.append({"field": key, "old": a, "new": b, "changed": a != b, "lines": lines})
    return rows


def _same_subject(approval: ApprovalRequest) -> Q:
    """Every version of the same subject.

    A campaign's (or an offer's) targeting versions share the campaign's (offer's) id.
    The contact policy is one subject, the bank's, whose versions are rows of their own.
    Each offer content version is its own row (its own subject id), so its versions are
    found by the offer code and channel every content snapshot carries (or, failing
    those, by ``subject_repr``).
    """
    same_type = Q(subject_type=approval.subject_type)
    if approval.subject_type == ApprovalSubject.CONTACT_POLICY:
        return same_type
    if approval.subject_type != ApprovalSubject.OFFER_CONTENT:
        return same_type & Q(subject_id=approval.subject_id)
    snapshot = approval.snapshot or {}
    if snapshot.get("offer_code") and snapshot.get("channel"):
        return same_type & Q(
            snapshot__offer_code=snapshot["offer_code"], snapshot__channel=snapshot["channel"]
        )
    return same_type & Q(subject_repr=approval.subject_repr)


def _previous_approved(approval: ApprovalRequest) -> ApprovalRequest | None:
    """The version of the same subject approved before this one, if any."""
    return (
        ApprovalRequest.objects.filter(_same_subject(approval))
        .filter(status=ApprovalStatus.APPROVED, subject_version__lt=approval.subject_version)
        .select_related("decided_by")
        .order_by("-subject_version", "-pk")
        .first()
    )


def _subject_url(approval: ApprovalRequest) -> str | None:
    if approval.subject_type == ApprovalSubject.CAMPAIGN_TARGETING:
        return reverse("campaigns:campaign_detail", args=[approval.subject_id])
    if approval.subject_type == ApprovalSubject.OFFER_CONTENT:
        return reverse("offers:content_redirect", args=[approval.subject_id])
    if approval.subject_type == ApprovalSubject.OFFER_TARGETING:
        return reverse("offers:offer_detail", args=[approval.subject_id]) + "#targeting"
    if approval.subject_type == ApprovalSubject.CONTACT_POLICY:
        return reverse("campaigns:policy")
    return None


# A snapshot may carry the version in force when it was submitted (offer targeting,
# contact policy): the baseline of "what changes if this is approved".
IN_FORCE_KEY = "in_force"


def _submitted(approval: ApprovalRequest) -> dict[str, Any]:
    return {k: v for k, v in (approval.snapshot or {}).items() if k != IN_FORCE_KEY}


def _baseline(approval: ApprovalRequest, previous: ApprovalRequest | None) -> dict | None:
    """What the submitted version is compared with: the version in force when it was
    submitted, if the snapshot records it; else the version approved before it."""
    in_force = (approval.snapshot or {}).get(IN_FORCE_KEY)
    if isinstance(in_force, dict):
        return {**_submitted(approval), **in_force}
    if previous is not None:
        return _submitted(previous)
    return None


def _approval_context(request: HttpRequest, approval: ApprovalRequest, form=None) -> dict:
    previous = _previous_approved(approval)
    baseline = _baseline(approval, previous)
    in_force = (approval.snapshot or {}).get(IN_FORCE_KEY)
    findings = sorted(
        approval.prechecks or [], key=lambda f: (f.get("severity") != "blocking", f.get("code", ""))
    )
    is_author = approval.submitted_by_id == request.user.pk
    pending = approval.status == ApprovalStatus.PENDING
    return {
        "approval": approval,
        "previous": previous,
        "in_force": in_force if isinstance(in_force, dict) else None,
        "diff": snapshot_diff(baseline, _submitted(approval)) if baseline is not None else None,
        "snapshot_rows": snapshot_diff(None, _submitted(approval)),
        "findings": findings,
        "is_author": is_author,
        "can_decide": pending
        and not is_author
        and has_role(request.user, permissions.APPROVAL_ACT),
        "can_approve": pending
        and not is_author
        and not approval.has_blocking_findings
        and has_role(request.user, permissions.APPROVAL_ACT),
        "form": form or ApprovalDecisionForm(initial={"action": ApprovalDecisionForm.COMMENT}),
        "subject_url": _subject_url(approval),
        "history": ApprovalRequest.objects.filter(_same_subject(approval))
        .select_related("submitted_by", "decided_by")
        .defer("snapshot", "prechecks")
        .order_by("-subject_version", "-pk"),
    }


@role_required(permissions.APPROVAL_READ)
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    approval = selectors.approval_get(pk)
    if approval is None:
        raise Http404("No such approval request.")
    form = None
    status = 200
    if request.method == "POST":
        if not has_role(request.user, permissions.APPROVAL_ACT):
            raise PermissionDenied("Only compliance officers decide approvals.")
        form = ApprovalDecisionForm(request.POST)
        if form.is_valid():
            action = form.cleaned_data["action"]
            comment = form.cleaned_data["comment"]
            if (
                action != ApprovalDecisionForm.COMMENT
                and approval.submitted_by_id == request.user.pk
            ):
                raise PermissionDenied("The author of a change can never approve or reject it.")
            try:
                if action == ApprovalDecisionForm.APPROVE:
                    services.approval_approve(
                        actor_user=request.user, request=approval, comment=comment
                    )
                    messages.success(
                        request, f"Approved {approval.subject_repr} v{approval.subject_version}."
                    )
                elif action == ApprovalDecisionForm.REJECT:
                    services.approval_reject(
                        actor_user=request.user, request=approval, comment=comment
                    )
                    messages.success(
                        request, f"Rejected {approval.subject_repr} v{approval.subject_version}."
                    )
                elif action == ApprovalDecisionForm.REQUEST_CHANGES:
                    services.approval_request_changes(
                        actor_user=request.user, request=approval, comment=comment
                    )
                    messages.success(request, f"Sent {approval.subject_repr} back for changes.")
                else:
                    services.approval_comment(
                        actor_user=request.user, request=approval, body=comment
                    )
                    messages.success(request, "Comment added.")
            except ApplicationError as error:
                add_service_error(form, error)
            else:
                if action == ApprovalDecisionForm.COMMENT:
                    return redirect("compliance:approval_detail", pk=approval.pk)
                return redirect("compliance:approval_list")
        status = 400
    return render_page(
        request,
        "compliance/approval_detail.html",
        _approval_context(request, approval, form),
        status=status,
    )


# --- the audit ledger ---------------------------------------------------------------------


@role_required(permissions.AUDIT_READ)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Newest page by default, shown oldest-to-newest ("newest last") with seq, hash and
    the seal that covers each record (with that seal's link to the previous one)."""
    queryset = AuditRecord.objects.select_related("membership__seal")
    filterset = AuditFilterSet(request.GET, queryset=queryset)
    queryset = filterset.qs if filterset.is_valid() else queryset.none()
    page = keyset_by_seq(
        queryset,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
        per_page=AUDIT_PAGE_SIZE,
    )
    context = {
        "filter": filterset,
        "page": page,
        "can_export": has_role(request.user, permissions.AUDIT_EXPORT),
        "can_verify": has_role(request.user, permissions.LEDGER_VERIFY),
        "export_query": _export_query(request),
    }
    return render_page(
        request,
        "compliance/audit_list.html",
        context,
        partial="compliance/partials/audit_table.html",
    )


def _export_query(request: HttpRequest) -> str:
    params = request.GET.copy()
    for key in ("before", "after", "page"):
        params.pop(key, None)
    return params.urlencode()


# --- customer suppressions and do-not-contact (from Customer 360) --------------------------


def _customer(external_id: str) -> Customer:
    return get_object_or_404(Customer, external_id=external_id)


def _back_to_customer(customer: Customer) -> HttpResponse:
    return redirect("decisioning:customer_360", external_id=customer.external_id)


def _suppression_context(request: HttpRequest, customer: Customer, **extra: Any) -> dict:
    return {
        "customer": customer,
        "suppressions": selectors.suppression_history(customer=customer)[:50],
        "can_manage_rights": has_role(request.user, permissions.CUSTOMER_RIGHTS),
        "suppression_form": SuppressionForm(),
        "dnc_form": DoNotContactForm(),
        **extra,
    }


@role_required(permissions.CUSTOMER_RIGHTS)
@require_POST
def suppression_add(request: HttpRequest, external_id: str) -> HttpResponse:
    customer = _customer(external_id)
    form = SuppressionForm(request.POST)
    if form.is_valid():
        try:
            services.suppression_add(
                actor=request.user,
                customer=customer,
                scope=form.cleaned_data["scope"],
                value=form.cleaned_data["value"],
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                source="console",
            )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Suppression added.")
            return _back_to_customer(customer)
    return render_page(
        request,
        "compliance/suppression_form.html",
        _suppression_context(request, customer, suppression_form=form),
        status=400,
    )


@role_required(permissions.CUSTOMER_RIGHTS)
@require_POST
def suppression_lift(request: HttpRequest, external_id: str, pk: int) -> HttpResponse:
    customer = _customer(external_id)
    entry = get_object_or_404(SuppressionEntry, pk=pk, customer=customer)
    form = SuppressionLiftForm(request.POST)
    if form.is_valid():
        try:
            services.suppression_lift(
                actor=request.user, entry=entry, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Suppression lifted.")
    else:
        messages.error(request, "Say why the suppression is lifted.")
    return _back_to_customer(customer)


# --- export and verification ----------------------------------------------------------------


@role_required(permissions.AUDIT_EXPORT)
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered trail, oldest first, streamed (constant memory for any size)."""
    if fmt not in FORMATS:
        raise Http404("Unknown export format.")
    filterset = AuditFilterSet(request.GET, queryset=AuditRecord.objects.all())
    if not filterset.is_valid():
        return HttpResponse("Some filters are not valid.", status=400, content_type="text/plain")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(
        export_stream(filterset.qs.order_by("seq"), fmt=fmt),
        content_type=EXPORT_TYPES[fmt],
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    return response


@role_required(permissions.LEDGER_VERIFY)
@require_POST
def ledger_verify(request: HttpRequest) -> HttpResponse:
    """Recompute every record hash and seal now and show the report."""
    report = verify_ledger()
    return render_page(
        request,
        "compliance/verification.html",
        {"verification": report, "verified_at": timezone.now()},
        partial="compliance/partials/verification.html",
    )
