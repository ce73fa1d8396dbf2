"""The migration that introduced targeting versions keeps every released offer in force:
its targeting is recorded as version 1, approved by ``system:migration``, under the hash
the engine checks; content approvals are untouched."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("offers", "0001_initial")]
AFTER = [("offers", "0003_record_targeting_in_force")]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    """Migrate to ``targets`` (the other apps stay where they are); the models then."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets).apps


@pytest.fixture
def legacy_catalog():
    """Offers as they stood before targeting was versioned; then the migration runs."""
    apps = _migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Product = apps.get_model("offers", "Product")
    Offer = apps.get_model("offers", "Offer")
    OfferContent = apps.get_model("offers", "OfferContent")
    ApprovalRequest = apps.get_model("compliance", "ApprovalRequest")
    maria = User.objects.create(username="maria")
    carlos = User.objects.create(username="carlos")
    loan = Product.objects.create(
        code="LOAN", name="Loan", family="loans", annual_value=Decimal("600"), is_credit=True
    )
    start = datetime.datetime(2025, 1, 1, 9, 30, tzinfo=datetime.UTC)
    live = Offer.objects.create(
        product=loan,
        code="LOAN_LIVE",
        name="Live loan",
        kind="sales",
        status="active",
        valid_from=start,
        eligibility_rule='risk_band in ("low", "medium") and attributes.salary > 1000',
        lever=Decimal("1.200"),
        value=Decimal("650.00"),
        cooldown_days=3,
        trigger_weights={"loan_calculator_used": 4.0},
        created_by=maria,
    )
    approved_draft = Offer.objects.create(
        product=loan, code="LOAN_READY", name="Ready", kind="sales", status="draft"
    )
    bare_draft = Offer.objects.create(
        product=loan, code="LOAN_IDEA", name="Idea", kind="sales", status="draft"
    )
    content = OfferContent.objects.create(
        offer=approved_draft,
        channel="branch",
        version=1,
        headline="h",
        body="b",
        content_hash="c" * 64,
    )
    content_approval = ApprovalRequest.objects.create(
        subject_type="offer_content",
        subject_id=content.pk,
        subject_version=1,
        content_hash="c" * 64,
        subject_repr="LOAN_READY/branch",
        snapshot={"channel": "branch"},
        status="approved",
        submitted_by=maria,
        decided_by=carlos,
    )
    _migrate(AFTER)
    yield {
        "live": live.pk,
        "approved_draft": approved_draft.pk,
        "bare_draft": bare_draft.pk,
        "content_approval": content_approval.pk,
    }
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_live_offers_stay_in_force_with_their_targeting_approved_as_version_one(
    legacy_catalog,
):
    from compliance.choices import ApprovalStatus, ApprovalSubject
    from compliance.models import ApprovalRequest
    from ledger.verify import verify_ledger
    from offers.models import Offer, OfferTargeting
    from offers.selectors import (
        approved_targeting,
        in_force_targeting_hash,
        targeting_in_force_is_approved,
    )
    from offers.targeting_hash import targeting_hash_of

    live = Offer.objects.get(pk=legacy_catalog["live"])
    assert live.targeting_version == 1
    # Nothing about what is in force changed.
    assert live.eligibility_rule.startswith('risk_band in ("low", "medium")')
    assert (live.lever, live.value, live.cooldown_days) == (Decimal("1.200"), Decimal("650.00"), 3)
    v1 = OfferTargeting.objects.get(offer=live)
    assert v1.version == 1 and v1.eligibility_rule == live.eligibility_rule
    # The recorded hash is the one the services and the engine compute today.
    assert v1.content_hash == targeting_hash_of(v1, offer_code="LOAN_LIVE", version=1)
    assert v1.content_hash == in_force_targeting_hash(live)
    approval = ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.OFFER_TARGETING, subject_id=live.pk
    )
    assert approval.status == ApprovalStatus.APPROVED
    assert (approval.submitted_by.username, approval.decided_by.username) == (
        "system:legacy",
        "system:migration",
    )
    assert approval.content_hash == v1.content_hash
    assert targeting_in_force_is_approved(live, approved_targeting(offer_ids=[live.pk]))

    # An offer with approved content is taken as approved too; a bare draft is not.
    ready = Offer.objects.get(pk=legacy_catalog["approved_draft"])
    assert targeting_in_force_is_approved(ready, approved_targeting(offer_ids=[ready.pk]))
    idea = Offer.objects.get(pk=legacy_catalog["bare_draft"])
    assert idea.targeting_version == 1
    assert OfferTargeting.objects.filter(offer=idea).count() == 1
    assert not ApprovalRequest.objects.filter(
        subject_type=ApprovalSubject.OFFER_TARGETING, subject_id=idea.pk
    ).exists()
    assert not targeting_in_force_is_approved(idea, approved_targeting(offer_ids=[idea.pk]))

    # Existing content approvals are untouched, and every recorded approval is audited
    # in the (still verifiable) ledger.
    assert ApprovalRequest.objects.get(pk=legacy_catalog["content_approval"]).status == (
        ApprovalStatus.APPROVED
    )
    from ledger.models import AuditRecord

    audited = AuditRecord.objects.filter(
        action="approval_approved", actor="system:migration", object_type="approval_request"
    )
    assert {r.data["subject_id"] for r in audited} >= {live.pk, ready.pk}
    assert verify_ledger().ok
