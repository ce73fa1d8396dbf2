"""Record every offer's targeting as it stands as version 1.

Before this, an offer's targeting (eligibility rule, validity window, lever, value,
cooldown, trigger weights) changed in place, unapproved. From now on the engine releases
an offer only under an approved targeting version, so the targeting in force today is
recorded as version 1 and, for offers that are live (active or paused) or have approved
content, approved by ``system:migration`` — nothing drops out of the engine. A draft
offer that never had approved content gets version 1 as an unsubmitted draft: it needs a
checker's approval before it is released, like any new offer.

Each recorded approval is an ``ApprovalRequest`` (maker ``system:legacy``: whoever last
edited the targeting before it was versioned; checker ``system:migration``: the two
differ, as the maker-checker constraint demands) and an audit record in the ledger.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import migrations
from django.db.models import F

from ledger.hashing import _normalise, record_hash_of
from offers.targeting_hash import normalised, targeting_hash, targeting_values

MAKER = "system:legacy"
CHECKER = "system:migration"
COMMENT = "Targeting in force before targeting approvals existed; recorded as version 1."
LIVE = ("active", "paused")


def _system_user(User, username: str):
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={"is_active": False, "password": "!", "first_name": "System"},
    )
    return user


def record(apps, schema_editor):
    Offer = apps.get_model("offers", "Offer")
    OfferTargeting = apps.get_model("offers", "OfferTargeting")
    OfferContent = apps.get_model("offers", "OfferContent")
    ApprovalRequest = apps.get_model("compliance", "ApprovalRequest")
    AuditRecord = apps.get_model("ledger", "AuditRecord")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))

    offers = list(Offer.objects.filter(targeting_version=0).select_related("product"))
    if not offers:
        return
    approved_content_ids = set(
        ApprovalRequest.objects.filter(
            subject_type="offer_content", status="approved"
        ).values_list("subject_id", flat=True)
    )
    with_approved_content = set(
        OfferContent.objects.filter(pk__in=approved_content_ids).values_list("offer_id", flat=True)
    )
    maker = _system_user(User, MAKER)
    checker = _system_user(User, CHECKER)
    now = datetime.datetime.now(datetime.UTC)
    for offer in offers:
        values = targeting_values(offer)
        digest = targeting_hash(offer_code=offer.code, version=1, values=values)
        OfferTargeting.objects.create(
            offer=offer,
            version=1,
            content_hash=digest,
            note="Recorded by migration: the targeting in force before versioning.",
            created_by=offer.created_by,
            **values,
        )
        Offer.objects.filter(pk=offer.pk).update(targeting_version=1)
        if offer.status not in LIVE and offer.pk not in with_approved_content:
            continue
        request = ApprovalRequest.objects.create(
            subject_type="offer_targeting",
            subject_id=offer.pk,
            subject_version=1,
            content_hash=digest,
            subject_repr=f"{offer.code} targeting"[:200],
            snapshot={
                "offer_code": offer.code,
                "offer_name": offer.name,
                "offer_kind": offer.kind,
                "offer_status": offer.status,
                "product_code": offer.product.code,
                "product_family": offer.product.family,
                "is_credit": offer.product.is_credit,
                "version": 1,
                "note": "Recorded by migration.",
                **normalised(values),
                "in_force": None,
            },
            prechecks=[],
            has_blocking_findings=False,
            status="approved",
            submitted_by=maker,
            decided_by=checker,
            decided_at=now,
            decision_comment=COMMENT,
        )
        fields = {
            "created_at": now,
            "kind": "approval",
            "action": "approval_approved",
            "actor": CHECKER,
            "request_id": "",
            "object_type": "approval_request",
            "object_id": str(request.pk),
            "object_repr": request.subject_repr,
            "customer_ref": "",
            "channel": "",
            "data": _normalise(
                {
                    "subject_type": "offer_targeting",
                    "subject_id": offer.pk,
                    "subject_version": 1,
                    "content_hash": digest,
                    "status": "approved",
                    "previous_status": "pending",
                    "recorded_by_migration": True,
                    "comment": COMMENT,
                }
            ),
        }
        AuditRecord.objects.create(record_hash=record_hash_of(fields), **fields)
    CatalogVersion = apps.get_model("compliance", "CatalogVersion")
    CatalogVersion.objects.filter(pk=1).update(version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0002_offer_targeting_versions"),
        ("compliance", "0006_approval_subjects_offer_targeting_and_contact_policy"),
        ("ledger", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
