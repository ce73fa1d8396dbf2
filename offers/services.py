"""Catalog writes: products, offers and versioned offer content.

Every write is keyword-only, validated with ``full_clean()``, done in one transaction,
audited (kind ``catalog``) and bumps the catalog version the engine snapshots from.

Content versions are immutable once submitted for approval: ``content_update`` edits a
draft in place but turns an edit of a submitted (pending, approved, rejected...)
version into a new version, which needs its own approval. Whether a version is
approved is answered by compliance from (content id, version, content hash).

Rules: eligibility rules are validated (and their fields read) through
``compliance.prechecks.rule_fields``; the engine's parser is plugged into it by
dependency injection because offers may not import decisioning.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from compliance.choices import ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.prechecks import (
    BLOCKING,
    Finding,
    RuleSyntaxError,
    content_prechecks,
    protected_name,
    rule_fields,
)
from compliance.services import approval_submit
from compliance.versioning import bump_catalog_version
from core.choices import Channel
from core.exceptions import Conflict, PermissionDenied, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.services import audit
from offers.choices import OfferKind, OfferStatus, ProductFamily
from offers.content_hash import content_hash_of
from offers.models import Offer, OfferContent, Product

PRODUCT_UPDATABLE = frozenset(
    {"name", "family", "description", "annual_value", "is_credit", "is_active"}
)
OFFER_UPDATABLE = frozenset(
    {
        "name",
        "kind",
        "valid_from",
        "valid_until",
        "eligibility_rule",
        "lever",
        "value",
        "cooldown_days",
        "trigger_weights",
    }
)
CONTENT_FIELDS = ("headline", "body", "call_to_action", "disclosure")

_TRANSITIONS = {
    "activate": ({OfferStatus.DRAFT, OfferStatus.PAUSED}, OfferStatus.ACTIVE),
    "pause": ({OfferStatus.ACTIVE}, OfferStatus.PAUSED),
    "retire": ({OfferStatus.DRAFT, OfferStatus.ACTIVE, OfferStatus.PAUSED}, OfferStatus.RETIRED),
}


# --- helpers ----------------------------------------------------------------------------


def _user_or_none(actor: Any) -> AbstractBaseUser | None:
    return actor if isinstance(actor, AbstractBaseUser) and actor.pk else None


def _clean_and_save(instance: Any, message: str) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        raise ValidationFailed(message, fields={k: list(v) for k, v in fields.items()}) from None
    instance.save()


def _apply(instance: Any, data: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, list[Any]]:
    """Set the allowed fields that differ; returns {field: [before, after]}."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            fields={name: ["cannot be changed"] for name in unknown},
        )
    changes: dict[str, list[Any]] = {}
    for name, value in data.items():
        field = instance._meta.get_field(name)
        try:
            value = field.to_python(value) if value is not None else value
        except ValidationError as exc:
            raise ValidationFailed(
                "The change is not valid.", fields={name: exc.messages}
            ) from None
        before = getattr(instance, name)
        if before != value:
            setattr(instance, name, value)
            changes[name] = [before, value]
    return changes


def _audit_catalog(
    *, action: str, actor: Any, instance: Any, object_type: str, data: dict[str, Any]
) -> None:
    audit(
        kind=AuditKind.CATALOG,
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=instance.pk,
        object_repr=str(instance),
        data=data,
    )


def eligibility_fields(rule_text: str, *, field: str = "eligibility_rule") -> frozenset[str]:
    """The fields a rule reads; a rule that does not parse is a validation error."""
    try:
        return rule_fields(rule_text or "")
    except RuleSyntaxError as exc:
        message = exc.message
        if "position" not in message:
            message = f"{message} (at position {exc.position})"
        raise ValidationFailed("The rule is not valid.", fields={field: [message]}) from None


def _refuse_protected(*, rule_text: str, is_credit: bool, field: str = "eligibility_rule") -> None:
    fields = eligibility_fields(rule_text, field=field)
    used = sorted({p for name in fields if (p := protected_name(name))})
    if is_credit and used:
        raise ValidationFailed(
            "A credit product's offers may not target by protected attributes.",
            fields={field: [f"uses protected attribute(s): {', '.join(used)}"]},
        )


def _has_submitted_content(offers: Any) -> bool:
    content_ids = OfferContent.objects.filter(offer__in=offers).values("pk")
    return ApprovalRequest.objects.filter(
        subject_type=ApprovalSubject.OFFER_CONTENT, subject_id__in=content_ids
    ).exists()


# --- products ---------------------------------------------------------------------------


def product_create(
    *,
    actor: Any,
    code: str,
    name: str,
    family: str,
    annual_value: Decimal | int | str,
    is_credit: bool = False,
    description: str = "",
    is_active: bool = True,
) -> Product:
    if family not in ProductFamily.values:
        raise ValidationFailed(
            "The product is not valid.",
            fields={"family": [f"must be one of {', '.join(ProductFamily.values)}"]},
        )
    with transaction.atomic():
        product = Product(
            code=(code or "").strip(),
            name=name,
            family=family,
            annual_value=annual_value,
            is_credit=is_credit,
            description=description,
            is_active=is_active,
        )
        _clean_and_save(product, "The product is not valid.")
        _audit_catalog(
            action="product_created",
            actor=actor,
            instance=product,
            object_type="product",
            data={
                "code": product.code,
                "family": family,
                "annual_value": product.annual_value,
                "is_credit": is_credit,
            },
        )
        bump_catalog_version()
    return product


def product_update(*, actor: Any, product: Product, data: Mapping[str, Any]) -> Product:
    """Change a product (its code never changes). ``is_credit`` cannot change once any
    of its content was submitted: its approvals ran the credit checks (or did not)."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        changes = _apply(product, data, PRODUCT_UPDATABLE)
        if not changes:
            return product
        if "is_credit" in changes:
            offers = Offer.objects.filter(product=product)
            if _has_submitted_content(offers):
                raise Conflict(
                    "Whether a product is credit cannot change once its content was submitted "
                    "for approval; create a new product instead.",
                    fields={"is_credit": ["content already submitted"]},
                )
            if product.is_credit:
                for offer in offers:
                    _refuse_protected(rule_text=offer.eligibility_rule, is_credit=True)
        _clean_and_save(product, "The product is not valid.")
        _audit_catalog(
            action="product_updated",
            actor=actor,
            instance=product,
            object_type="product",
            data={"changes": changes},
        )
        bump_catalog_version()
    return product


# --- offers -----------------------------------------------------------------------------


def offer_create(
    *,
    actor: Any,
    product: Product,
    code: str,
    name: str,
    kind: str = OfferKind.SALES,
    eligibility_rule: str = "",
    lever: Decimal | int | str = Decimal("1.000"),
    value: Decimal | int | str | None = None,
    cooldown_days: int = 0,
    trigger_weights: Mapping[str, float] | None = None,
    valid_from: Any = None,
    valid_until: Any = None,
) -> Offer:
    """A new offer, in draft; activate it when it should be released."""
    _validate_trigger_weights(trigger_weights or {})
    _refuse_protected(rule_text=eligibility_rule, is_credit=product.is_credit)
    with transaction.atomic():
        offer = Offer(
            product=product,
            code=(code or "").strip(),
            name=name,
            kind=kind,
            status=OfferStatus.DRAFT,
            eligibility_rule=eligibility_rule or "",
            lever=lever,
            value=value,
            cooldown_days=cooldown_days,
            trigger_weights=dict(trigger_weights or {}),
            valid_from=valid_from,
            valid_until=valid_until,
            created_by=_user_or_none(actor),
        )
        _clean_and_save(offer, "The offer is not valid.")
        _audit_catalog(
            action="offer_created",
            actor=actor,
            instance=offer,
            object_type="offer",
            data={
                "code": offer.code,
                "product": product.code,
                "kind": kind,
                "eligibility_rule": offer.eligibility_rule,
                "lever": offer.lever,
            },
        )
        bump_catalog_version()
    return offer


def _validate_trigger_weights(weights: Mapping[str, Any]) -> None:
    if not isinstance(weights, Mapping):
        raise ValidationFailed(
            "The offer is not valid.", fields={"trigger_weights": ["must be an object"]}
        )
    bad = [
        event
        for event, weight in weights.items()
        if not isinstance(event, str)
        or isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or weight <= 0
    ]
    if bad:
        raise ValidationFailed(
            "The offer is not valid.",
            fields={
                "trigger_weights": [f"weights must be positive numbers: {', '.join(map(str, bad))}"]
            },
        )


def offer_update(*, actor: Any, offer: Offer, data: Mapping[str, Any]) -> Offer:
    """Change an offer. Its code never changes; its kind (sales or service, which
    decides consent exemptions) only while it is a draft."""
    with transaction.atomic():
        offer = Offer.objects.select_for_update().select_related("product").get(pk=offer.pk)
        if offer.status == OfferStatus.RETIRED:
            raise Conflict("A retired offer cannot change.", fields={"status": [offer.status]})
        changes = _apply(offer, data, OFFER_UPDATABLE)
        if not changes:
            return offer
        if "kind" in changes and offer.status != OfferStatus.DRAFT:
            raise Conflict(
                "An offer's kind can only change while it is a draft.",
                fields={"kind": ["offer is not a draft"]},
            )
        if "trigger_weights" in changes:
            _validate_trigger_weights(offer.trigger_weights)
        if "eligibility_rule" in changes:
            _refuse_protected(rule_text=offer.eligibility_rule, is_credit=offer.product.is_credit)
        _clean_and_save(offer, "The offer is not valid.")
        _audit_catalog(
            action="offer_updated",
            actor=actor,
            instance=offer,
            object_type="offer",
            data={"changes": changes},
        )
        bump_catalog_version()
    return offer


def _transition(*, actor: Any, offer: Offer, verb: str) -> Offer:
    allowed_from, to_status = _TRANSITIONS[verb]
    with transaction.atomic():
        offer = Offer.objects.select_for_update().select_related("product").get(pk=offer.pk)
        if offer.status == to_status:
            return offer
        if offer.status not in allowed_from:
            raise Conflict(
                f"Offer {offer.code} is {offer.status}; it cannot {verb}.",
                fields={"status": [offer.status]},
            )
        if verb == "activate" and not offer.product.is_active:
            raise Unprocessable(
                f"Product {offer.product.code} is inactive; its offers cannot be activated."
            )
        previous = offer.status
        offer.status = to_status
        _clean_and_save(offer, "The offer is not valid.")
        _audit_catalog(
            action=f"offer_{to_status}",
            actor=actor,
            instance=offer,
            object_type="offer",
            data={"previous_status": previous, "status": to_status},
        )
        bump_catalog_version()
    return offer


def offer_activate(*, actor: Any, offer: Offer) -> Offer:
    return _transition(actor=actor, offer=offer, verb="activate")


def offer_pause(*, actor: Any, offer: Offer) -> Offer:
    return _transition(actor=actor, offer=offer, verb="pause")


def offer_retire(*, actor: Any, offer: Offer) -> Offer:
    return _transition(actor=actor, offer=offer, verb="retire")


# --- content ----------------------------------------------------------------------------


def content_is_submitted(content: OfferContent) -> bool:
    return ApprovalRequest.objects.filter(
        subject_type=ApprovalSubject.OFFER_CONTENT,
        subject_id=content.pk,
        subject_version=content.version,
    ).exists()


def content_create_version(
    *,
    actor: Any,
    offer: Offer,
    channel: str,
    headline: str,
    body: str,
    call_to_action: str = "",
    disclosure: str = "",
) -> OfferContent:
    """The next version of an offer's content on a channel, as a draft."""
    if channel not in Channel.values:
        raise ValidationFailed(
            "The content is not valid.",
            fields={"channel": [f"must be one of {', '.join(Channel.values)}"]},
        )
    with transaction.atomic():
        # Lock the offer so two editors never take the same version number.
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        if offer.status == OfferStatus.RETIRED:
            raise Conflict(f"Offer {offer.code} is retired.", fields={"status": [offer.status]})
        latest = OfferContent.objects.filter(offer=offer, channel=channel).aggregate(
            latest=Max("version")
        )["latest"]
        content = OfferContent(
            offer=offer,
            channel=channel,
            version=(latest or 0) + 1,
            headline=(headline or "").strip(),
            body=(body or "").strip(),
            call_to_action=(call_to_action or "").strip(),
            disclosure=(disclosure or "").strip(),
            created_by=_user_or_none(actor),
        )
        content.content_hash = content_hash_of(content, offer_code=offer.code)
        _clean_and_save(content, "The content is not valid.")
        _audit_catalog(
            action="content_version_created",
            actor=actor,
            instance=content,
            object_type="offer_content",
            data={
                "offer": offer.code,
                "channel": channel,
                "version": content.version,
                "content_hash": content.content_hash,
            },
        )
        bump_catalog_version()
    return content


def content_update(*, actor: Any, content: OfferContent, data: Mapping[str, str]) -> OfferContent:
    """Edit content. A draft is edited in place; a version already submitted for
    approval (pending, approved or not) never changes — the edit becomes a new version,
    returned, which needs its own approval while the approved one stays released."""
    unknown = sorted(set(data) - set(CONTENT_FIELDS))
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            fields={name: ["cannot be changed"] for name in unknown},
        )
    with transaction.atomic():
        content = (
            OfferContent.objects.select_for_update().select_related("offer").get(pk=content.pk)
        )
        fields = {
            name: (data.get(name, getattr(content, name)) or "").strip() for name in CONTENT_FIELDS
        }
        if all(fields[name] == getattr(content, name) for name in CONTENT_FIELDS):
            return content
        if content_is_submitted(content):
            return content_create_version(
                actor=actor, offer=content.offer, channel=content.channel, **fields
            )
        changes = {
            name: [getattr(content, name), fields[name]]
            for name in CONTENT_FIELDS
            if fields[name] != getattr(content, name)
        }
        for name, value in fields.items():
            setattr(content, name, value)
        content.content_hash = content_hash_of(content, offer_code=content.offer.code)
        _clean_and_save(content, "The content is not valid.")
        _audit_catalog(
            action="content_draft_updated",
            actor=actor,
            instance=content,
            object_type="offer_content",
            data={
                "offer": content.offer.code,
                "channel": content.channel,
                "version": content.version,
                "content_hash": content.content_hash,
                "fields_changed": sorted(changes),
            },
        )
        bump_catalog_version()
    return content


def content_prechecks_for(content: OfferContent) -> list[Finding]:
    """Run every content pre-check on one version (with its offer's eligibility rule)."""
    offer = content.offer
    findings: list[Finding] = []
    try:
        fields = rule_fields(offer.eligibility_rule or "")
    except RuleSyntaxError as exc:
        fields = frozenset()
        findings.append(
            Finding(
                "eligibility_rule_invalid",
                BLOCKING,
                f"The offer's eligibility rule does not parse: {exc.message}",
                "eligibility_rule",
            )
        )
    findings += content_prechecks(
        channel=content.channel,
        is_credit=offer.product.is_credit,
        headline=content.headline,
        body=content.body,
        call_to_action=content.call_to_action,
        disclosure=content.disclosure,
        eligibility_fields=fields,
        offer_code=offer.code,
    )
    return findings


def content_submit_for_approval(
    *, actor: AbstractBaseUser, content: OfferContent
) -> ApprovalRequest:
    """Run the pre-checks and ask compliance to approve this exact version."""
    if _user_or_none(actor) is None:
        raise PermissionDenied("Content is submitted for approval by a person.")
    with transaction.atomic():
        content = (
            OfferContent.objects.select_for_update()
            .select_related("offer__product")
            .get(pk=content.pk)
        )
        offer = content.offer
        if offer.status == OfferStatus.RETIRED:
            raise Conflict(f"Offer {offer.code} is retired.", fields={"status": [offer.status]})
        if content.content_hash != content_hash_of(content, offer_code=offer.code):
            raise Conflict("The stored content does not match its hash; it was altered.")
        findings = content_prechecks_for(content)
        snapshot = {
            "offer_code": offer.code,
            "offer_name": offer.name,
            "offer_kind": offer.kind,
            "product_code": offer.product.code,
            "product_family": offer.product.family,
            "is_credit": offer.product.is_credit,
            "eligibility_rule": offer.eligibility_rule,
            "channel": content.channel,
            "version": content.version,
            **{name: getattr(content, name) for name in CONTENT_FIELDS},
        }
        return approval_submit(
            actor_user=actor,
            subject_type=ApprovalSubject.OFFER_CONTENT,
            subject_id=content.pk,
            subject_version=content.version,
            content_hash=content.content_hash,
            subject_repr=f"{offer.code}/{content.channel}",
            snapshot=snapshot,
            prechecks=findings,
        )
