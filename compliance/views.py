"""Compliance screens: the approval queue, the audit ledger, customer suppressions.

Approve / reject / request changes call ``compliance.services``; the author of a change
never sees the approve button, and the view refuses the action (403) before the service
refuses it again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from compliance import previews, selectors, services
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.diffs import snapshot_diff
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
    """Opens on the pending changes, oldest waiting first; with any status, pending first,
    then everything decided. One item per change: an offer's content submitted for
    several channels is one item naming them all."""
    params = request.GET.copy()
    if "status" not in params:
        # the queue opens on what waits for a checker; "Any status" shows the history
        params["status"] = ApprovalStatus.PENDING
    filterset = ApprovalFilterSet(params, queryset=ApprovalRequest.objects.all())
    page = page_of(request, selectors.approval_queue(filterset.qs))
    parts = selectors.change_members(page.object_list)
    for item in page.object_list:
        item.parts = parts.get(item.change or item.pk, [item])
        _label(item)
    context = {"filter": filterset, "page": page, "pending": selectors.pending_items()}
    return render_page(
        request,
        "compliance/approval_list.html",
        context,
        partial="compliance/partials/approval_table.html",
    )


def _label(item: ApprovalRequest) -> None:
    """A change's name in the queue ("CARD_X content") and each part's ("sms")."""
    subjects = {part.subject_repr.partition("/")[0] for part in item.parts}
    item.change_label = (
        f"{subjects.pop()} content"
        if len(subjects) == 1 and len(item.parts) > 1
        else item.subject_repr
    )
    for part in item.parts:
        part.part_label = part.subject_repr.partition("/")[2] or part.subject_repr


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


def _review(approval: ApprovalRequest) -> dict[str, Any]:
    """What a checker reads of one request: its snapshot, its findings, the diff against
    the version in force (or approved before it) and, for content, its channel preview."""
    previous = _previous_approved(approval)
    baseline = _baseline(approval, previous)
    in_force = (approval.snapshot or {}).get(IN_FORCE_KEY)
    snapshot = approval.snapshot or {}
    preview = None
    if approval.subject_type == ApprovalSubject.OFFER_CONTENT and snapshot.get("channel"):
        try:
            preview = previews.preview(
                channel=snapshot["channel"],
                **{name: str(snapshot.get(name) or "") for name in previews.TEXT_FIELDS},
            )
        except ValueError:  # a channel since removed from the registry
            preview = None
    return {
        "approval": approval,
        "previous": previous,
        "in_force": in_force if isinstance(in_force, dict) else None,
        "diff": snapshot_diff(baseline, _submitted(approval)) if baseline is not None else None,
        "snapshot_rows": snapshot_diff(None, _submitted(approval)),
        "findings": sorted(
            approval.prechecks or [],
            key=lambda f: (f.get("severity") != "blocking", f.get("code", "")),
        ),
        "p": preview,
    }


def _approval_context(request: HttpRequest, approval: ApprovalRequest, form=None) -> dict:
    members = (
        selectors.change_members([approval], with_snapshot=True).get(approval.change)
        if approval.change is not None
        else None
    ) or [approval]
    parts = [_review(member if member.pk != approval.pk else approval) for member in members]
    lead = next(part for part in parts if part["approval"].pk == approval.pk)
    pending = [m for m in members if m.status == ApprovalStatus.PENDING]
    is_author = any(m.submitted_by_id == request.user.pk for m in members)
    may_act = has_role(request.user, permissions.APPROVAL_ACT)
    return {
        **lead,
        "parts": parts,
        "is_change": len(members) > 1,
        "pending_parts": len(pending),
        "is_author": is_author,
        "can_decide": bool(pending) and not is_author and may_act,
        "can_approve": bool(pending)
        and not is_author
        and not any(m.has_blocking_findings for m in pending)
        and may_act,
        "form": form or ApprovalDecisionForm(initial={"action": ApprovalDecisionForm.COMMENT}),
        "subject_url": _subject_url(approval),
        "history": ApprovalRequest.objects.filter(_same_subject(approval))
        .select_related("submitted_by", "decided_by")
        .defer("snapshot", "prechecks")
        .order_by("-subject_version", "-pk"),
    }


@role_required(permissions.APPROVAL_READ)
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One queue item: a request, or every request of its change (an offer's content on
    all its channels), each with its preview, findings and diff; approve, reject and
    request changes decide every pending part of the change at once."""
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
                if action == ApprovalDecisionForm.COMMENT:
                    services.approval_comment(
                        actor_user=request.user, request=approval, body=comment
                    )
                    messages.success(request, "Comment added.")
                else:
                    decided = services.approval_decide_change(
                        actor_user=request.user, request=approval, action=action, comment=comment
                    )
                    what = ", ".join(f"{d.subject_repr} v{d.subject_version}" for d in decided)
                    verb = {
                        ApprovalDecisionForm.APPROVE: "Approved",
                        ApprovalDecisionForm.REJECT: "Rejected",
                        ApprovalDecisionForm.REQUEST_CHANGES: "Sent back for changes:",
                    }[action]
                    messages.success(request, f"{verb} {what}.")
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
