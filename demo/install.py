"""Write the demo catalog and campaigns, approved by the demo compliance officer.

Every content version, offer targeting and campaign targeting gets an approved
``ApprovalRequest`` (maker: the demo marketer, checker: the demo compliance officer)
naming its exact hash, and every row created gets an audit record.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import models

from campaigns.choices import CampaignStatus
from campaigns.models import Campaign, CampaignOffer
from campaigns.selectors import targeting_hash, targeting_payload
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.prechecks import TargetedOffer, targeting_prechecks
from demo.campaigns import CAMPAIGNS
from demo.catalog import (
    CONTENT_VERSION,
    OFFERS,
    OFFERS_BY_CODE,
    PRODUCTS,
    PRODUCTS_BY_CODE,
    channel_contents,
)
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import build_record
from offers.choices import OfferStatus
from offers.content_hash import content_hash
from offers.models import Offer, OfferContent, OfferTargeting, Product
from offers.services import content_prechecks_for, eligibility_fields, targeting_prechecks_for
from offers.targeting_hash import normalised, targeting_hash_of, targeting_values

OFFER_VALID_DAYS_BEFORE = 365
TARGETING_VERSION = 1
APPROVAL_COMMENT = "Approved for the demo bank."
CAMPAIGN_STARTED_DAYS_BEFORE = 180


def _save_validated(obj: models.Model) -> None:
    """Field validation in Python; uniqueness and check constraints are the database's
    (asking it once per constraint per row would make seeding the catalog slow)."""
    obj.full_clean(validate_unique=False, validate_constraints=False)
    obj.save()


def _targeted(offer_code: str) -> TargetedOffer:
    offer = OFFERS_BY_CODE[offer_code]
    return TargetedOffer(
        code=offer_code,
        is_credit=PRODUCTS_BY_CODE[offer.product_code].is_credit,
        eligibility_fields=eligibility_fields(offer.eligibility_rule),
    )


@dataclass(frozen=True, slots=True)
class InstalledCatalog:
    offer_ids: dict[str, int]
    audit: list[AuditRecord]


def install_catalog(
    *,
    actor: str,
    maker: User,
    checker: User,
    as_of_midnight: datetime.datetime,
    now: datetime.datetime,
) -> InstalledCatalog:
    records: list[AuditRecord] = []
    products: dict[str, Product] = {}
    for spec in PRODUCTS:
        product = Product(
            code=spec.code,
            name=spec.name,
            family=spec.family,
            description=spec.description,
            annual_value=spec.annual_value,
            is_credit=spec.is_credit,
        )
        _save_validated(product)
        products[spec.code] = product
        records.append(
            build_record(
                kind=AuditKind.CATALOG,
                action="product_created",
                actor=actor,
                object_type="product",
                object_id=product.pk,
                object_repr=str(product),
                data={
                    "code": spec.code,
                    "family": spec.family,
                    "annual_value": spec.annual_value,
                    "is_credit": spec.is_credit,
                },
            )
        )

    approvals: list[ApprovalRequest] = []
    offer_ids: dict[str, int] = {}
    valid_from = as_of_midnight - datetime.timedelta(days=OFFER_VALID_DAYS_BEFORE)
    for spec in OFFERS:
        product = products[spec.product_code]
        offer = Offer(
            product=product,
            code=spec.code,
            name=spec.name,
            kind=spec.kind,
            status=OfferStatus.ACTIVE,
            valid_from=valid_from,
            eligibility_rule=spec.eligibility_rule,
            lever=spec.lever,
            value=spec.value,
            cooldown_days=spec.cooldown_days,
            trigger_weights=dict(spec.trigger_weights),
            targeting_version=TARGETING_VERSION,
            created_by=maker,
        )
        _save_validated(offer)
        offer_ids[spec.code] = offer.pk
        targeting = OfferTargeting(
            offer=offer,
            version=TARGETING_VERSION,
            content_hash=targeting_hash_of(offer, offer_code=spec.code, version=TARGETING_VERSION),
            created_by=maker,
            **targeting_values(offer),
        )
        _save_validated(targeting)
        findings = [f.as_dict() for f in targeting_prechecks_for(offer, targeting)]
        if findings:
            raise ValueError(f"demo offer {spec.code} fails targeting pre-checks: {findings}")
        subject = f"{spec.code} targeting"
        approvals.append(
            ApprovalRequest(
                subject_type=ApprovalSubject.OFFER_TARGETING,
                subject_id=offer.pk,
                subject_version=TARGETING_VERSION,
                content_hash=targeting.content_hash,
                subject_repr=subject,
                snapshot={
                    "offer_code": spec.code,
                    "offer_name": spec.name,
                    "offer_kind": spec.kind,
                    "offer_status": OfferStatus.ACTIVE,
                    "product_code": product.code,
                    "product_family": product.family,
                    "is_credit": product.is_credit,
                    "version": TARGETING_VERSION,
                    "note": "",
                    **normalised(targeting_values(offer)),
                    "in_force": None,
                },
                prechecks=findings,
                status=ApprovalStatus.APPROVED,
                submitted_by=maker,
                decided_by=checker,
                decided_at=now,
                decision_comment=APPROVAL_COMMENT,
            )
        )
        records.append(
            build_record(
                kind=AuditKind.CATALOG,
                action="offer_created",
                actor=actor,
                object_type="offer",
                object_id=offer.pk,
                object_repr=spec.code,
                data={
                    "product": spec.product_code,
                    "kind": spec.kind,
                    "status": OfferStatus.ACTIVE,
                    "eligibility_rule": spec.eligibility_rule,
                },
            )
        )
        records.append(
            build_record(
                kind=AuditKind.APPROVAL,
                action="approved",
                actor=f"user:{checker.username}",
                object_type=ApprovalSubject.OFFER_TARGETING,
                object_id=offer.pk,
                object_repr=subject,
                data={"content_hash": targeting.content_hash, "maker": f"user:{maker.username}"},
            )
        )
        for channel, words in channel_contents(spec).items():
            digest = content_hash(
                offer_code=spec.code,
                channel=channel,
                version=CONTENT_VERSION,
                headline=words.headline,
                body=words.body,
                call_to_action=words.call_to_action,
                disclosure=words.disclosure,
            )
            content = OfferContent(
                offer=offer,
                channel=channel,
                version=CONTENT_VERSION,
                headline=words.headline,
                body=words.body,
                call_to_action=words.call_to_action,
                disclosure=words.disclosure,
                content_hash=digest,
                created_by=maker,
            )
            _save_validated(content)
            findings = [f.as_dict() for f in content_prechecks_for(content)]
            if findings:
                raise ValueError(f"demo content {spec.code}/{channel} fails pre-checks: {findings}")
            subject = f"{spec.code}/{channel}"
            approvals.append(
                ApprovalRequest(
                    subject_type=ApprovalSubject.OFFER_CONTENT,
                    subject_id=content.pk,
                    subject_version=CONTENT_VERSION,
                    content_hash=digest,
                    subject_repr=subject,
                    snapshot={
                        "offer_code": spec.code,
                        "offer_name": spec.name,
                        "offer_kind": spec.kind,
                        "product_code": product.code,
                        "product_family": product.family,
                        "is_credit": product.is_credit,
                        "eligibility_rule": spec.eligibility_rule,
                        "channel": channel,
                        "version": CONTENT_VERSION,
                        "headline": words.headline,
                        "body": words.body,
                        "call_to_action": words.call_to_action,
                        "disclosure": words.disclosure,
                    },
                    prechecks=findings,
                    status=ApprovalStatus.APPROVED,
                    submitted_by=maker,
                    decided_by=checker,
                    decided_at=now,
                    decision_comment=APPROVAL_COMMENT,
                )
            )
            records.append(
                build_record(
                    kind=AuditKind.APPROVAL,
                    action="approved",
                    actor=f"user:{checker.username}",
                    object_type=ApprovalSubject.OFFER_CONTENT,
                    object_id=content.pk,
                    object_repr=subject,
                    data={"content_hash": digest, "maker": f"user:{maker.username}"},
                )
            )
    ApprovalRequest.objects.bulk_create(approvals)
    return InstalledCatalog(offer_ids=offer_ids, audit=records)


def install_campaigns(
    *,
    actor: str,
    maker: User,
    checker: User,
    offer_ids: dict[str, int],
    as_of_midnight: datetime.datetime,
    now: datetime.datetime,
) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    approvals: list[ApprovalRequest] = []
    starts_at = as_of_midnight - datetime.timedelta(days=CAMPAIGN_STARTED_DAYS_BEFORE)
    for spec in CAMPAIGNS:
        campaign = Campaign(
            code=spec.code,
            name=spec.name,
            objective=spec.objective,
            kind=spec.kind,
            status=CampaignStatus.RUNNING,
            starts_at=starts_at,
            audience_rule=spec.audience_rule,
            trigger_event_types=list(spec.trigger_event_types),
            trigger_conditions=spec.trigger_conditions,
            absence_event_type=spec.absence_event_type,
            absence_days=spec.absence_days,
            schedule=spec.schedule,
            channels=[str(c) for c in spec.channels],
            control_group_pct=spec.control_group_pct,
            daily_volume_limit=spec.daily_volume_limit,
            per_customer_cap=spec.per_customer_cap,
            priority=spec.priority,
            created_by=maker,
        )
        _save_validated(campaign)
        CampaignOffer.objects.bulk_create(
            CampaignOffer(
                campaign=campaign, offer_id=offer_ids[o.offer_code], arm=o.arm, weight=o.weight
            )
            for o in spec.offers
        )
        payload = targeting_payload(campaign)
        findings = [
            f.as_dict()
            for f in targeting_prechecks(
                audience_fields=eligibility_fields(spec.audience_rule),
                offers=[_targeted(o.offer_code) for o in spec.offers],
                channels=campaign.channels,
            )
        ]
        if findings:
            raise ValueError(f"demo campaign {spec.code} fails targeting pre-checks: {findings}")
        digest = targeting_hash(campaign)
        subject = f"{spec.code} targeting"
        approvals.append(
            ApprovalRequest(
                subject_type=ApprovalSubject.CAMPAIGN_TARGETING,
                subject_id=campaign.pk,
                subject_version=campaign.targeting_version,
                content_hash=digest,
                subject_repr=subject,
                snapshot={
                    **payload,
                    "code": spec.code,
                    "name": spec.name,
                    "kind": spec.kind,
                    "objective": spec.objective,
                    "trigger_event_types": list(spec.trigger_event_types),
                    "absence_event_type": spec.absence_event_type,
                    "absence_days": spec.absence_days,
                    "schedule": spec.schedule,
                    "starts_at": starts_at.isoformat(),
                },
                prechecks=findings,
                status=ApprovalStatus.APPROVED,
                submitted_by=maker,
                decided_by=checker,
                decided_at=now,
                decision_comment=APPROVAL_COMMENT,
            )
        )
        summary = {
            "kind": spec.kind,
            "offers": [o.offer_code for o in spec.offers],
            "channels": campaign.channels,
            "trigger_event_types": list(spec.trigger_event_types),
        }
        records.extend(
            [
                build_record(
                    kind=AuditKind.CAMPAIGN,
                    action="campaign_created",
                    actor=actor,
                    object_type="campaign",
                    object_id=campaign.pk,
                    object_repr=spec.code,
                    data=summary,
                ),
                build_record(
                    kind=AuditKind.APPROVAL,
                    action="approved",
                    actor=f"user:{checker.username}",
                    object_type=ApprovalSubject.CAMPAIGN_TARGETING,
                    object_id=campaign.pk,
                    object_repr=subject,
                    data={"content_hash": digest, "maker": f"user:{maker.username}"},
                ),
                build_record(
                    kind=AuditKind.CAMPAIGN,
                    action="campaign_launched",
                    actor=actor,
                    object_type="campaign",
                    object_id=campaign.pk,
                    object_repr=spec.code,
                    data={"status": CampaignStatus.RUNNING},
                ),
            ]
        )
    ApprovalRequest.objects.bulk_create(approvals)
    return records
