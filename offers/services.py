"""Catalog writes: products, offers and versioned offer content.

Every write is keyword-only, validated with ``full_clean()``, done in one transaction,
audited (kind ``catalog``) and bumps the catalog version the engine snapshots from.

Content versions are immutable once submitted for approval: ``content_update`` edits a
draft in place but turns an edit of a submitted (pending, approved, rejected...)
version into a new version, which needs its own approval. Whether a version is
approved is answered by compliance from (content id, version, content hash).

Targeting (eligibility rule, validity window, lever, value, cooldown, trigger weights)
is versioned the same way (``OfferTargeting``): a change to a live or approved offer is
a new targeting version, submitted for approval, while the approved targeting stays on
the offer row and in force; a checker's approval copies the new version onto the offer
(``on_offer_targeting_decided``, in the approval's transaction).

Rules: eligibility rules are validated (and their fields read) through
``compliance.prechecks.rule_fields``; the engine's parser is plugged into it by
dependency injection because offers may not import decisioning.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.dispatch import receiver

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.prechecks import (
    BLOCKING,
    WARNING,
    Finding,
    RuleSyntaxError,
    check_protected_attributes,
    content_prechecks,
    protected_name,
    rule_fields,
    rule_parser,
)
from compliance.selectors import is_approved, latest_approval
from compliance.services import approval_submit, approval_withdraw
from compliance.signals import approval_decided
from compliance.versioning import bump_catalog_version
from core.choices import Channel
from core.exceptions import Conflict, PermissionDenied, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.services import audit
from offers.choices import OfferKind, OfferStatus, ProductFamily
from offers.content_hash import content_hash_of
from offers.models import Offer, OfferContent, OfferTargeting, Product
from offers.targeting_hash import (
    TARGETING_FIELDS,
    normalised,
    targeting_hash,
    targeting_hash_of,
    targeting_values,
)

PRODUCT_UPDATABLE = frozenset(
    {"name", "family", "description", "annual_value", "is_credit", "is_active"}
)
TARGETING_UPDATABLE = frozenset(TARGETING_FIELDS)
OFFER_UPDATABLE = frozenset({"name", "kind"}) | TARGETING_UPDATABLE
# A live offer has been (or may at once be) released; its targeting changes by approval.
LIVE = frozenset({OfferStatus.ACTIVE, OfferStatus.PAUSED})
# A proposed lever (or value) this many times the one in force is flagged to the reviewer.
SHARP_RISE = Decimal(2)
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
    """The fields a rule reads; a rule that does not parse, or that reads the likelihood
    band of a product the catalog does not have, is a validation error."""
    try:
        fields = rule_fields(rule_text or "")
    except RuleSyntaxError as exc:
        message = exc.message
        if "position" not in message:
            message = f"{message} (at position {exc.position})"
        raise ValidationFailed("The rule is not valid.", fields={field: [message]}) from None
    products = likelihood_products(rule_text)
    if products:
        known = set(Product.objects.filter(code__in=products).values_list("code", flat=True))
        unknown = [code for code in products if code not in known]
        if unknown:
            raise ValidationFailed(
                "The rule is not valid.",
                fields={
                    field: [
                        f'unknown product code "{code}" in likelihood(...) at position '
                        f"{_likelihood_position(rule_text, code)}"
                        for code in unknown
                    ]
                },
            )
    return fields


def likelihood_products(rule_text: str) -> tuple[str, ...]:
    """Product codes whose likelihood band a rule reads (``likelihood("P") >= "target"``),
    sorted; empty without the engine's parser or for a rule that does not parse."""
    parser = rule_parser()
    if parser is None or not (rule_text or "").strip():
        return ()
    try:
        rule = parser(rule_text)
    except ValueError:
        return ()
    return tuple(getattr(rule, "likelihood_products", tuple)())


def _likelihood_position(rule_text: str, code: str) -> int:
    match = re.search(r"likelihood\s*\(\s*([\"'])" + re.escape(code) + r"\1", rule_text)
    return match.start(1) if match else 0


def credit_unsafe_likelihoods(rule_text: str) -> list[str]:
    """Products of non-credit kind whose likelihood the rule reads: their models may read
    protected attributes (only credit products' models never do), so a credit offer may
    not be targeted by them."""
    products = likelihood_products(rule_text)
    if not products:
        return []
    return sorted(
        Product.objects.filter(code__in=products, is_credit=False).values_list("code", flat=True)
    )


def _refuse_protected(*, rule_text: str, is_credit: bool, field: str = "eligibility_rule") -> None:
    fields = eligibility_fields(rule_text, field=field)
    used = sorted({p for name in fields if (p := protected_name(name))})
    if is_credit and used:
        raise ValidationFailed(
            "A credit product's offers may not target by protected attributes.",
            fields={field: [f"uses protected attribute(s): {', '.join(used)}"]},
        )
    unsafe = credit_unsafe_likelihoods(rule_text) if is_credit else []
    if unsafe:
        raise ValidationFailed(
            "A credit product's offers may not target by the likelihood of a non-credit "
            "product, whose model may read protected attributes.",
            fields={field: [f"reads the likelihood of non-credit product(s): {', '.join(unsafe)}"]},
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
                # A proposal waiting for review would bring its rule with it.
                for proposal in OfferTargeting.objects.select_related("offer").filter(
                    offer__in=offers
                ):
                    if proposal.version > proposal.offer.targeting_version:
                        _refuse_protected(rule_text=proposal.eligibility_rule, is_credit=True)
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
            targeting_version=1,
            created_by=_user_or_none(actor),
        )
        _clean_and_save(offer, "The offer is not valid.")
        targeting = _targeting_row(
            actor=actor, offer=offer, version=1, values=targeting_values(offer)
        )
        _clean_and_save(targeting, "The offer's targeting is not valid.")
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
                "targeting_version": 1,
                "targeting_hash": targeting.content_hash,
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


def offer_update(*, actor: Any, offer: Offer, data: Mapping[str, Any], note: str = "") -> Offer:
    """Change an offer. Its code never changes; its kind (sales or service, which
    decides consent exemptions) only while it is a draft; its name at once.

    Its targeting (``TARGETING_FIELDS``) is versioned. On a draft that was never approved
    nothing is in force, so the working version is edited in place (submit it with
    ``offer_targeting_submit_for_approval``). On a live (active or paused) or approved
    offer a change is written as a new targeting version and submitted for approval —
    so ``actor`` must be a person who may submit — and the approved targeting stays on
    the offer, in force, until a checker approves the new version. Returns the offer as
    it stands (in force).
    """
    unknown = sorted(set(data) - OFFER_UPDATABLE)
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            fields={name: ["cannot be changed"] for name in unknown},
        )
    with transaction.atomic():
        offer = Offer.objects.select_for_update().select_related("product").get(pk=offer.pk)
        if offer.status == OfferStatus.RETIRED:
            raise Conflict("A retired offer cannot change.", fields={"status": [offer.status]})
        plain = {name: value for name, value in data.items() if name not in TARGETING_UPDATABLE}
        wanted = _targeting_input({k: v for k, v in data.items() if k in TARGETING_UPDATABLE})
        changes = _apply(offer, plain, OFFER_UPDATABLE)
        if "kind" in changes and offer.status != OfferStatus.DRAFT:
            raise Conflict(
                "An offer's kind can only change while it is a draft.",
                fields={"kind": ["offer is not a draft"]},
            )
        versioned = _targeting_is_versioned(offer)
        latest, latest_request = _latest_targeting(offer)
        proposal_open = (
            latest is not None
            and latest.version > offer.targeting_version
            and (latest_request is None or latest_request.status == ApprovalStatus.PENDING)
        )
        # Editing continues the open proposal, if there is one; else starts from the offer.
        base = targeting_values(latest if versioned and proposal_open else offer)
        proposed = {**base, **wanted}
        targeting_changes = _targeting_changes(base, proposed)
        if not changes and not targeting_changes:
            return offer
        if targeting_changes:
            _validate_targeting(offer, proposed)
        if targeting_changes and not versioned:
            # Nothing is in force yet: the offer row follows its working version.
            row = _write_working_version(
                actor=actor,
                offer=offer,
                latest=latest,
                latest_request=latest_request,
                values=proposed,
                note=note,
            )
            for name in TARGETING_FIELDS:
                setattr(offer, name, proposed[name])
            offer.targeting_version = row.version
            changes.update(targeting_changes)
        if changes:
            _clean_and_save(offer, "The offer is not valid.")
            _audit_catalog(
                action="offer_updated",
                actor=actor,
                instance=offer,
                object_type="offer",
                data={
                    "changes": changes,
                    "targeting_version": offer.targeting_version,
                    "targeting_hash": in_force_hash(offer),
                },
            )
        if targeting_changes and versioned:
            _propose_targeting(
                actor=actor,
                offer=offer,
                latest=latest if proposal_open else None,
                latest_request=latest_request if proposal_open else None,
                values=proposed,
                changes=targeting_changes,
                note=note,
            )
        bump_catalog_version()
    return offer


# --- targeting versions -------------------------------------------------------------------


def in_force_hash(offer: Offer) -> str:
    return targeting_hash_of(offer, offer_code=offer.code, version=offer.targeting_version)


def _targeting_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed targeting values (as the model fields parse them)."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        field = Offer._meta.get_field(name)
        try:
            out[name] = field.to_python(value) if value is not None else value
        except ValidationError as exc:
            raise ValidationFailed(
                "The change is not valid.", fields={name: exc.messages}
            ) from None
    if "trigger_weights" in out:
        out["trigger_weights"] = out["trigger_weights"] or {}
        _validate_trigger_weights(out["trigger_weights"])
        out["trigger_weights"] = dict(out["trigger_weights"])
    if "eligibility_rule" in out:
        out["eligibility_rule"] = out["eligibility_rule"] or ""
    if "cooldown_days" in out and out["cooldown_days"] is None:
        out["cooldown_days"] = 0
    return out


def _targeting_changes(base: Mapping[str, Any], proposed: Mapping[str, Any]) -> dict[str, list]:
    """{field: [before, after]} for the targeting fields that really differ."""
    before, after = normalised(base), normalised(proposed)
    return {
        name: [base.get(name), proposed.get(name)]
        for name in TARGETING_FIELDS
        if before[name] != after[name]
    }


def _validate_targeting(offer: Offer, values: Mapping[str, Any]) -> None:
    _validate_trigger_weights(values["trigger_weights"] or {})
    _refuse_protected(rule_text=values["eligibility_rule"], is_credit=offer.product.is_credit)
    probe = _targeting_row(actor=None, offer=offer, version=1, values=values)
    try:
        probe.full_clean(exclude=["offer", "content_hash"], validate_unique=False)
    except ValidationError as exc:
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        raise ValidationFailed(
            "The offer's targeting is not valid.",
            fields={k: list(v) for k, v in fields.items()},
        ) from None


def _targeting_row(
    *, actor: Any, offer: Offer, version: int, values: Mapping[str, Any], note: str = ""
) -> OfferTargeting:
    row = OfferTargeting(
        offer=offer,
        version=version,
        note=(note or "").strip()[:200],
        created_by=_user_or_none(actor),
        **{name: values[name] for name in TARGETING_FIELDS},
    )
    row.content_hash = targeting_hash(offer_code=offer.code, version=version, values=values)
    return row


def _set_row_values(row: OfferTargeting, values: Mapping[str, Any], note: str) -> None:
    for name in TARGETING_FIELDS:
        setattr(row, name, values[name])
    if note:
        row.note = note.strip()[:200]
    row.content_hash = targeting_hash(offer_code=row.offer.code, version=row.version, values=values)


def _targeting_is_versioned(offer: Offer) -> bool:
    """Live, or ever approved: then its targeting changes only through an approval."""
    return (
        offer.status in LIVE
        or ApprovalRequest.objects.filter(
            subject_type=ApprovalSubject.OFFER_TARGETING,
            subject_id=offer.pk,
            status=ApprovalStatus.APPROVED,
        ).exists()
    )


def _latest_targeting(offer: Offer) -> tuple[OfferTargeting | None, ApprovalRequest | None]:
    latest = (
        OfferTargeting.objects.select_for_update()
        .select_related("offer")
        .filter(offer=offer)
        .order_by("-version")
        .first()
    )
    if latest is None:
        return None, None
    return latest, latest_approval(ApprovalSubject.OFFER_TARGETING, offer.pk, latest.version)


def _next_version(offer: Offer) -> int:
    latest = OfferTargeting.objects.filter(offer=offer).aggregate(latest=Max("version"))["latest"]
    return max(latest or 0, offer.targeting_version) + 1


def _make_way(*, actor: Any, request: ApprovalRequest | None, replaced_by: str) -> None:
    """A pending version is replaced only by its author (it is withdrawn, audited)."""
    if request is None or request.status != ApprovalStatus.PENDING:
        return
    user = _user_or_none(actor)
    if user is None or request.submitted_by_id != user.pk:
        author = request.submitted_by.get_username()
        raise Conflict(
            f"{request.subject_repr} v{request.subject_version}, submitted by {author}, is "
            "waiting for review; it must be decided or withdrawn before another change.",
            fields={"targeting": [f"request {request.pk} is pending"]},
        )
    approval_withdraw(actor_user=user, request=request, comment=f"Replaced by {replaced_by}.")


def _write_working_version(
    *,
    actor: Any,
    offer: Offer,
    latest: OfferTargeting | None,
    latest_request: ApprovalRequest | None,
    values: Mapping[str, Any],
    note: str,
) -> OfferTargeting:
    """A draft's working version: edited in place until submitted, then a new one."""
    if latest is not None and latest_request is None:
        _set_row_values(latest, values, note)
        _clean_and_save(latest, "The offer's targeting is not valid.")
        return latest
    version = _next_version(offer)
    _make_way(actor=actor, request=latest_request, replaced_by=f"v{version}")
    row = _targeting_row(actor=actor, offer=offer, version=version, values=values, note=note)
    _clean_and_save(row, "The offer's targeting is not valid.")
    return row


def _propose_targeting(
    *,
    actor: Any,
    offer: Offer,
    latest: OfferTargeting | None,
    latest_request: ApprovalRequest | None,
    values: Mapping[str, Any],
    changes: Mapping[str, list],
    note: str,
) -> ApprovalRequest | None:
    """A new targeting version of a live or approved offer, submitted for approval.

    ``latest`` is the open proposal being continued, if any: edited in place while
    unsubmitted, replaced (withdrawn by its author) while pending. A change back to
    exactly the targeting in force needs no approval: the proposal is just dropped.
    """
    user = _user_or_none(actor)
    if user is None:
        raise PermissionDenied(
            "A live offer's targeting is changed by a person: the change is submitted for "
            "approval in their name."
        )
    back_to_in_force = normalised(values) == normalised(targeting_values(offer))
    if latest is not None and latest_request is not None:
        _make_way(actor=user, request=latest_request, replaced_by="a new version")
        latest = None
    if back_to_in_force:
        return None
    if latest is not None:
        row = latest
        _set_row_values(row, values, note)
    else:
        row = _targeting_row(
            actor=user, offer=offer, version=_next_version(offer), values=values, note=note
        )
    _clean_and_save(row, "The offer's targeting is not valid.")
    request = _submit_targeting(user=user, offer=offer, row=row)
    _audit_catalog(
        action="offer_targeting_proposed",
        actor=user,
        instance=offer,
        object_type="offer",
        data={
            "version": row.version,
            "in_force_version": offer.targeting_version,
            "content_hash": row.content_hash,
            "approval_request": request.pk,
            "changes": dict(changes),
            "note": row.note,
        },
    )
    return request


def targeting_prechecks_for(offer: Offer, row: OfferTargeting) -> list[Finding]:
    """The pre-checks over one targeting version: its rule (does it parse; protected
    attributes in a credit product's targeting), an open credit offer, sharp rises of
    the lever or value against the targeting in force."""
    product = offer.product
    findings: list[Finding] = []
    try:
        fields = rule_fields(row.eligibility_rule or "")
    except RuleSyntaxError as exc:
        fields = frozenset()
        findings.append(
            Finding(
                "eligibility_rule_invalid",
                BLOCKING,
                f"The eligibility rule does not parse: {exc.message}",
                "eligibility_rule",
            )
        )
    findings += check_protected_attributes(
        is_credit=product.is_credit,
        fields=fields,
        source="eligibility_rule",
        subject=f"offer {offer.code}",
    )
    if product.is_credit and not (row.eligibility_rule or "").strip():
        findings.append(
            Finding(
                "credit_offer_open_to_everyone",
                WARNING,
                f"Offer {offer.code} is for a credit product and its empty eligibility rule "
                "admits every customer.",
                "eligibility_rule",
            )
        )
    if offer.targeting_version and row.version != offer.targeting_version:
        before_value = offer.value if offer.value is not None else product.annual_value
        after_value = row.value if row.value is not None else product.annual_value
        for name, before, after in (
            ("lever", offer.lever, row.lever),
            ("value", before_value, after_value),
        ):
            before, after = Decimal(before), Decimal(after)
            if before > 0 and after >= before * SHARP_RISE:
                findings.append(
                    Finding(
                        f"{name}_raised_sharply",
                        WARNING,
                        f"The {name} rises from {before.normalize():f} to {after.normalize():f} "
                        f"(x{after / before:.1f}): this offer will outrank others far more often.",
                        name,
                    )
                )
    return findings


def _targeting_snapshot(offer: Offer, row: OfferTargeting) -> dict[str, Any]:
    """What the reviewer sees (frozen on the request): the proposed targeting, and the
    targeting in force when it was submitted (the baseline of the diff)."""
    product = offer.product
    in_force = None
    if offer.targeting_version != row.version:
        in_force = {"version": offer.targeting_version, **normalised(targeting_values(offer))}
    return {
        "offer_code": offer.code,
        "offer_name": offer.name,
        "offer_kind": offer.kind,
        "offer_status": offer.status,
        "product_code": product.code,
        "product_family": product.family,
        "is_credit": product.is_credit,
        "version": row.version,
        "note": row.note,
        **normalised(targeting_values(row)),
        "in_force": in_force,
    }


def _submit_targeting(
    *, user: AbstractBaseUser, offer: Offer, row: OfferTargeting
) -> ApprovalRequest:
    if row.content_hash != targeting_hash_of(row, offer_code=offer.code, version=row.version):
        raise Conflict("The stored targeting does not match its hash; it was altered.")
    return approval_submit(
        actor_user=user,
        subject_type=ApprovalSubject.OFFER_TARGETING,
        subject_id=offer.pk,
        subject_version=row.version,
        content_hash=row.content_hash,
        subject_repr=f"{offer.code} targeting",
        snapshot=_targeting_snapshot(offer, row),
        prechecks=targeting_prechecks_for(offer, row),
    )


def offer_targeting_submit_for_approval(
    *, actor: AbstractBaseUser, offer: Offer
) -> ApprovalRequest:
    """Ask compliance to approve the offer's newest targeting version as it stands (a
    draft's working version, typically, before the offer is released). An offer whose
    targeting was never versioned gets version 1 from its row first."""
    user = _user_or_none(actor)
    if user is None:
        raise PermissionDenied("Targeting is submitted for approval by a person.")
    with transaction.atomic():
        offer = Offer.objects.select_for_update().select_related("product").get(pk=offer.pk)
        if offer.status == OfferStatus.RETIRED:
            raise Conflict(f"Offer {offer.code} is retired.", fields={"status": [offer.status]})
        latest, _ = _latest_targeting(offer)
        if latest is None:
            latest = _targeting_row(
                actor=user,
                offer=offer,
                version=_next_version(offer),
                values=targeting_values(offer),
            )
            _clean_and_save(latest, "The offer's targeting is not valid.")
        request = _submit_targeting(user=user, offer=offer, row=latest)
        _audit_catalog(
            action="offer_targeting_submitted",
            actor=user,
            instance=offer,
            object_type="offer",
            data={
                "version": latest.version,
                "in_force_version": offer.targeting_version,
                "content_hash": latest.content_hash,
                "approval_request": request.pk,
            },
        )
    return request


@receiver(approval_decided, dispatch_uid="offers.targeting_approval_decided")
def on_offer_targeting_decided(
    sender: Any, request: ApprovalRequest, previous_status: str, actor: Any, **kwargs: Any
) -> None:
    """Put an approved targeting version in force; react to a revoked one.

    Approved: the version's values (re-hashed: they must be exactly what was approved)
    are copied onto the offer, which now carries that version; approving a version
    older than an approved one in force is refused (the decision rolls back). Revoked
    while in force: the engine stops releasing the offer at once (its targeting is no
    longer approved) and an active offer is paused. Runs inside the decision's
    transaction, so the offer changes with the decision or not at all.
    """
    if request.subject_type != ApprovalSubject.OFFER_TARGETING:
        return
    offer = (
        Offer.objects.select_for_update().select_related("product").filter(pk=request.subject_id)
    ).first()
    if offer is None:
        return
    if previous_status == ApprovalStatus.PENDING and request.status == ApprovalStatus.APPROVED:
        _put_in_force(offer=offer, request=request, actor=actor)
    elif (
        previous_status == ApprovalStatus.APPROVED
        and request.status != ApprovalStatus.APPROVED
        and request.subject_version == offer.targeting_version
    ):
        previous = offer.status
        if offer.status == OfferStatus.ACTIVE:
            offer.status = OfferStatus.PAUSED
            _clean_and_save(offer, "The offer is not valid.")
        _audit_catalog(
            action="offer_targeting_approval_revoked",
            actor=actor,
            instance=offer,
            object_type="offer",
            data={
                "version": request.subject_version,
                "approval_request": request.pk,
                "previous_status": previous,
                "status": offer.status,
            },
        )
        bump_catalog_version()


def _put_in_force(*, offer: Offer, request: ApprovalRequest, actor: Any) -> None:
    row = (
        OfferTargeting.objects.select_for_update()
        .filter(offer=offer, version=request.subject_version)
        .first()
    )
    if row is None:
        raise Conflict(f"{request.subject_repr} v{request.subject_version} does not exist.")
    rehashed = targeting_hash_of(row, offer_code=offer.code, version=row.version)
    if not (row.content_hash == rehashed == request.content_hash):
        raise Conflict(
            f"{request.subject_repr} v{row.version} no longer matches what was submitted; "
            "it was altered and cannot be approved."
        )
    if row.version < offer.targeting_version and is_approved(
        ApprovalSubject.OFFER_TARGETING, offer.pk, offer.targeting_version, in_force_hash(offer)
    ):
        raise Conflict(
            f"{request.subject_repr} v{row.version} is older than v{offer.targeting_version}, "
            "which is approved and in force; reject it instead.",
            fields={"subject_version": [f"v{offer.targeting_version} is in force"]},
        )
    # The product may have become credit since the version was submitted.
    _refuse_protected(rule_text=row.eligibility_rule, is_credit=offer.product.is_credit)
    values = targeting_values(row)
    changes = _targeting_changes(targeting_values(offer), values)
    previous_version = offer.targeting_version
    for name in TARGETING_FIELDS:
        setattr(offer, name, values[name])
    offer.targeting_version = row.version
    _clean_and_save(offer, "The offer is not valid.")
    _audit_catalog(
        action="offer_targeting_in_force",
        actor=actor,
        instance=offer,
        object_type="offer",
        data={
            "version": row.version,
            "previous_version": previous_version,
            "content_hash": row.content_hash,
            "approval_request": request.pk,
            "changes": changes,
        },
    )
    bump_catalog_version()


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


def _open_content_change(*, offer: Offer, user: AbstractBaseUser) -> uuid.UUID:
    """The change this author's content of this offer joins: the one of their content
    requests still waiting for review (given a key if it had none), else a new one. So
    an offer written for eight channels reaches the queue as one item, however its
    channels were submitted."""
    waiting = (
        ApprovalRequest.objects.select_for_update()
        .filter(
            subject_type=ApprovalSubject.OFFER_CONTENT,
            subject_id__in=OfferContent.objects.filter(offer=offer).values("pk"),
            status=ApprovalStatus.PENDING,
            submitted_by=user,
        )
        .order_by("pk")
    )
    keyed = next((r.change for r in waiting if r.change is not None), None)
    change = keyed or uuid.uuid4()
    waiting.filter(change__isnull=True).update(change=change)
    return change


def content_submit_for_approval(
    *, actor: AbstractBaseUser, content: OfferContent, change: uuid.UUID | None = None
) -> ApprovalRequest:
    """Run the pre-checks and ask compliance to approve this exact version, as part of
    ``change`` (default: the author's change of this offer's content waiting for review,
    or a new one)."""
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
            change=change or _open_content_change(offer=offer, user=actor),
        )


def offer_content_unsubmitted(*, offer: Offer) -> list[OfferContent]:
    """Per channel, the newest content version if it was never submitted (the drafts a
    "submit all" would send)."""
    latest: dict[str, OfferContent] = {}
    for content in OfferContent.objects.filter(offer=offer).order_by("channel", "-version"):
        latest.setdefault(content.channel, content)
    submitted = set(
        ApprovalRequest.objects.filter(
            subject_type=ApprovalSubject.OFFER_CONTENT,
            subject_id__in=[c.pk for c in latest.values()],
        ).values_list("subject_id", "subject_version")
    )
    return [c for c in latest.values() if (c.pk, c.version) not in submitted]


def offer_content_submit(*, actor: AbstractBaseUser, offer: Offer) -> list[ApprovalRequest]:
    """Submit the newest draft of every channel of an offer as one change: one item in
    the review queue, with every channel's words, decided together."""
    user = _user_or_none(actor)
    if user is None:
        raise PermissionDenied("Content is submitted for approval by a person.")
    with transaction.atomic():
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        drafts = offer_content_unsubmitted(offer=offer)
        if not drafts:
            raise Conflict(
                f"Offer {offer.code} has no content draft to submit: every channel's newest "
                "version was submitted already.",
                fields={"content": ["nothing to submit"]},
            )
        change = _open_content_change(offer=offer, user=user)
        return [
            content_submit_for_approval(actor=user, content=content, change=change)
            for content in drafts
        ]


def content_rollback(*, actor: AbstractBaseUser, content: OfferContent) -> ApprovalRequest:
    """Bring back an earlier approved version's words: they become the channel's next
    version, submitted for approval like any change (the version in force stays in force
    until a checker approves it)."""
    user = _user_or_none(actor)
    if user is None:
        raise PermissionDenied("Content is rolled back by a person.")
    with transaction.atomic():
        content = OfferContent.objects.select_related("offer").get(pk=content.pk)
        if not is_approved(
            ApprovalSubject.OFFER_CONTENT, content.pk, content.version, content.content_hash
        ):
            raise Conflict(
                f"{content.offer.code}/{content.channel} v{content.version} was never approved; "
                "only an approved version can be brought back.",
                fields={"version": ["not approved"]},
            )
        restored = content_create_version(
            actor=user,
            offer=content.offer,
            channel=content.channel,
            **{name: getattr(content, name) for name in CONTENT_FIELDS},
        )
        _audit_catalog(
            action="content_rolled_back",
            actor=user,
            instance=restored,
            object_type="offer_content",
            data={
                "offer": content.offer.code,
                "channel": content.channel,
                "from_version": content.version,
                "version": restored.version,
            },
        )
        return content_submit_for_approval(actor=user, content=restored)


def offer_targeting_rollback(
    *, actor: AbstractBaseUser, offer: Offer, version: int
) -> OfferTargeting | None:
    """Bring back an earlier approved targeting version: its values become a new
    version, submitted for approval (``offer_update``); the targeting in force stays in
    force until a checker approves it. None when those values are already in force."""
    user = _user_or_none(actor)
    if user is None:
        raise PermissionDenied("Targeting is rolled back by a person.")
    with transaction.atomic():
        row = OfferTargeting.objects.filter(offer=offer, version=version).first()
        if row is None or not is_approved(
            ApprovalSubject.OFFER_TARGETING, offer.pk, row.version, row.content_hash
        ):
            raise Conflict(
                f"{offer.code} targeting v{version} was never approved; only an approved "
                "version can be brought back.",
                fields={"version": ["not approved"]},
            )
        before = OfferTargeting.objects.filter(offer=offer).aggregate(latest=Max("version"))
        offer_update(
            actor=user,
            offer=offer,
            data=targeting_values(row),
            note=f"Roll back to v{row.version}.",
        )
        after = (
            OfferTargeting.objects.filter(offer=offer, version__gt=before["latest"] or 0)
            .order_by("-version")
            .first()
        )
        if after is not None:
            _audit_catalog(
                action="offer_targeting_rolled_back",
                actor=user,
                instance=offer,
                object_type="offer",
                data={"from_version": row.version, "version": after.version},
            )
        return after
