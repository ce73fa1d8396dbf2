"""Maker-checker approvals over versioned subjects."""

from __future__ import annotations

import hashlib

import pytest

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalComment
from compliance.prechecks import BLOCKING, WARNING, Finding
from compliance.selectors import approval_list, approved_versions, is_approved, latest_approval
from compliance.services import (
    approval_approve,
    approval_comment,
    approval_reject,
    approval_request_changes,
    approval_revoke,
    approval_submit,
    approval_withdraw,
)
from compliance.signals import approval_decided
from compliance.versioning import current_catalog_version
from core.exceptions import Conflict, PermissionDenied, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from tests.factories import persona

pytestmark = pytest.mark.django_db

HASH_V1 = hashlib.sha256(b"v1").hexdigest()
HASH_V2 = hashlib.sha256(b"v2").hexdigest()


def submit(user, *, version=1, content_hash=HASH_V1, prechecks=(), subject_id=42):
    return approval_submit(
        actor_user=user,
        subject_type=ApprovalSubject.OFFER_CONTENT,
        subject_id=subject_id,
        subject_version=version,
        content_hash=content_hash,
        subject_repr="GOLD_CARD/sms",
        snapshot={"headline": "Gold card", "body": "Reply STOP to opt out"},
        prechecks=list(prechecks),
    )


def last_audit(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(kind=AuditKind.APPROVAL, action=action).latest("seq")


def test_submitting_records_the_exact_version_hash_and_prechecks(maker):
    warning = Finding("sms_not_gsm7", WARNING, "curly quotes", "body")
    request = submit(maker, prechecks=[warning])

    assert request.status == ApprovalStatus.PENDING
    assert (request.subject_version, request.content_hash) == (1, HASH_V1)
    assert request.prechecks == [warning.as_dict()]
    assert request.has_blocking_findings is False
    assert request.snapshot["headline"] == "Gold card"
    record = last_audit("approval_submitted")
    assert record.actor == "user:maker"
    assert record.object_id == str(request.pk)
    assert record.data["content_hash"] == HASH_V1
    assert record.data["prechecks"] == ["sms_not_gsm7"]


def test_checker_approves_and_only_that_version_and_hash_become_releasable(maker, checker):
    request = submit(maker)
    before = current_catalog_version()

    approved = approval_approve(actor_user=checker, request=request, comment="Looks right")

    assert approved.status == ApprovalStatus.APPROVED
    assert approved.decided_by == checker
    assert approved.decided_at is not None
    assert is_approved(ApprovalSubject.OFFER_CONTENT, 42, 1, HASH_V1)
    assert not is_approved(ApprovalSubject.OFFER_CONTENT, 42, 1, HASH_V2)
    assert not is_approved(ApprovalSubject.OFFER_CONTENT, 42, 2, HASH_V1)
    assert approved_versions(ApprovalSubject.OFFER_CONTENT) == {(42, 1, HASH_V1)}
    assert approved_versions(ApprovalSubject.CAMPAIGN_TARGETING) == set()
    assert current_catalog_version() == before + 1
    record = last_audit("approval_approved")
    assert record.actor == "user:checker"
    assert record.data["previous_status"] == "pending"
    assert ApprovalComment.objects.get(request=request).body == "Looks right"


def test_the_author_cannot_approve_their_own_work_even_as_compliance():
    both = persona("maker", "marketer", "compliance")
    request = submit(both)
    with pytest.raises(PermissionDenied, match="author"):
        approval_approve(actor_user=both, request=request)
    with pytest.raises(PermissionDenied):
        approval_reject(actor_user=both, request=request, comment="mine")
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_an_administrator_who_wrote_it_cannot_approve_it_either():
    admin = persona("boss", "admin")
    request = submit(admin)
    with pytest.raises(PermissionDenied):
        approval_approve(actor_user=admin, request=request)


def test_someone_outside_compliance_cannot_approve(maker, outsider):
    request = submit(maker)
    colleague = persona("colleague", "marketer")
    for user in (outsider, colleague):
        with pytest.raises(PermissionDenied, match="compliance"):
            approval_approve(actor_user=user, request=request)
    assert not is_approved(ApprovalSubject.OFFER_CONTENT, 42, 1, HASH_V1)


def test_an_administrator_may_decide_someone_elses_work(maker):
    admin = persona("boss", "admin")
    assert approval_approve(actor_user=admin, request=submit(maker)).status == "approved"


def test_blocking_prechecks_prevent_approval(maker, checker):
    blocking = Finding("credit_disclosure_missing", BLOCKING, "needs APR", "disclosure")
    request = submit(maker, prechecks=[blocking])
    assert request.has_blocking_findings

    with pytest.raises(Unprocessable, match="credit_disclosure_missing"):
        approval_approve(actor_user=checker, request=request)

    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
    # The reviewer can still send it back.
    sent_back = approval_request_changes(actor_user=checker, request=request, comment="Add the APR")
    assert sent_back.status == ApprovalStatus.CHANGES_REQUESTED


def test_only_marketers_and_administrators_submit(outsider):
    with pytest.raises(PermissionDenied):
        submit(outsider)


def test_a_version_cannot_be_pending_twice(maker):
    submit(maker)
    with pytest.raises(Conflict, match="already pending"):
        submit(maker)


def test_a_rejected_version_must_change_before_it_is_submitted_again(maker, checker):
    request = submit(maker)
    approval_reject(actor_user=checker, request=request, comment="Misleading headline")
    with pytest.raises(Conflict, match="new version"):
        submit(maker)
    assert submit(maker, version=2, content_hash=HASH_V2).status == ApprovalStatus.PENDING


def test_reject_and_request_changes_need_a_reason(maker, checker):
    request = submit(maker)
    with pytest.raises(ValidationFailed):
        approval_reject(actor_user=checker, request=request, comment="  ")
    with pytest.raises(ValidationFailed):
        approval_request_changes(actor_user=checker, request=request, comment="")


def test_reject_is_audited_and_does_not_change_what_is_releasable(maker, checker):
    request = submit(maker)
    before = current_catalog_version()
    approval_reject(actor_user=checker, request=request, comment="No")
    assert current_catalog_version() == before
    assert last_audit("approval_rejected").data["comment"] == "No"


def test_request_changes_is_audited(maker, checker):
    request = submit(maker)
    approval_request_changes(actor_user=checker, request=request, comment="Shorter")
    assert last_audit("approval_changes_requested").data["status"] == "changes_requested"


def test_a_decided_request_cannot_be_decided_again(maker, checker):
    request = submit(maker)
    approval_approve(actor_user=checker, request=request)
    with pytest.raises(Conflict):
        approval_reject(actor_user=checker, request=request, comment="changed my mind")


def test_the_author_withdraws_a_pending_request_and_may_resubmit_it(maker, checker):
    request = submit(maker)
    with pytest.raises(PermissionDenied):
        approval_withdraw(actor_user=checker, request=request)
    withdrawn = approval_withdraw(actor_user=maker, request=request, comment="Wrong offer")
    assert withdrawn.status == ApprovalStatus.WITHDRAWN
    assert withdrawn.decided_by is None
    assert last_audit("approval_withdrawn").actor == "user:maker"
    assert submit(maker).status == ApprovalStatus.PENDING


def test_revoking_an_approval_pulls_the_version(maker, checker):
    request = submit(maker)
    approval_approve(actor_user=checker, request=request)
    before = current_catalog_version()
    revoked = approval_revoke(actor_user=checker, request=request, comment="Rate changed")
    assert revoked.status == ApprovalStatus.REJECTED
    assert not is_approved(ApprovalSubject.OFFER_CONTENT, 42, 1, HASH_V1)
    assert current_catalog_version() == before + 1
    assert last_audit("approval_revoked").data["previous_status"] == "approved"


def test_author_and_reviewers_comment_others_may_not(maker, checker, outsider):
    request = submit(maker)
    approval_comment(actor_user=maker, request=request, body="Note the new rate")
    approval_comment(actor_user=checker, request=request, body="Thanks")
    with pytest.raises(PermissionDenied):
        approval_comment(actor_user=outsider, request=request, body="Hi")
    with pytest.raises(ValidationFailed):
        approval_comment(actor_user=maker, request=request, body=" ")
    loaded = approval_list(subject_id=42).get()
    assert [c.body for c in loaded.comments.all()] == ["Note the new rate", "Thanks"]
    assert last_audit("approval_commented").actor == "user:checker"


def test_malformed_submission_is_refused(maker):
    with pytest.raises(ValidationFailed) as error:
        approval_submit(
            actor_user=maker,
            subject_type="poem",
            subject_id=1,
            subject_version=0,
            content_hash="not-a-hash",
            subject_repr="x",
            snapshot={},
            prechecks=[],
        )
    assert set(error.value.fields) == {"subject_type", "subject_version", "content_hash"}
    with pytest.raises(ValidationFailed, match="malformed"):
        submit(maker, prechecks=[{"code": "x"}])


def test_every_transition_tells_the_subject_layer(maker, checker):
    seen = []

    def listener(sender, request, previous_status, actor, **kwargs):
        seen.append((previous_status, request.status, actor.username))

    approval_decided.connect(listener)
    try:
        approval_approve(actor_user=checker, request=submit(maker))
        approval_withdraw(actor_user=maker, request=submit(maker, version=2, content_hash=HASH_V2))
    finally:
        approval_decided.disconnect(listener)
    assert seen == [("pending", "approved", "checker"), ("pending", "withdrawn", "maker")]


def test_review_queue_lists_pending_requests_oldest_first_in_few_queries(
    maker, checker, django_assert_max_num_queries
):
    for n in range(5):
        submit(maker, subject_id=n)
    with django_assert_max_num_queries(2):
        queue = list(approval_list(status=ApprovalStatus.PENDING))
        names = [(r.submitted_by.username, len(r.comments.all())) for r in queue]
    assert [r.subject_id for r in queue] == [0, 1, 2, 3, 4]
    assert names[0] == ("maker", 0)
    assert latest_approval(ApprovalSubject.OFFER_CONTENT, 3, 1).subject_id == 3
