"""The contact policy changes by maker-checker: a change is a pending version that only a
checker (never its maker) puts in force; the active version stays in force meanwhile."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import ContactPolicy
from campaigns.policy_hash import policy_hash_of
from campaigns.selectors import (
    active_contact_policy,
    contact_policy_approval,
    contact_policy_proposal,
    contact_policy_versions,
)
from campaigns.services import contact_policy_update
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.services import (
    approval_approve,
    approval_reject,
    approval_revoke,
)
from compliance.versioning import current_catalog_version
from core.exceptions import Conflict, PermissionDenied
from decisioning.decisions.snapshots import build, snapshots
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from tests.factories import persona

pytestmark = pytest.mark.django_db

# The compliance officer's example: caps 20/100, quiet hours off, no decline cooldown.
LOOSENED = {
    "daily_cap": 20,
    "weekly_cap": 100,
    "quiet_channels": [],
    "decline_cooldown_days": 0,
}


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def test_a_pending_policy_change_is_not_in_force(maker):
    before = active_contact_policy()

    pending = contact_policy_update(actor=maker, data=LOOSENED, note="More reach")

    assert not pending.is_active
    assert active_contact_policy() == before
    engine = build().engine.policy
    assert (engine.version, engine.daily_cap, engine.weekly_cap) == (before.version, 1, 3)
    assert engine.quiet_channels == frozenset(before.quiet_channels)
    assert engine.decline_cooldown_days == 30
    request = contact_policy_approval(pending)
    assert request.status == ApprovalStatus.PENDING and request.submitted_by == maker
    assert request.subject_type == ApprovalSubject.CONTACT_POLICY
    assert (request.subject_id, request.subject_version) == (pending.pk, pending.version)
    assert request.content_hash == policy_hash_of(pending)
    assert contact_policy_proposal().policy == pending


def test_the_review_shows_the_change_against_the_policy_in_force_and_its_prechecks(maker):
    pending = contact_policy_update(actor=maker, data=LOOSENED)
    request = contact_policy_approval(pending)
    assert request.snapshot["daily_cap"] == 20 and request.snapshot["quiet_channels"] == []
    assert request.snapshot["in_force"]["daily_cap"] == 1
    assert request.snapshot["in_force"]["quiet_channels"] == ["push", "sms"]
    assert request.snapshot["in_force"]["version"] == active_contact_policy().version
    findings = {(f["code"], f["field"]) for f in request.prechecks}
    assert findings == {
        ("contact_cap_raised", "daily_cap"),
        ("contact_cap_raised", "weekly_cap"),
        ("quiet_hours_lifted", "quiet_channels"),
        ("decline_cooldown_shortened", "decline_cooldown_days"),
    }
    assert all(f["severity"] == "warning" for f in request.prechecks)


def test_the_maker_cannot_approve_their_own_policy_change():
    both = persona("both-hats", "marketer", "compliance")
    pending = contact_policy_update(actor=both, data=LOOSENED)
    request = contact_policy_approval(pending)
    with pytest.raises(PermissionDenied):
        approval_approve(actor_user=both, request=request)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).update(
            status=ApprovalStatus.APPROVED, decided_by=both
        )
    pending.refresh_from_db()
    assert not pending.is_active


def test_a_checkers_approval_puts_the_version_in_force_and_is_audited_with_it(maker, checker):
    before = active_contact_policy()
    pending = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4})
    catalog = current_catalog_version()

    approval_approve(actor_user=checker, request=contact_policy_approval(pending), comment="ok")

    pending.refresh_from_db()
    before.refresh_from_db()
    assert pending.is_active and not before.is_active
    assert active_contact_policy() == pending
    assert build().engine.policy.version == pending.version
    assert current_catalog_version() > catalog
    approved = AuditRecord.objects.get(kind=AuditKind.APPROVAL, action="approval_approved")
    activated = AuditRecord.objects.get(kind=AuditKind.POLICY, action="contact_policy_activated")
    assert approved.actor == activated.actor == "user:checker"
    assert activated.data["version"] == pending.version
    assert activated.data["previous_version"] == before.version
    assert activated.data["changes"] == {"daily_cap": [1, 2], "weekly_cap": [3, 4]}


def test_a_rejected_policy_change_never_comes_into_force(maker, checker):
    before = active_contact_policy()
    pending = contact_policy_update(actor=maker, data=LOOSENED)
    approval_reject(actor_user=checker, request=contact_policy_approval(pending), comment="No")
    assert active_contact_policy() == before
    assert contact_policy_proposal() is None
    assert AuditRecord.objects.filter(kind=AuditKind.APPROVAL, action="approval_rejected").exists()
    states = {s.policy.version: s.status for s in contact_policy_versions()}
    assert states == {before.version: "active", pending.version: ApprovalStatus.REJECTED}


def test_editing_a_pending_change_replaces_it_and_another_makers_change_waits(maker, checker):
    first = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4})
    second = contact_policy_update(actor=maker, data={"hardship_days": 45})
    assert contact_policy_approval(first).status == ApprovalStatus.WITHDRAWN
    # It continues the proposal: caps 2/4 and the new hardship days.
    assert (second.daily_cap, second.weekly_cap, second.hardship_days) == (2, 4, 45)
    assert contact_policy_proposal().policy == second

    with pytest.raises(Conflict, match="waiting for review"):
        contact_policy_update(actor=persona("rui", "marketer"), data={"daily_cap": 3})
    assert contact_policy_approval(second).status == ApprovalStatus.PENDING

    # Back to exactly the policy in force: nothing to approve.
    active = active_contact_policy()
    assert (
        contact_policy_update(
            actor=maker, data={"daily_cap": 1, "weekly_cap": 3, "hardship_days": 30}
        )
        == active
    )
    assert contact_policy_approval(second).status == ApprovalStatus.WITHDRAWN


def test_a_policy_version_altered_after_submission_cannot_be_approved(maker, checker):
    pending = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4})
    ContactPolicy.objects.filter(pk=pending.pk).update(daily_cap=3)
    request = contact_policy_approval(pending)
    with pytest.raises(Conflict, match="altered"):
        approval_approve(actor_user=checker, request=request)
    request.refresh_from_db()
    pending.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not pending.is_active


def test_revoking_the_active_policy_puts_the_previous_approved_version_back(maker, checker):
    v2 = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4})
    approval_approve(actor_user=checker, request=contact_policy_approval(v2))
    v3 = contact_policy_update(actor=maker, data={"hardship_days": 45})
    approval_approve(actor_user=checker, request=contact_policy_approval(v3))
    assert active_contact_policy() == v3

    approval_revoke(actor_user=checker, request=contact_policy_approval(v3), comment="Too soon")

    assert active_contact_policy() == v2
    record = AuditRecord.objects.filter(
        kind=AuditKind.POLICY, action="contact_policy_approval_revoked"
    ).get()
    assert (record.data["version"], record.data["previous_version"]) == (v2.version, v3.version)


def test_revoking_the_only_approved_policy_falls_back_to_the_bank_default(maker, checker):
    ContactPolicy.objects.all().delete()
    v1 = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4})
    approval_approve(actor_user=checker, request=contact_policy_approval(v1))
    assert active_contact_policy() == v1
    approval_revoke(actor_user=checker, request=contact_policy_approval(v1), comment="No")
    fallback = active_contact_policy()
    assert fallback.pk is None and fallback.version == 0 and fallback.daily_cap == 1


def test_the_policy_is_changed_only_by_a_person():
    with pytest.raises(PermissionDenied):
        contact_policy_update(actor="system:import", data={"daily_cap": 2, "weekly_cap": 4})
    assert ContactPolicy.objects.count() == 1


def test_quiet_hours_and_times_are_part_of_what_is_approved(maker, checker):
    pending = contact_policy_update(
        actor=maker, data={"quiet_start": datetime.time(22, 0), "quiet_end": "07:00"}
    )
    approval_approve(actor_user=checker, request=contact_policy_approval(pending))
    active = active_contact_policy()
    assert (active.quiet_start, active.quiet_end) == (datetime.time(22, 0), datetime.time(7, 0))
