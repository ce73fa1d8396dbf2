"""Compliance writes: approvals (maker-checker), consent, do-not-contact, suppression,
erasure records.

Every service is keyword-only, validates with ``full_clean()``, runs in one transaction
and appends its audit record in that transaction. Customers appear in the ledger only
by their pseudonym, and text a channel or an operator wrote about a customer (a consent
source, a do-not-contact or suppression reason) only as ``ledger.redaction.free_text``:
its class and keyed hash. The text stays on the row, which erasure blanks
(``customer_free_text_erase``). Approval comments are staff notes about catalog
subjects and are kept verbatim (``ledger.redaction.staff_note``).
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.choices import (
    ApprovalStatus,
    ApprovalSubject,
    ConsentChannel,
    ConsentStatus,
    ErasureStatus,
    SuppressionScope,
)
from compliance.models import (
    ApprovalComment,
    ApprovalRequest,
    Consent,
    DoNotContact,
    ErasureRequest,
    SuppressionEntry,
)
from compliance.prechecks import Finding, has_blocking
from compliance.signals import approval_decided
from compliance.versioning import bump_catalog_version
from core.actors import actor_name
from core.choices import Channel, Role
from core.exceptions import (
    Conflict,
    NotFound,
    PermissionDenied,
    Unprocessable,
    ValidationFailed,
)
from customers.models import Customer
from ledger.choices import AuditKind
from ledger.redaction import free_text, origin_of, staff_note
from ledger.services import audit

CHECKER_GROUPS = frozenset({Role.COMPLIANCE.value, Role.ADMIN.value})
MAKER_GROUPS = frozenset({Role.MARKETER.value, Role.ADMIN.value})
CONSENT_CLOCK_SKEW = datetime.timedelta(minutes=5)
# Sources and reasons the code itself writes: codes, kept as they are in the ledger.
SOURCE_ERASURE = "erasure"
SOURCE_CONSOLE = "console"
SOURCE_CODES = frozenset({SOURCE_ERASURE, SOURCE_CONSOLE})
REASON_ERASED = "erased"
SYSTEM_SUPPRESSION_REASONS = frozenset({REASON_ERASED, "cooldown_after_decline"})
# What erasure leaves in a required free-text field.
ERASED_TEXT = "[erased]"
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def _validation_failed(exc: ValidationError, message: str) -> ValidationFailed:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return ValidationFailed(message, fields={k: list(v) for k, v in fields.items()})


def _clean_and_save(
    instance: Any, message: str, *, clean: dict[str, Any] | None = None, **save_kwargs: Any
) -> None:
    try:
        instance.full_clean(**(clean or {}))
    except ValidationError as exc:
        raise _validation_failed(exc, message) from None
    instance.save(**save_kwargs)


# --- approvals --------------------------------------------------------------------------


def user_groups(user: AbstractBaseUser) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return frozenset()
    return frozenset(user.groups.values_list("name", flat=True))


def may_decide_approvals(user: AbstractBaseUser) -> bool:
    """Compliance officers and administrators decide; nobody else."""
    return bool(getattr(user, "is_superuser", False) or user_groups(user) & CHECKER_GROUPS)


def may_submit_for_approval(user: AbstractBaseUser) -> bool:
    return bool(getattr(user, "is_superuser", False) or user_groups(user) & MAKER_GROUPS)


def _finding_dicts(prechecks: Iterable[Finding | Mapping[str, Any]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for finding in prechecks:
        item = finding.as_dict() if isinstance(finding, Finding) else dict(finding)
        missing = {"code", "severity", "message"} - item.keys()
        if missing:
            raise ValidationFailed(
                "A pre-check finding is malformed.",
                fields={"prechecks": [f"missing {', '.join(sorted(missing))}"]},
            )
        out.append({key: str(value) for key, value in item.items()})
    return out


def _audit_approval(
    *, action: str, actor: Any, request: ApprovalRequest, data: dict | None = None
) -> None:
    audit(
        kind=AuditKind.APPROVAL,
        action=action,
        actor=actor,
        object_type="approval_request",
        object_id=request.pk,
        object_repr=request.subject_repr,
        data={
            "subject_type": request.subject_type,
            "subject_id": request.subject_id,
            "subject_version": request.subject_version,
            "content_hash": request.content_hash,
            "status": request.status,
            **(data or {}),
        },
    )


def approval_submit(
    *,
    actor_user: AbstractBaseUser,
    subject_type: str,
    subject_id: int,
    subject_version: int,
    content_hash: str,
    subject_repr: str,
    snapshot: Mapping[str, Any],
    prechecks: Sequence[Finding | Mapping[str, Any]],
    change: uuid.UUID | None = None,
) -> ApprovalRequest:
    """Ask for approval of one exact version (id, version, content hash) of a subject.

    ``change`` groups requests submitted as one change (an offer's content on every
    channel it was written for): the queue shows them as one item, and
    ``approval_decide_change`` decides them together.

    The pre-check findings are stored for the reviewer; blocking ones will prevent
    approval. A version already pending or approved cannot be submitted again, and a
    version that was rejected or sent back must be changed (a new version) first.
    """
    if not may_submit_for_approval(actor_user):
        raise PermissionDenied("Only marketers and administrators submit work for approval.")
    errors: dict[str, list[str]] = {}
    if subject_type not in ApprovalSubject.values:
        errors["subject_type"] = [f"must be one of {', '.join(ApprovalSubject.values)}"]
    if not _SHA256.match(content_hash or ""):
        errors["content_hash"] = ["must be a lowercase hex SHA-256"]
    if subject_version < 1:
        errors["subject_version"] = ["must be at least 1"]
    if errors:
        raise ValidationFailed("The approval request is not valid.", fields=errors)
    findings = _finding_dicts(prechecks)

    with transaction.atomic():
        earlier = ApprovalRequest.objects.select_for_update().filter(
            subject_type=subject_type, subject_id=subject_id, subject_version=subject_version
        )
        for previous in earlier:
            if previous.status in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED):
                raise Conflict(
                    f"{subject_repr} v{subject_version} is already {previous.get_status_display().lower()}.",
                    fields={"subject_version": [f"request {previous.pk} is {previous.status}"]},
                )
            if (
                previous.status in (ApprovalStatus.REJECTED, ApprovalStatus.CHANGES_REQUESTED)
                and previous.content_hash == content_hash
            ):
                raise Conflict(
                    f"{subject_repr} v{subject_version} was {previous.get_status_display().lower()}; "
                    "make a new version before submitting again.",
                    fields={"subject_version": [f"request {previous.pk} is {previous.status}"]},
                )
        request = ApprovalRequest(
            subject_type=subject_type,
            subject_id=subject_id,
            subject_version=subject_version,
            content_hash=content_hash,
            subject_repr=subject_repr[:200],
            change=change,
            snapshot=dict(snapshot),
            prechecks=findings,
            has_blocking_findings=has_blocking(findings),
            status=ApprovalStatus.PENDING,
            submitted_by=actor_user,
        )
        try:
            with transaction.atomic():
                _clean_and_save(request, "The approval request is not valid.")
        except IntegrityError:
            raise Conflict(
                f"{subject_repr} v{subject_version} was submitted at the same time by someone else."
            ) from None
        _audit_approval(
            action="approval_submitted",
            actor=actor_user,
            request=request,
            data={
                "prechecks": [f["code"] for f in findings],
                "blocking_findings": request.has_blocking_findings,
                **({"change": str(change)} if change else {}),
            },
        )
    return request


def _locked(request: ApprovalRequest | int) -> ApprovalRequest:
    pk = request.pk if isinstance(request, ApprovalRequest) else request
    try:
        return ApprovalRequest.objects.select_for_update().select_related("submitted_by").get(pk=pk)
    except ApprovalRequest.DoesNotExist:
        raise NotFound(f"Approval request {pk} does not exist.") from None


def _decide(
    *,
    actor_user: AbstractBaseUser,
    locked: ApprovalRequest,
    to_status: str,
    action: str,
    comment: str,
    from_statuses: tuple[str, ...] = (ApprovalStatus.PENDING,),
) -> ApprovalRequest:
    """Move a locked request to ``to_status`` as the checker; audit; tell the subject."""
    if locked.status not in from_statuses:
        raise Conflict(
            f"{locked.subject_repr} v{locked.subject_version} is {locked.status}, "
            f"so it cannot be {action.removeprefix('approval_').replace('_', ' ')}.",
            fields={"status": [locked.status]},
        )
    previous = locked.status
    locked.status = to_status
    locked.decided_by = actor_user
    locked.decided_at = timezone.now()
    locked.decision_comment = comment
    _clean_and_save(locked, "The approval decision is not valid.")
    if comment:
        ApprovalComment.objects.create(request=locked, author=actor_user, body=comment)
    _audit_approval(
        action=action,
        actor=actor_user,
        request=locked,
        data={"previous_status": previous, "comment": staff_note(comment)},
    )
    if ApprovalStatus.APPROVED in (previous, to_status):
        # What the engine may release has changed.
        bump_catalog_version()
    approval_decided.send(
        sender=ApprovalRequest, request=locked, previous_status=previous, actor=actor_user
    )
    return locked


def _require_checker(actor_user: AbstractBaseUser, locked: ApprovalRequest) -> None:
    if not may_decide_approvals(actor_user):
        raise PermissionDenied("Only compliance officers and administrators decide approvals.")
    if locked.submitted_by_id == actor_user.pk:
        raise PermissionDenied("The author of a change can never approve or reject it.")


def _require_comment(comment: str, what: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(f"Say why when you {what}.", fields={"comment": ["is required"]})
    return comment


def approval_approve(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, comment: str = ""
) -> ApprovalRequest:
    """Approve exactly the submitted version and hash; never by its author, never over a
    blocking pre-check finding."""
    with transaction.atomic():
        locked = _locked(request)
        _require_checker(actor_user, locked)
        if locked.status == ApprovalStatus.PENDING and locked.has_blocking_findings:
            blocking = [f["code"] for f in locked.prechecks if f.get("severity") == "blocking"]
            raise Unprocessable(
                "Blocking pre-check findings prevent approval: " + ", ".join(blocking) + ".",
                fields={"prechecks": blocking},
            )
        return _decide(
            actor_user=actor_user,
            locked=locked,
            to_status=ApprovalStatus.APPROVED,
            action="approval_approved",
            comment=(comment or "").strip(),
        )


def approval_reject(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, comment: str
) -> ApprovalRequest:
    comment = _require_comment(comment, "reject")
    with transaction.atomic():
        locked = _locked(request)
        _require_checker(actor_user, locked)
        return _decide(
            actor_user=actor_user,
            locked=locked,
            to_status=ApprovalStatus.REJECTED,
            action="approval_rejected",
            comment=comment,
        )


def approval_request_changes(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, comment: str
) -> ApprovalRequest:
    comment = _require_comment(comment, "ask for changes")
    with transaction.atomic():
        locked = _locked(request)
        _require_checker(actor_user, locked)
        return _decide(
            actor_user=actor_user,
            locked=locked,
            to_status=ApprovalStatus.CHANGES_REQUESTED,
            action="approval_changes_requested",
            comment=comment,
        )


def approval_revoke(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, comment: str
) -> ApprovalRequest:
    """Pull an approved version (it becomes rejected); the engine stops releasing it."""
    comment = _require_comment(comment, "revoke an approval")
    with transaction.atomic():
        locked = _locked(request)
        _require_checker(actor_user, locked)
        return _decide(
            actor_user=actor_user,
            locked=locked,
            to_status=ApprovalStatus.REJECTED,
            action="approval_revoked",
            comment=comment,
            from_statuses=(ApprovalStatus.APPROVED,),
        )


def approval_withdraw(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, comment: str = ""
) -> ApprovalRequest:
    """The author (or an administrator) takes a pending request back."""
    with transaction.atomic():
        locked = _locked(request)
        is_admin = getattr(actor_user, "is_superuser", False) or Role.ADMIN in user_groups(
            actor_user
        )
        if locked.submitted_by_id != actor_user.pk and not is_admin:
            raise PermissionDenied("Only the author or an administrator can withdraw a request.")
        if locked.status != ApprovalStatus.PENDING:
            raise Conflict(
                f"{locked.subject_repr} v{locked.subject_version} is {locked.status}, "
                "so it cannot be withdrawn.",
                fields={"status": [locked.status]},
            )
        previous = locked.status
        locked.status = ApprovalStatus.WITHDRAWN
        locked.decided_at = timezone.now()
        # decided_by stays empty: a withdrawal is not a checker's decision (and the
        # author may never appear as the checker of their own work).
        comment = (comment or "").strip()
        locked.decision_comment = comment
        _clean_and_save(locked, "The withdrawal is not valid.")
        if comment:
            ApprovalComment.objects.create(request=locked, author=actor_user, body=comment)
        _audit_approval(
            action="approval_withdrawn",
            actor=actor_user,
            request=locked,
            data={"previous_status": previous, "comment": staff_note(comment)},
        )
        approval_decided.send(
            sender=ApprovalRequest, request=locked, previous_status=previous, actor=actor_user
        )
    return locked


def approval_comment(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, body: str
) -> ApprovalComment:
    """A note on the request by its author or a reviewer."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("A comment cannot be empty.", fields={"body": ["is required"]})
    with transaction.atomic():
        locked = _locked(request)
        if locked.submitted_by_id != actor_user.pk and not may_decide_approvals(actor_user):
            raise PermissionDenied("Only the author and reviewers comment on a request.")
        comment = ApprovalComment(request=locked, author=actor_user, body=body)
        _clean_and_save(comment, "The comment is not valid.")
        _audit_approval(
            action="approval_commented",
            actor=actor_user,
            request=locked,
            data={"comment_id": comment.pk},
        )
    return comment


APPROVE = "approve"
REJECT = "reject"
REQUEST_CHANGES = "request_changes"
CHANGE_ACTIONS = (APPROVE, REJECT, REQUEST_CHANGES)


def approval_decide_change(
    *, actor_user: AbstractBaseUser, request: ApprovalRequest | int, action: str, comment: str = ""
) -> list[ApprovalRequest]:
    """Decide every pending request of ``request``'s change at once (the request alone
    when it is a change of its own), in one transaction: all or none.

    Approving refuses the whole change when any of its requests has a blocking finding
    (naming it): a checker approves what the customer will see on every channel, or
    sends it back. The author is never the checker, of any part.
    """
    if action not in CHANGE_ACTIONS:
        raise ValidationFailed(
            "Unknown decision.", fields={"action": [f"must be one of {', '.join(CHANGE_ACTIONS)}"]}
        )
    if action != APPROVE:
        comment = _require_comment(comment, "reject" if action == REJECT else "ask for changes")
    with transaction.atomic():
        lead = _locked(request)
        members = (
            [lead]
            if lead.change is None
            else list(
                ApprovalRequest.objects.select_for_update()
                .select_related("submitted_by")
                .filter(change=lead.change, status=ApprovalStatus.PENDING)
                .order_by("pk")
            )
        )
        if not members or all(m.status != ApprovalStatus.PENDING for m in members):
            raise Conflict(
                f"{lead.subject_repr} v{lead.subject_version} is {lead.status}; "
                "nothing in this change waits for a decision.",
                fields={"status": [lead.status]},
            )
        for member in members:
            _require_checker(actor_user, member)
        if action == APPROVE:
            blocked = [m for m in members if m.has_blocking_findings]
            if blocked:
                raise Unprocessable(
                    "Blocking pre-check findings prevent approval of "
                    + ", ".join(f"{m.subject_repr} v{m.subject_version}" for m in blocked)
                    + ": request changes or reject.",
                    fields={"prechecks": [m.subject_repr for m in blocked]},
                )
        decided = []
        for member in members:
            if action == APPROVE:
                decided.append(
                    _decide(
                        actor_user=actor_user,
                        locked=member,
                        to_status=ApprovalStatus.APPROVED,
                        action="approval_approved",
                        comment=(comment or "").strip(),
                    )
                )
            else:
                decided.append(
                    _decide(
                        actor_user=actor_user,
                        locked=member,
                        to_status=ApprovalStatus.REJECTED
                        if action == REJECT
                        else ApprovalStatus.CHANGES_REQUESTED,
                        action="approval_rejected"
                        if action == REJECT
                        else "approval_changes_requested",
                        comment=comment,
                    )
                )
    return decided


# --- consent, do-not-contact, suppression -----------------------------------------------


def _require_aware(value: datetime.datetime, field: str) -> None:
    if not isinstance(value, datetime.datetime) or timezone.is_naive(value):
        raise ValidationFailed(
            f"{field} needs a date and time with a UTC offset.", fields={field: ["needs an offset"]}
        )


def _lock_customer(customer: Customer) -> None:
    """Concurrent changes for one customer queue on the customer's row: two first changes
    (a consent of a channel, a do-not-contact entry) would otherwise both find nothing and
    both insert, and the loser's unique violation would be a 500."""
    list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk"))


def consent_set(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    status: str,
    source: str,
    captured_at: datetime.datetime,
) -> Consent:
    """Record a customer's consent on one channel, or ``all`` (the global opt-out).

    The latest capture wins: a change captured before the one on record is ignored
    (and audited as such). Repeating the same change is harmless.
    """
    errors: dict[str, list[str]] = {}
    if channel not in ConsentChannel.values:
        errors["channel"] = [f"must be one of {', '.join(ConsentChannel.values)}"]
    if status not in ConsentStatus.values:
        errors["status"] = [f"must be one of {', '.join(ConsentStatus.values)}"]
    if errors:
        raise ValidationFailed("The consent is not valid.", fields=errors)
    _require_aware(captured_at, "captured_at")
    if captured_at > timezone.now() + CONSENT_CLOCK_SKEW:
        raise ValidationFailed(
            "A consent cannot be captured in the future.",
            fields={"captured_at": ["is in the future"]},
        )
    if customer.is_erased and status == ConsentStatus.GRANTED:
        raise Unprocessable("The customer has been erased; no consent can be granted.")

    with transaction.atomic():
        _lock_customer(customer)
        consent = (
            Consent.objects.select_for_update().filter(customer=customer, channel=channel).first()
        )
        previous = consent.status if consent else None
        audit_data: dict[str, Any] = {
            "status": status,
            "previous_status": previous,
            # "STOP from +351912345678": the kind of source and a keyed hash, never the text
            "source": free_text(source, kind=origin_of(actor), codes=SOURCE_CODES),
            "captured_at": captured_at,
        }
        if consent and consent.captured_at > captured_at:
            audit(
                kind=AuditKind.CONSENT,
                action="consent_stale_ignored",
                actor=actor,
                object_type="consent",
                object_id=consent.pk,
                customer_ref=customer.pseudonym,
                channel=channel,
                data={**audit_data, "on_record_captured_at": consent.captured_at},
            )
            return consent
        if (
            consent
            and consent.status == status
            and consent.captured_at == captured_at
            and consent.source == source
        ):
            return consent
        consent = consent or Consent(customer=customer, channel=channel)
        consent.status = status
        consent.source = source
        consent.captured_at = captured_at
        # Under the customer's lock the row found (or its absence) is the only one: the
        # customer exists, uniqueness is the database's, and the check constraints are the
        # choices validated with the fields. Their queries were 8 of a change's 19.
        _clean_and_save(
            consent,
            "The consent is not valid.",
            clean={
                "exclude": ["customer"],
                "validate_unique": False,
                "validate_constraints": False,
            },
        )
        audit(
            kind=AuditKind.CONSENT,
            action=f"consent_{status}",
            actor=actor,
            object_type="consent",
            object_id=consent.pk,
            customer_ref=customer.pseudonym,
            channel=channel,
            data=audit_data,
        )
    return consent


def consents_revoke_all(
    *, actor: Any, customer: Customer, source: str, captured_at: datetime.datetime | None = None
) -> int:
    """Revoke every recorded consent and the global opt-in (erasure). Returns how many."""
    captured_at = captured_at or timezone.now()
    channels = set(Consent.objects.filter(customer=customer).values_list("channel", flat=True))
    channels.add(ConsentChannel.ALL)
    with transaction.atomic():
        for channel in sorted(channels):
            consent_set(
                actor=actor,
                customer=customer,
                channel=channel,
                status=ConsentStatus.REVOKED,
                source=source,
                captured_at=captured_at,
            )
    return len(channels)


def do_not_contact_set(
    *, actor: Any, customer: Customer, reason: str, source: str = ""
) -> DoNotContact:
    """Block all marketing to the customer on every channel (service actions still go)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why.", fields={"reason": ["is required"]})
    with transaction.atomic():
        _lock_customer(customer)
        entry = DoNotContact.objects.select_for_update().filter(customer=customer).first()
        created = entry is None
        entry = entry or DoNotContact(customer=customer)
        entry.reason = reason
        entry.source = source
        entry.created_by = actor_name(actor)
        _clean_and_save(entry, "The do-not-contact entry is not valid.")
        audit(
            kind=AuditKind.SUPPRESSION,
            action="do_not_contact_set" if created else "do_not_contact_updated",
            actor=actor,
            object_type="do_not_contact",
            object_id=entry.pk,
            customer_ref=customer.pseudonym,
            data={
                "reason": free_text(reason, kind=origin_of(actor)),
                "source": free_text(source, kind=origin_of(actor), codes=SOURCE_CODES),
            },
        )
    return entry


def do_not_contact_clear(*, actor: Any, customer: Customer, reason: str) -> bool:
    """Lift do-not-contact; False when there was none."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why.", fields={"reason": ["is required"]})
    with transaction.atomic():
        entry = DoNotContact.objects.select_for_update().filter(customer=customer).first()
        if entry is None:
            return False
        entry_id = entry.pk
        entry.delete()
        audit(
            kind=AuditKind.SUPPRESSION,
            action="do_not_contact_cleared",
            actor=actor,
            object_type="do_not_contact",
            object_id=entry_id,
            customer_ref=customer.pseudonym,
            data={
                "reason": free_text(reason, kind=origin_of(actor)),
                "was_reason": free_text(entry.reason, kind=origin_of(entry.created_by)),
            },
        )
    return True


def suppression_add(
    *,
    actor: Any,
    customer: Customer,
    scope: str,
    value: str = "",
    until: datetime.datetime | None = None,
    reason: str,
    source: str = "",
) -> SuppressionEntry:
    """Suppress offers for a customer: everything, a family, product, offer or channel,
    until a time (or permanently when ``until`` is empty)."""
    errors: dict[str, list[str]] = {}
    if scope not in SuppressionScope.values:
        errors["scope"] = [f"must be one of {', '.join(SuppressionScope.values)}"]
    value = (value or "").strip()
    if scope == SuppressionScope.ALL and value:
        errors["value"] = ["must be empty for scope all"]
    elif scope in SuppressionScope.values and scope != SuppressionScope.ALL and not value:
        errors["value"] = [f"names the {scope} to suppress"]
    if scope == SuppressionScope.CHANNEL and value and value not in Channel.values:
        errors["value"] = [f"must be one of {', '.join(Channel.values)}"]
    if not (reason or "").strip():
        errors["reason"] = ["is required"]
    if errors:
        raise ValidationFailed("The suppression is not valid.", fields=errors)
    if until is not None:
        _require_aware(until, "until")
        if until <= timezone.now():
            raise ValidationFailed(
                "A suppression must end in the future.", fields={"until": ["is in the past"]}
            )
    with transaction.atomic():
        entry = SuppressionEntry(
            customer=customer,
            scope=scope,
            value=value,
            until=until,
            reason=reason.strip(),
            source=source,
            created_by=actor_name(actor),
        )
        _clean_and_save(entry, "The suppression is not valid.")
        audit(
            kind=AuditKind.SUPPRESSION,
            action="suppression_added",
            actor=actor,
            object_type="suppression",
            object_id=entry.pk,
            customer_ref=customer.pseudonym,
            channel=value if scope == SuppressionScope.CHANNEL else "",
            data={
                "scope": scope,
                "value": value,
                "until": until,
                "reason": free_text(
                    entry.reason, kind=origin_of(actor), codes=SYSTEM_SUPPRESSION_REASONS
                ),
                "source": _suppression_source(source, actor),
            },
        )
    return entry


def _suppression_source(source: str, actor: Any) -> dict[str, Any]:
    """``console``, ``erasure`` and ``response:<response_id>`` (the decline that started
    a cooldown; the response's own record names that id too) are written by the code."""
    if source.startswith("response:"):
        return {"class": "response", "code": source}
    return free_text(source, kind=origin_of(actor), codes=SOURCE_CODES)


def suppression_lift(*, actor: Any, entry: SuppressionEntry, reason: str) -> SuppressionEntry:
    """End a suppression now (the entry stays as history, ``until`` = now)."""
    if not (reason or "").strip():
        raise ValidationFailed("Say why.", fields={"reason": ["is required"]})
    with transaction.atomic():
        entry = (
            SuppressionEntry.objects.select_for_update().select_related("customer").get(pk=entry.pk)
        )
        now = timezone.now()
        if entry.until is not None and entry.until <= now:
            return entry
        if entry.reason == REASON_ERASED:
            raise Conflict("The suppression of an erased customer is permanent.")
        previous_until = entry.until
        entry.until = now
        _clean_and_save(entry, "The suppression is not valid.")
        audit(
            kind=AuditKind.SUPPRESSION,
            action="suppression_lifted",
            actor=actor,
            object_type="suppression",
            object_id=entry.pk,
            customer_ref=entry.customer.pseudonym,
            data={
                "scope": entry.scope,
                "value": entry.value,
                "previous_until": previous_until,
                "reason": free_text(reason.strip(), kind=origin_of(actor)),
            },
        )
    return entry


# --- erasure -------------------------------------------------------------------------------


def customer_free_text_erase(*, customer: Customer) -> dict[str, int]:
    """Blank the free text channels and operators wrote about the customer on the
    compliance rows: consent sources, the do-not-contact reason, suppression reasons and
    sources. Codes the system wrote (``erasure``, ``erased``, ``cooldown_after_decline``,
    ``response:<id>``) stay: the rows keep working. The ledger never had the text
    (``ledger.redaction``). Called by the erasure orchestration inside its transaction;
    returns counts for the erasure summary."""
    with transaction.atomic():
        consents = (
            Consent.objects.filter(customer=customer)
            .exclude(source__in=SOURCE_CODES)
            .exclude(source="")
            .update(source="")
        )
        do_not_contact = DoNotContact.objects.filter(customer=customer).update(
            reason=ERASED_TEXT, source=""
        )
        suppressions = customer.suppressions.all()
        reasons = suppressions.exclude(
            reason__in=[*SYSTEM_SUPPRESSION_REASONS, ERASED_TEXT]
        ).update(reason=ERASED_TEXT)
        sources = (
            suppressions.exclude(source__in=SOURCE_CODES)
            .exclude(source="")
            .exclude(source__startswith="response:")
            .update(source="")
        )
    return {
        "consent_sources_blanked": consents,
        "do_not_contact_blanked": do_not_contact,
        "suppression_texts_blanked": reasons + sources,
    }


def erasure_record(*, actor: Any, customer: Customer, summary: Mapping[str, Any]) -> ErasureRequest:
    """Record a completed erasure. Called by the orchestration that did the work
    (``decisioning.customer_rights.customer_erase``) inside its transaction."""
    with transaction.atomic():
        request = ErasureRequest(
            customer=customer,
            customer_ref=customer.pseudonym,
            status=ErasureStatus.COMPLETED,
            requested_by=actor_name(actor),
            completed_at=timezone.now(),
            summary=dict(summary),
        )
        _clean_and_save(request, "The erasure request is not valid.")
        audit(
            kind=AuditKind.ERASURE,
            action="customer_erased",
            actor=actor,
            object_type="erasure_request",
            object_id=request.pk,
            customer_ref=customer.pseudonym,
            data=dict(summary),
        )
    return request
