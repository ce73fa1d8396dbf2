"""Campaign and contact-policy writes.

A campaign's targeting — audience rule, offers with arms and weights, channels and the
control-group share — is versioned: any change bumps ``targeting_version``, and a
campaign launches (or resumes) only when compliance approved exactly its current
version and hash and each of its offers has approved content on an allowed channel.
The contact policy is versioned too: a change writes a new version, pending, and
submits it for approval; only a checker's approval (never the maker's) makes it the
active one, while the version in force stays active meanwhile.

Every write is audited (kinds ``campaign`` / ``policy``) and bumps the catalog version.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from celery.schedules import crontab
from cron_descriptor import ExpressionDescriptor
from cron_descriptor import Options as CronOptions
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.dispatch import receiver
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign, CampaignOffer, ContactPolicy
from campaigns.policy_hash import POLICY_FIELDS, normalised, policy_hash_of, policy_values
from campaigns.selectors import (
    fallback_contact_policy,
    targeting_hash,
    targeting_is_approved,
    targeting_payload,
)
from campaigns.triggers import normalised_trigger_conditions
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.prechecks import (
    WARNING,
    Finding,
    TargetedOffer,
    protected_name,
    targeting_prechecks,
)
from compliance.selectors import is_approved, latest_approval
from compliance.services import approval_submit, approval_withdraw
from compliance.signals import approval_decided
from compliance.versioning import bump_catalog_version
from core.actors import actor_name
from core.channels import INBOUND, OUTBOUND
from core.choices import Channel
from core.exceptions import Conflict, PermissionDenied, Unprocessable, ValidationFailed
from core.json import canonical_json
from customers.events import unknown_event_types
from ledger.choices import AuditKind
from ledger.services import audit
from offers.choices import OfferStatus
from offers.models import Offer
from offers.selectors import approved_content
from offers.services import credit_unsafe_likelihoods, eligibility_fields

TARGETING_FIELDS = frozenset({"audience_rule", "channels", "control_group_pct"})
CAMPAIGN_UPDATABLE = frozenset(
    {
        "name",
        "objective",
        "starts_at",
        "ends_at",
        "audience_rule",
        "trigger_event_types",
        "trigger_conditions",
        "absence_event_type",
        "absence_days",
        "schedule",
        "channels",
        "control_group_pct",
        "daily_volume_limit",
        "per_customer_cap",
        "priority",
        "shadow_mode",
    }
)
FINISHED = frozenset({CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED})
LAUNCHABLE = frozenset(
    {CampaignStatus.DRAFT, CampaignStatus.PENDING_APPROVAL, CampaignStatus.APPROVED}
)
POLICY_UPDATABLE = frozenset(POLICY_FIELDS)
POLICY_SUBJECT = "Contact policy"


@dataclass(frozen=True, slots=True)
class CampaignOfferInput:
    offer: Offer
    arm: str = "A"
    weight: Decimal | int | str = Decimal("1")


# --- helpers ----------------------------------------------------------------------------


def _clean_and_save(instance: Any, message: str) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        raise ValidationFailed(message, fields={k: list(v) for k, v in fields.items()}) from None
    instance.save()


def _user_or_none(actor: Any) -> AbstractBaseUser | None:
    return actor if isinstance(actor, AbstractBaseUser) and actor.pk else None


def _audit_campaign(*, action: str, actor: Any, campaign: Campaign, data: dict[str, Any]) -> None:
    audit(
        kind=AuditKind.CAMPAIGN,
        action=action,
        actor=actor,
        object_type="campaign",
        object_id=campaign.pk,
        object_repr=campaign.code,
        data={"status": campaign.status, "targeting_version": campaign.targeting_version, **data},
    )


def _offer_inputs(
    offers: Iterable[CampaignOfferInput | Mapping[str, Any]],
) -> list[CampaignOfferInput]:
    inputs: list[CampaignOfferInput] = []
    for item in offers:
        if isinstance(item, Mapping):
            item = CampaignOfferInput(
                offer=item["offer"], arm=item.get("arm", "A"), weight=item.get("weight", 1)
            )
        inputs.append(item)
    errors: list[str] = []
    seen: set[int] = set()
    for item in inputs:
        if item.offer.pk in seen:
            errors.append(f"{item.offer.code} is listed twice")
        seen.add(item.offer.pk)
        if item.offer.status == OfferStatus.RETIRED:
            errors.append(f"{item.offer.code} is retired")
        if not (1 <= len(item.arm or "") <= 16):
            errors.append(f"{item.offer.code}: the arm is 1-16 characters")
        try:
            weight = Decimal(str(item.weight))
        except InvalidOperation:
            weight = Decimal(0)
        if not weight.is_finite() or weight <= 0:
            errors.append(f"{item.offer.code}: the weight must be a positive number")
    if errors:
        raise ValidationFailed("The campaign's offers are not valid.", fields={"offers": errors})
    return inputs


CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def schedule_problem(schedule: str, *, batch: bool) -> str | None:
    """Why a batch campaign's schedule is not a crontab beat can run, or None."""
    if not batch:
        return "only batch campaigns run on a schedule"
    parts = schedule.split()
    if len(parts) != len(CRONTAB_FIELDS):
        return (
            f"{schedule!r} is not a crontab: five fields, minute hour day-of-month month "
            "day-of-week, e.g. '0 9 * * mon' (09:00 every Monday)"
        )
    try:
        crontab(**dict(zip(CRONTAB_FIELDS, parts, strict=True)))
    except (ValueError, TypeError) as error:
        return f"{schedule!r} is not a valid crontab: {error}"
    return None


def schedule_description(schedule: str) -> str:
    """A crontab in words ("At 06:00, only on Monday"), in 24-hour time; empty for an
    empty schedule. Only for a schedule ``schedule_problem`` accepts."""
    if not (schedule or "").strip():
        return ""
    options = CronOptions()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return ExpressionDescriptor(schedule.strip(), options).get_description()
    except Exception:  # the describer's own errors: celery's check (above) is the judge
        return schedule.strip()


def _validate(campaign: Campaign, offers: Sequence[Offer]) -> None:
    """What full_clean cannot see: channels for the kind, triggers, rules."""
    errors: dict[str, list[str]] = {}
    channels = campaign.channels
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        errors["channels"] = ["must be a list of channel names"]
    else:
        unknown = [c for c in channels if c not in Channel.values]
        wanted = INBOUND if campaign.kind == CampaignKind.INBOUND else OUTBOUND
        wrong = [c for c in channels if c in Channel.values and c not in wanted]
        if unknown:
            errors["channels"] = [f"unknown channel(s): {', '.join(unknown)}"]
        elif wrong:
            kind = "inbound" if campaign.kind == CampaignKind.INBOUND else "outbound"
            errors["channels"] = [
                f"a {campaign.get_kind_display().lower()} campaign uses {kind} channels only, "
                f"not {', '.join(wrong)}"
            ]
        elif len(set(channels)) != len(channels):
            errors["channels"] = ["a channel is listed twice"]
    triggers = campaign.trigger_event_types
    if not isinstance(triggers, list) or not all(isinstance(t, str) and t for t in triggers):
        errors["trigger_event_types"] = ["must be a list of event types"]
    elif campaign.kind == CampaignKind.REALTIME and not triggers:
        errors["trigger_event_types"] = ["a real-time campaign needs at least one trigger event"]
    elif misspelt := unknown_event_types([*triggers, campaign.absence_event_type or ""]):
        errors["trigger_event_types"] = misspelt
    else:
        conditions, problems = normalised_trigger_conditions(campaign.trigger_conditions, triggers)
        if problems:
            errors["trigger_conditions"] = problems
        else:
            campaign.trigger_conditions = conditions
    if campaign.schedule:
        problem = schedule_problem(campaign.schedule, batch=campaign.kind == CampaignKind.BATCH)
        if problem:
            errors["schedule"] = [problem]
    if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
        errors["ends_at"] = ["must be after starts_at"]
    try:
        pct = Decimal(str(campaign.control_group_pct))
    except InvalidOperation:
        pct = Decimal(-1)
    if not (Decimal(0) <= pct <= Decimal(100)):
        errors["control_group_pct"] = ["must be a percentage from 0 to 100"]
    if errors:
        raise ValidationFailed("The campaign is not valid.", fields=errors)
    fields = eligibility_fields(campaign.audience_rule or "", field="audience_rule")
    used = sorted({p for name in fields if (p := protected_name(name))})
    credit = [offer.code for offer in offers if offer.product.is_credit]
    if used and credit:
        raise ValidationFailed(
            "A campaign offering credit products may not target by protected attributes.",
            fields={
                "audience_rule": [
                    f"uses protected attribute(s) {', '.join(used)} with credit offer(s) "
                    f"{', '.join(credit)}"
                ]
            },
        )
    unsafe = credit_unsafe_likelihoods(campaign.audience_rule or "") if credit else []
    if unsafe:
        raise ValidationFailed(
            "A campaign offering credit products may not target by the likelihood of a "
            "non-credit product, whose model may read protected attributes.",
            fields={
                "audience_rule": [
                    f"reads the likelihood of non-credit product(s) {', '.join(unsafe)} with "
                    f"credit offer(s) {', '.join(credit)}"
                ]
            },
        )


def _set_offers(campaign: Campaign, inputs: Sequence[CampaignOfferInput]) -> None:
    CampaignOffer.objects.filter(campaign=campaign).delete()
    for item in inputs:
        link = CampaignOffer(
            campaign=campaign, offer=item.offer, arm=item.arm, weight=Decimal(str(item.weight))
        )
        _clean_and_save(link, "The campaign's offers are not valid.")


def _offers_of(campaign: Campaign) -> list[Offer]:
    return list(
        Offer.objects.select_related("product")
        .filter(campaign_offers__campaign=campaign)
        .order_by("code")
    )


# --- create / update --------------------------------------------------------------------


def campaign_create(
    *,
    actor: Any,
    code: str,
    name: str,
    kind: str,
    channels: list[str],
    offers: Sequence[CampaignOfferInput | Mapping[str, Any]] = (),
    objective: str = "",
    starts_at: datetime.datetime | None = None,
    ends_at: datetime.datetime | None = None,
    audience_rule: str = "",
    trigger_event_types: list[str] | None = None,
    trigger_conditions: Mapping[str, Any] | None = None,
    absence_event_type: str = "",
    absence_days: int | None = None,
    schedule: str = "",
    control_group_pct: Decimal | int | str = Decimal("10"),
    daily_volume_limit: int | None = None,
    per_customer_cap: int | None = None,
    priority: int = 0,
    shadow_mode: bool = False,
) -> Campaign:
    """A new campaign in draft, targeting version 1.

    ``trigger_conditions``: per trigger event type, a condition on the payload, page
    patterns and a maximum age (``campaigns.triggers``); validated, conditions parsed.
    """
    if kind not in CampaignKind.values:
        raise ValidationFailed(
            "The campaign is not valid.",
            fields={"kind": [f"must be one of {', '.join(CampaignKind.values)}"]},
        )
    inputs = _offer_inputs(offers)
    with transaction.atomic():
        campaign = Campaign(
            code=(code or "").strip(),
            name=name,
            kind=kind,
            status=CampaignStatus.DRAFT,
            objective=objective,
            starts_at=starts_at,
            ends_at=ends_at,
            audience_rule=audience_rule or "",
            trigger_event_types=list(trigger_event_types or []),
            trigger_conditions=trigger_conditions if trigger_conditions is not None else {},
            absence_event_type=absence_event_type,
            absence_days=absence_days,
            schedule=schedule,
            channels=list(channels or []),
            control_group_pct=control_group_pct,
            daily_volume_limit=daily_volume_limit,
            per_customer_cap=per_customer_cap,
            priority=priority,
            shadow_mode=shadow_mode,
            targeting_version=1,
            created_by=_user_or_none(actor),
        )
        _validate(campaign, [item.offer for item in inputs])
        _clean_and_save(campaign, "The campaign is not valid.")
        _set_offers(campaign, inputs)
        _audit_campaign(
            action="campaign_created",
            actor=actor,
            campaign=campaign,
            data={"kind": kind, "targeting": targeting_payload(campaign)},
        )
        bump_catalog_version()
    return campaign


def campaign_update(
    *,
    actor: Any,
    campaign: Campaign,
    data: Mapping[str, Any] | None = None,
    offers: Sequence[CampaignOfferInput | Mapping[str, Any]] | None = None,
) -> Campaign:
    """Change a campaign. A change to its targeting (audience, offers, arms, weights,
    channels, control group) makes a new targeting version that needs approval, and is
    refused while the campaign runs (pause it first)."""
    data = dict(data or {})
    unknown = sorted(set(data) - CAMPAIGN_UPDATABLE)
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            fields={name: ["cannot be changed"] for name in unknown},
        )
    inputs = _offer_inputs(offers) if offers is not None else None
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in FINISHED:
            raise Conflict(f"Campaign {campaign.code} is {campaign.status}.")
        before = targeting_payload(campaign)
        conditions_before = campaign.trigger_conditions
        changes: dict[str, list[Any]] = {}
        for name, value in data.items():
            field = campaign._meta.get_field(name)
            if value is not None and name not in (
                "channels",
                "trigger_event_types",
                "trigger_conditions",
            ):
                try:
                    value = field.to_python(value)
                except ValidationError as exc:
                    raise ValidationFailed(
                        "The campaign is not valid.", fields={name: exc.messages}
                    ) from None
            if getattr(campaign, name) != value:
                changes[name] = [getattr(campaign, name), value]
                setattr(campaign, name, value)
        offer_list = [item.offer for item in inputs] if inputs is not None else _offers_of(campaign)
        _validate(campaign, offer_list)
        # compared in their stored shape (defaults dropped), as _validate left them
        if campaign.trigger_conditions == conditions_before:
            changes.pop("trigger_conditions", None)
        elif "trigger_conditions" in changes:
            changes["trigger_conditions"] = [conditions_before, campaign.trigger_conditions]
        if inputs is not None:
            _set_offers(campaign, inputs)
        after = targeting_payload(campaign)
        targeting_changed = before != after
        if not changes and not targeting_changed:
            return campaign
        if targeting_changed and campaign.status == CampaignStatus.RUNNING:
            raise Conflict(
                f"Campaign {campaign.code} is running; pause it before changing its targeting.",
                fields={"status": [campaign.status]},
            )
        previous_status = campaign.status
        if targeting_changed:
            campaign.targeting_version += 1
            if campaign.status in (CampaignStatus.PENDING_APPROVAL, CampaignStatus.APPROVED):
                campaign.status = CampaignStatus.DRAFT
        _clean_and_save(campaign, "The campaign is not valid.")
        _audit_campaign(
            action="campaign_updated",
            actor=actor,
            campaign=campaign,
            data={
                "changes": changes,
                "targeting_changed": targeting_changed,
                "previous_status": previous_status,
                **(
                    {"targeting_before": before, "targeting_after": after}
                    if targeting_changed
                    else {}
                ),
            },
        )
        bump_catalog_version()
    return campaign


# --- approval and lifecycle -------------------------------------------------------------


def _targeted_offers(campaign: Campaign, offers: Sequence[Offer]) -> list[TargetedOffer]:
    with_content = approved_content(offers=offers)
    return [
        TargetedOffer(
            code=offer.code,
            is_credit=offer.product.is_credit,
            eligibility_fields=eligibility_fields(offer.eligibility_rule or ""),
            has_approved_content=any(
                (offer.pk, channel) in with_content for channel in campaign.channels or []
            ),
        )
        for offer in offers
    ]


def campaign_submit_targeting(*, actor: AbstractBaseUser, campaign: Campaign) -> ApprovalRequest:
    """Run the targeting pre-checks and ask compliance to approve the current version."""
    if _user_or_none(actor) is None:
        raise PermissionDenied("Targeting is submitted for approval by a person.")
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            raise Conflict(
                f"Campaign {campaign.code} is {campaign.status}; only a draft or paused "
                "campaign's targeting is submitted.",
                fields={"status": [campaign.status]},
            )
        offers = _offers_of(campaign)
        findings = targeting_prechecks(
            audience_fields=eligibility_fields(campaign.audience_rule or "", field="audience_rule"),
            offers=_targeted_offers(campaign, offers),
            channels=campaign.channels or [],
        )
        payload = targeting_payload(campaign)
        snapshot = {
            **payload,
            "code": campaign.code,
            "name": campaign.name,
            "kind": campaign.kind,
            "objective": campaign.objective,
            "trigger_event_types": campaign.trigger_event_types,
            "schedule": campaign.schedule,
            "starts_at": campaign.starts_at,
            "ends_at": campaign.ends_at,
            "offers_detail": [
                {
                    "code": offer.code,
                    "product": offer.product.code,
                    "is_credit": offer.product.is_credit,
                    "eligibility_rule": offer.eligibility_rule,
                }
                for offer in offers
            ],
        }
        request = approval_submit(
            actor_user=actor,
            subject_type=ApprovalSubject.CAMPAIGN_TARGETING,
            subject_id=campaign.pk,
            subject_version=campaign.targeting_version,
            content_hash=targeting_hash(campaign),
            subject_repr=f"{campaign.code} targeting",
            snapshot=_jsonable(snapshot),
            prechecks=findings,
        )
        previous_status = campaign.status
        if campaign.status == CampaignStatus.DRAFT:
            campaign.status = CampaignStatus.PENDING_APPROVAL
            _clean_and_save(campaign, "The campaign is not valid.")
        _audit_campaign(
            action="campaign_targeting_submitted",
            actor=actor,
            campaign=campaign,
            data={"approval_request": request.pk, "previous_status": previous_status},
        )
        bump_catalog_version()
    return request


def _jsonable(value: Any) -> Any:
    """Dates and decimals as the ledger's encoder writes them."""
    return json.loads(canonical_json(value))


def _require_launchable(campaign: Campaign) -> None:
    """Approved targeting (this version, this hash) and approved content for every offer."""
    problems: dict[str, list[str]] = {}
    if not targeting_is_approved(campaign):
        problems["targeting"] = [
            f"targeting version {campaign.targeting_version} is not approved by compliance"
        ]
    offers = _offers_of(campaign)
    if not offers:
        problems["offers"] = ["the campaign has no offers"]
    contents = approved_content(offers=offers)
    missing = [
        offer.code
        for offer in offers
        if not any((offer.pk, channel) in contents for channel in campaign.channels or [])
    ]
    if missing:
        problems.setdefault("offers", []).append(
            f"no approved content on the campaign's channels for: {', '.join(missing)}"
        )
    retired = [offer.code for offer in offers if offer.status == OfferStatus.RETIRED]
    if retired:
        problems.setdefault("offers", []).append(f"retired offer(s): {', '.join(retired)}")
    if campaign.ends_at and campaign.ends_at <= timezone.now():
        problems["ends_at"] = ["the campaign window has ended"]
    if problems:
        raise Unprocessable(f"Campaign {campaign.code} cannot run yet.", fields=problems)


def _move(
    *,
    actor: Any,
    campaign: Campaign,
    allowed_from: Iterable[str],
    to_status: str,
    action: str,
    check_launchable: bool = False,
) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == to_status:
            return campaign
        if campaign.status not in set(allowed_from):
            raise Conflict(
                f"Campaign {campaign.code} is {campaign.status}; it cannot be "
                f"{action.removeprefix('campaign_')}.",
                fields={"status": [campaign.status]},
            )
        if check_launchable:
            _require_launchable(campaign)
        previous = campaign.status
        campaign.status = to_status
        _clean_and_save(campaign, "The campaign is not valid.")
        _audit_campaign(
            action=action,
            actor=actor,
            campaign=campaign,
            data={"previous_status": previous, "targeting_hash": targeting_hash(campaign)},
        )
        bump_catalog_version()
    return campaign


def campaign_launch(*, actor: Any, campaign: Campaign) -> Campaign:
    """Start releasing: refused unless the current targeting is approved and each offer
    has approved content on one of the campaign's channels."""
    return _move(
        actor=actor,
        campaign=campaign,
        allowed_from=LAUNCHABLE,
        to_status=CampaignStatus.RUNNING,
        action="campaign_launched",
        check_launchable=True,
    )


def campaign_pause(*, actor: Any, campaign: Campaign) -> Campaign:
    return _move(
        actor=actor,
        campaign=campaign,
        allowed_from={CampaignStatus.RUNNING},
        to_status=CampaignStatus.PAUSED,
        action="campaign_paused",
    )


def campaign_resume(*, actor: Any, campaign: Campaign) -> Campaign:
    """Run again, with the same checks as a launch (targeting may have changed)."""
    return _move(
        actor=actor,
        campaign=campaign,
        allowed_from={CampaignStatus.PAUSED},
        to_status=CampaignStatus.RUNNING,
        action="campaign_resumed",
        check_launchable=True,
    )


def campaign_complete(*, actor: Any, campaign: Campaign) -> Campaign:
    return _move(
        actor=actor,
        campaign=campaign,
        allowed_from={CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.APPROVED},
        to_status=CampaignStatus.COMPLETED,
        action="campaign_completed",
    )


@receiver(approval_decided, dispatch_uid="campaigns.targeting_approval_decided")
def on_targeting_approval_decided(
    sender: Any, request: ApprovalRequest, previous_status: str, actor: Any, **kwargs: Any
) -> None:
    """Keep the campaign's status in step with compliance's decision on its targeting.

    Approved -> ``approved``; rejected, sent back or withdrawn -> ``draft``; an approval
    revoked while the campaign runs pauses it. Only the campaign's current targeting
    version counts. Runs inside the decision's transaction.
    """
    if request.subject_type != ApprovalSubject.CAMPAIGN_TARGETING:
        return
    campaign = Campaign.objects.select_for_update().filter(pk=request.subject_id).first()
    if campaign is None or campaign.targeting_version != request.subject_version:
        return
    to_status = None
    if (
        request.status == ApprovalStatus.APPROVED
        and campaign.status == CampaignStatus.PENDING_APPROVAL
    ):
        to_status = CampaignStatus.APPROVED
    elif (
        previous_status == ApprovalStatus.PENDING
        and campaign.status == CampaignStatus.PENDING_APPROVAL
    ):
        to_status = CampaignStatus.DRAFT
    elif previous_status == ApprovalStatus.APPROVED:
        if campaign.status == CampaignStatus.RUNNING:
            to_status = CampaignStatus.PAUSED
        elif campaign.status == CampaignStatus.APPROVED:
            to_status = CampaignStatus.DRAFT
    if to_status is None:
        return
    previous = campaign.status
    campaign.status = to_status
    _clean_and_save(campaign, "The campaign is not valid.")
    _audit_campaign(
        action="campaign_status_from_approval",
        actor=actor,
        campaign=campaign,
        data={
            "previous_status": previous,
            "approval_request": request.pk,
            "approval_status": request.status,
        },
    )
    bump_catalog_version()


# --- contact policy ---------------------------------------------------------------------


def contact_policy_update(*, actor: Any, data: Mapping[str, Any], note: str = "") -> ContactPolicy:
    """Propose a change of the contact policy: a new version from the one in force (or
    from the proposal waiting for review, which it replaces) with ``data`` changed,
    written *pending* and submitted for approval in ``actor``'s name — so ``actor`` is a
    person who may submit. The active version stays in force until a checker, never the
    maker, approves the new one (``on_contact_policy_decided``). A version, once
    written, never changes (only its active flag).

    Returns the new pending version; the version in force when nothing changed; and,
    when the change goes back to exactly what is in force, the version in force (the
    author's proposal is withdrawn).
    """
    unknown = sorted(set(data) - POLICY_UPDATABLE)
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            fields={name: ["cannot be changed"] for name in unknown},
        )
    errors: dict[str, list[str]] = {}
    quiet = data.get("quiet_channels")
    if quiet is not None and (not isinstance(quiet, list) or any(c not in OUTBOUND for c in quiet)):
        errors["quiet_channels"] = [f"must be a list of {', '.join(sorted(OUTBOUND))}"]
    hardship = data.get("hardship_event_types")
    if hardship is not None and (
        not isinstance(hardship, list) or not all(isinstance(t, str) and t for t in hardship)
    ):
        errors["hardship_event_types"] = ["must be a list of event types"]
    if errors:
        raise ValidationFailed("The contact policy is not valid.", fields=errors)
    with transaction.atomic():
        active = ContactPolicy.objects.select_for_update().filter(is_active=True).first()
        in_force = active or fallback_contact_policy()
        proposal, proposal_request = _policy_proposal(active)
        # Editing continues the proposal waiting for review, if there is one.
        base = proposal or in_force
        values = policy_values(base)
        for name, value in data.items():
            field = ContactPolicy._meta.get_field(name)
            if name not in ("quiet_channels", "hardship_event_types"):
                try:
                    value = field.to_python(value)
                except ValidationError as exc:
                    raise ValidationFailed(
                        "The contact policy is not valid.", fields={name: exc.messages}
                    ) from None
            values[name] = value
        changes = _policy_changes(policy_values(base), values)
        if not changes and (active is not None or proposal is not None):
            return base
        user = _user_or_none(actor)
        if user is None:
            raise PermissionDenied(
                "The contact policy is changed by a person: the change is submitted for "
                "approval in their name."
            )
        latest = ContactPolicy.objects.aggregate(latest=Max("version"))["latest"] or 0
        policy = ContactPolicy(
            version=latest + 1,
            is_active=False,
            note=note,
            created_by=actor_name(actor),
            **values,
        )
        # Validate before anything else changes (a refused change withdraws nothing).
        try:
            policy.full_clean()
        except ValidationError as exc:
            fields = (
                exc.message_dict
                if hasattr(exc, "error_dict")
                else {"non_field_errors": exc.messages}
            )
            raise ValidationFailed(
                "The contact policy is not valid.", fields={k: list(v) for k, v in fields.items()}
            ) from None
        if proposal_request is not None:
            _make_way_for_policy(user=user, request=proposal_request, version=policy.version)
        if active is not None and normalised(values) == normalised(policy_values(active)):
            return active  # back to what is in force: nothing to approve
        _clean_and_save(policy, "The contact policy is not valid.")
        in_force_changes = _policy_changes(policy_values(in_force), values)
        request = approval_submit(
            actor_user=user,
            subject_type=ApprovalSubject.CONTACT_POLICY,
            subject_id=policy.pk,
            subject_version=policy.version,
            content_hash=policy_hash_of(policy),
            subject_repr=POLICY_SUBJECT,
            snapshot={
                "version": policy.version,
                "note": note,
                **normalised(values),
                "in_force": {"version": in_force.version, **normalised(policy_values(in_force))},
            },
            prechecks=contact_policy_prechecks(in_force=in_force, proposed=policy),
        )
        audit(
            kind=AuditKind.POLICY,
            action="contact_policy_version_proposed",
            actor=actor,
            object_type="contact_policy",
            object_id=policy.pk,
            object_repr=str(policy),
            data={
                "version": policy.version,
                "in_force_version": in_force.version,
                "previous_version": active.version if active else None,
                "changes": in_force_changes,
                "note": note,
                "approval_request": request.pk,
                "content_hash": request.content_hash,
            },
        )
    return policy


def _policy_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    a, b = normalised(before), normalised(after)
    return {name: [before[name], after[name]] for name in POLICY_FIELDS if a[name] != b[name]}


def _policy_proposal(
    active: ContactPolicy | None,
) -> tuple[ContactPolicy | None, ApprovalRequest | None]:
    """The newest version above the active one, if its latest request is pending."""
    newest = (
        ContactPolicy.objects.select_for_update()
        .filter(version__gt=active.version if active else 0)
        .order_by("-version")
        .first()
    )
    if newest is None:
        return None, None
    request = latest_approval(ApprovalSubject.CONTACT_POLICY, newest.pk, newest.version)
    if request is None or request.status != ApprovalStatus.PENDING:
        return None, None
    return newest, request


def _make_way_for_policy(*, user: AbstractBaseUser, request: ApprovalRequest, version: int) -> None:
    """A pending version is replaced only by its author (withdrawn, audited)."""
    if request.submitted_by_id != user.pk:
        raise Conflict(
            f"Contact policy v{request.subject_version}, submitted by "
            f"{request.submitted_by.get_username()}, is waiting for review; it must be "
            "decided or withdrawn before another change.",
            fields={"policy": [f"request {request.pk} is pending"]},
        )
    approval_withdraw(actor_user=user, request=request, comment=f"Replaced by v{version}.")


def contact_policy_prechecks(*, in_force: ContactPolicy, proposed: ContactPolicy) -> list[Finding]:
    """What the reviewer should look at twice: every way the proposal contacts customers
    more, or protects them less, than the policy in force (DESIGN.md rules 3 and 8)."""
    findings: list[Finding] = []

    def warn(code: str, field: str, message: str) -> None:
        findings.append(Finding(code, WARNING, message, field))

    for name, label in (("daily_cap", "daily"), ("weekly_cap", "weekly")):
        before, after = getattr(in_force, name), getattr(proposed, name)
        if after > before:
            warn(
                "contact_cap_raised",
                name,
                f"The {label} cap of outbound marketing messages per customer rises from "
                f"{before} to {after}.",
            )
    lifted = sorted(set(in_force.quiet_channels or ()) - set(proposed.quiet_channels or ()))
    if in_force.quiet_start != in_force.quiet_end and proposed.quiet_start == proposed.quiet_end:
        lifted = sorted(set(in_force.quiet_channels or ()))
    if lifted:
        warn(
            "quiet_hours_lifted",
            "quiet_channels",
            f"Quiet hours no longer hold messages back on {', '.join(lifted)}: they may be "
            "sent at night.",
        )
    for name, what in (
        ("decline_cooldown_days", "The cooldown after a decline"),
        ("fatigue_backoff_days", "The back-off after ignored offers"),
        ("presented_elsewhere_days", "The pause before the same offer on another channel"),
        ("hardship_days", "The protection after a hardship signal"),
    ):
        before, after = getattr(in_force, name), getattr(proposed, name)
        if after < before:
            warn(
                f"{name.removesuffix('_days')}_shortened",
                name,
                f"{what} is cut from {before} to {after} day{'s' if after != 1 else ''}.",
            )
    if proposed.fatigue_ignored_in_row > in_force.fatigue_ignored_in_row:
        warn(
            "fatigue_threshold_raised",
            "fatigue_ignored_in_row",
            f"Back-off now starts after {proposed.fatigue_ignored_in_row} ignored offers in "
            f"a row instead of {in_force.fatigue_ignored_in_row}.",
        )
    dropped = sorted(
        set(in_force.hardship_event_types or ()) - set(proposed.hardship_event_types or ())
    )
    if dropped:
        warn(
            "hardship_events_dropped",
            "hardship_event_types",
            f"No longer hardship signals: {', '.join(dropped)}; credit sales are not held "
            "back after them.",
        )
    return findings


@receiver(approval_decided, dispatch_uid="campaigns.contact_policy_approval_decided")
def on_contact_policy_decided(
    sender: Any, request: ApprovalRequest, previous_status: str, actor: Any, **kwargs: Any
) -> None:
    """Make an approved policy version the active one; step back from a revoked one.

    Approved: the version (its stored values must still hash to what was approved)
    becomes the active one and the version it replaces stops being active; approving a
    version older than the one in force is refused (the decision rolls back). Revoked
    while active: the newest earlier approved version is active again (or, with none,
    the bank's default policy). Runs inside the decision's transaction.
    """
    if request.subject_type != ApprovalSubject.CONTACT_POLICY:
        return
    policy = ContactPolicy.objects.select_for_update().filter(pk=request.subject_id).first()
    if policy is None:
        return
    active = ContactPolicy.objects.select_for_update().filter(is_active=True).first()
    if previous_status == ApprovalStatus.PENDING and request.status == ApprovalStatus.APPROVED:
        if policy.version != request.subject_version or policy_hash_of(policy) != (
            request.content_hash
        ):
            raise Conflict(
                f"Contact policy v{request.subject_version} no longer matches what was "
                "submitted; it was altered and cannot be approved."
            )
        if active is not None and active.version > policy.version:
            raise Conflict(
                f"Contact policy v{policy.version} is older than v{active.version}, which is "
                "in force; reject it instead.",
                fields={"subject_version": [f"v{active.version} is in force"]},
            )
        _activate_policy(
            policy=policy,
            active=active,
            actor=actor,
            action="contact_policy_activated",
            request=request,
        )
    elif (
        previous_status == ApprovalStatus.APPROVED
        and request.status != ApprovalStatus.APPROVED
        and policy.is_active
    ):
        fallback = _previous_approved_policy(policy)
        _activate_policy(
            policy=fallback,
            active=policy,
            actor=actor,
            action="contact_policy_approval_revoked",
            request=request,
        )


def _previous_approved_policy(policy: ContactPolicy) -> ContactPolicy | None:
    """The newest version before ``policy`` whose approval still stands."""
    for earlier in ContactPolicy.objects.filter(version__lt=policy.version).order_by("-version"):
        if is_approved(
            ApprovalSubject.CONTACT_POLICY, earlier.pk, earlier.version, policy_hash_of(earlier)
        ):
            return earlier
    return None


def _activate_policy(
    *,
    policy: ContactPolicy | None,
    active: ContactPolicy | None,
    actor: Any,
    action: str,
    request: ApprovalRequest,
) -> None:
    """The one change a version ever sees: its active flag. ``None``: no version is
    active, so the bank's default policy is in force."""
    if active is not None:
        ContactPolicy.objects.filter(pk=active.pk).update(is_active=False)
    if policy is not None:
        ContactPolicy.objects.filter(pk=policy.pk).update(is_active=True)
        policy.is_active = True
    before = policy_values(active) if active else policy_values(fallback_contact_policy())
    after = policy_values(policy) if policy else policy_values(fallback_contact_policy())
    in_force = policy or fallback_contact_policy()
    audit(
        kind=AuditKind.POLICY,
        action=action,
        actor=actor,
        object_type="contact_policy",
        object_id=in_force.pk or "",
        object_repr=str(in_force),
        data={
            "version": in_force.version,
            "previous_version": active.version if active else None,
            "approval_request": request.pk,
            "subject_version": request.subject_version,
            "changes": _policy_changes(before, after),
        },
    )
    bump_catalog_version()
