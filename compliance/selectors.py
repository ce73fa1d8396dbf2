"""Compliance reads: approvals, consent and suppression state, the audit trail."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from compliance.choices import ApprovalStatus, ConsentChannel, ConsentStatus
from compliance.models import (
    ApprovalComment,
    ApprovalRequest,
    Consent,
    DoNotContact,
    ErasureRequest,
    SuppressionEntry,
)
from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from ledger.models import AuditRecord, AuditSeal

# --- approvals --------------------------------------------------------------------------


def is_approved(subject_type: str, subject_id: int, version: int, content_hash: str) -> bool:
    """True only when exactly this version with exactly this content hash is approved."""
    return ApprovalRequest.objects.filter(
        subject_type=subject_type,
        subject_id=subject_id,
        subject_version=version,
        content_hash=content_hash,
        status=ApprovalStatus.APPROVED,
    ).exists()


def approved_versions(subject_type: str) -> set[tuple[int, int, str]]:
    """Every approved (subject id, version, content hash) of a subject type.

    The engine's snapshot loader releases a content version or campaign targeting only
    when its (id, version, hash) is in this set.
    """
    return set(
        ApprovalRequest.objects.filter(
            subject_type=subject_type, status=ApprovalStatus.APPROVED
        ).values_list("subject_id", "subject_version", "content_hash")
    )


def approval_list(
    *,
    status: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
) -> QuerySet[ApprovalRequest]:
    """The review queue (oldest first) or a subject's history, with people and comments."""
    queryset = ApprovalRequest.objects.select_related(
        "submitted_by", "decided_by"
    ).prefetch_related(
        Prefetch("comments", queryset=ApprovalComment.objects.select_related("author"))
    )
    if status:
        queryset = queryset.filter(status=status)
    if subject_type:
        queryset = queryset.filter(subject_type=subject_type)
    if subject_id is not None:
        queryset = queryset.filter(subject_id=subject_id)
    return queryset.order_by("submitted_at", "pk")


def approval_queue(matched: QuerySet[ApprovalRequest]) -> QuerySet[ApprovalRequest]:
    """One row per change among the requests ``matched`` (filtered by status, subject,
    author): a change's first request stands for all of it, a request submitted on its
    own for itself. Annotated with ``waiting`` (0 while anything in it is pending),
    ``members`` and ``blocking_members``; pending first, oldest waiting first."""
    same_change = ApprovalRequest.objects.filter(change=OuterRef("change"))
    leads = (
        ApprovalRequest.objects.filter(
            change__in=matched.filter(change__isnull=False).values("change")
        )
        .values("change")
        .annotate(lead=Min("pk"))
        .values("lead")
    )
    counted = same_change.values("change").annotate(n=Count("pk")).values("n")
    return (
        ApprovalRequest.objects.select_related("submitted_by", "decided_by")
        .defer("snapshot")
        .filter(Q(change__isnull=True, pk__in=matched.values("pk")) | Q(pk__in=leads))
        .annotate(
            waiting=Case(
                When(change__isnull=True, status=ApprovalStatus.PENDING, then=Value(0)),
                When(
                    Q(change__isnull=False)
                    & Exists(same_change.filter(status=ApprovalStatus.PENDING)),
                    then=Value(0),
                ),
                default=Value(1),
                output_field=IntegerField(),
            ),
            members=Coalesce(Subquery(counted, output_field=IntegerField()), Value(1)),
            blocking_members=Case(
                When(change__isnull=True, then=Cast("has_blocking_findings", IntegerField())),
                default=Coalesce(
                    Subquery(
                        same_change.filter(
                            status=ApprovalStatus.PENDING, has_blocking_findings=True
                        )
                        .values("change")
                        .annotate(n=Count("pk"))
                        .values("n"),
                        output_field=IntegerField(),
                    ),
                    Value(0),
                ),
                output_field=IntegerField(),
            ),
        )
        .order_by("waiting", "submitted_at", "pk")
    )


def pending_items() -> int:
    """How many queue items wait for a checker: changes with anything pending, counted once."""
    key = Coalesce(Cast("change", CharField()), Cast("pk", CharField()))
    return ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).aggregate(
        n=Count(key, distinct=True)
    )["n"]


def change_members(
    requests: Iterable[ApprovalRequest], *, with_snapshot: bool = False
) -> dict[Any, list[ApprovalRequest]]:
    """Every request of the given requests' changes, by change key, in one query (a
    request of its own is its own change, keyed by its pk)."""
    requests = list(requests)
    keys = {r.change for r in requests if r.change is not None}
    out: dict[Any, list[ApprovalRequest]] = {r.pk: [r] for r in requests if r.change is None}
    if keys:
        rows = ApprovalRequest.objects.select_related("submitted_by", "decided_by").filter(
            change__in=keys
        )
        if not with_snapshot:
            rows = rows.defer("snapshot")
        for row in rows.order_by("subject_repr", "subject_version", "pk"):
            out.setdefault(row.change, []).append(row)
    return out


def approval_get(pk: int) -> ApprovalRequest | None:
    return approval_list().filter(pk=pk).first()


def latest_approval(subject_type: str, subject_id: int, version: int) -> ApprovalRequest | None:
    """The most recent request for one version of a subject (any status)."""
    return (
        ApprovalRequest.objects.select_related("submitted_by", "decided_by")
        .filter(subject_type=subject_type, subject_id=subject_id, subject_version=version)
        .order_by("-submitted_at", "-pk")
        .first()
    )


def approvals_by_version(
    subject_type: str, subject_ids: Iterable[int]
) -> dict[tuple[int, int], ApprovalRequest]:
    """The latest request per (subject id, version), for listing many versions at once."""
    out: dict[tuple[int, int], ApprovalRequest] = {}
    rows = (
        ApprovalRequest.objects.select_related("submitted_by", "decided_by")
        .filter(subject_type=subject_type, subject_id__in=list(subject_ids))
        .order_by("submitted_at", "pk")
    )
    for request in rows:
        out[(request.subject_id, request.subject_version)] = request
    return out


def submitted_versions(subject_type: str, subject_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(subject id, version) pairs that were ever submitted: those are immutable."""
    return set(
        ApprovalRequest.objects.filter(
            subject_type=subject_type, subject_id__in=list(subject_ids)
        ).values_list("subject_id", "subject_version")
    )


# --- consent and suppression --------------------------------------------------------------


def consents_for_customer(customer: Customer) -> dict[str, str]:
    """{channel or "all": "granted" | "revoked"} as recorded."""
    return dict(Consent.objects.filter(customer=customer).values_list("channel", "status"))


def active_suppressions(
    *, customer: Customer, at: datetime.datetime | None = None
) -> QuerySet[SuppressionEntry]:
    """Suppressions in force for a customer at ``at`` (default now): permanent ones and
    those whose ``until`` is later."""
    at = at or timezone.now()
    return (
        SuppressionEntry.objects.filter(customer=customer)
        .filter(Q(until__isnull=True) | Q(until__gt=at))
        .filter(created_at__lte=at)
        .order_by("created_at", "pk")
    )


def active_suppressions_for_customers(
    customer_ids: Iterable[int], *, at: datetime.datetime | None = None
) -> dict[int, list[SuppressionEntry]]:
    """The same for many customers in one query (batch runs)."""
    at = at or timezone.now()
    out: dict[int, list[SuppressionEntry]] = {}
    rows = (
        SuppressionEntry.objects.filter(customer_id__in=list(customer_ids))
        .filter(Q(until__isnull=True) | Q(until__gt=at))
        .filter(created_at__lte=at)
        .order_by("customer_id", "created_at", "pk")
    )
    for entry in rows:
        out.setdefault(entry.customer_id, []).append(entry)
    return out


def suppression_history(*, customer: Customer) -> QuerySet[SuppressionEntry]:
    return SuppressionEntry.objects.filter(customer=customer).order_by("-created_at", "-pk")


def is_do_not_contact(customer: Customer) -> bool:
    return DoNotContact.objects.filter(customer=customer).exists()


@dataclass(frozen=True, slots=True)
class ContactPermission:
    """Everything the pre-send gate and the console need to know about one customer."""

    erased: bool
    do_not_contact: bool
    global_opt_out: bool
    consents: dict[str, str] = field(default_factory=dict)
    suppressions: tuple[SuppressionEntry, ...] = ()

    def marketing_allowed_on(self, channel: str, *, outbound: bool) -> bool:
        """Sales offers: outbound channels need an explicit grant; inbound ones are allowed
        unless revoked. Erasure, do-not-contact and the global opt-out block all."""
        if self.erased or self.do_not_contact or self.global_opt_out:
            return False
        recorded = self.consents.get(channel)
        if outbound:
            return recorded == ConsentStatus.GRANTED
        return recorded != ConsentStatus.REVOKED


def contact_permission(
    *, customer: Customer, at: datetime.datetime | None = None
) -> ContactPermission:
    consents = consents_for_customer(customer)
    return ContactPermission(
        erased=customer.is_erased,
        do_not_contact=is_do_not_contact(customer),
        global_opt_out=consents.get(ConsentChannel.ALL) == ConsentStatus.REVOKED,
        consents=consents,
        suppressions=tuple(active_suppressions(customer=customer, at=at)),
    )


def erasure_list() -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.order_by("-requested_at")


# --- the audit trail --------------------------------------------------------------------


def audit_record_list(
    *,
    external_id: str | None = None,
    customer_ref: str | None = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> QuerySet[AuditRecord]:
    """Audit records, oldest first, filtered by customer (the bank's id is turned into its
    pseudonym, so an erased customer's trail is still found), time range and kinds."""
    queryset = AuditRecord.objects.all()
    if external_id:
        queryset = queryset.filter(customer_ref=pseudonym_for(external_id))
    if customer_ref:
        queryset = queryset.filter(customer_ref=customer_ref)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    kinds = [kind for kind in (kinds or []) if kind]
    if kinds:
        queryset = queryset.filter(kind__in=kinds)
    return queryset.order_by("seq")


def audit_seal_list() -> QuerySet[AuditSeal]:
    return AuditSeal.objects.order_by("-seq")
