"""The one shape of an offer released to a channel, and what each reader sees of it.

An offer is released when it reaches a channel: an inbound offer when the decision
answers, an outbound one when the channel's gateway leases its message.
``released_offer`` builds the one description of a release. Everything else is a
projection of it, and each projection differs from it only by the fields listed here:

===============  ===========  =================  =======================  ===================
field            released     ``stored_offer``   ``released_audit_data``  ``offer_body``
                 offer        (Decision.offers)  (offer_released data)    (API.md)
===============  ===========  =================  =======================  ===================
rank             yes          yes                no                       yes (1 if unset)
offer_code       yes          yes                yes                      yes
product_code     yes          yes                yes                      yes
kind             yes          no                 yes                      no
campaign         yes (code)   yes                yes                      yes ("" if unset)
channel          yes          yes                no (record's channel)    yes
content_version  yes          yes                yes                      yes (1 if unset)
content_hash     yes          no                 yes                      no
content          yes (words)  yes                no                       yes (null if unset)
score            yes          rounded to 6 dp    yes, unrounded           as stored
score_factors    yes          yes                yes                      the 4 of API.md
model_version    yes          no                 yes                      no
reasons          yes          yes                as ``rationale``         yes
deliver_after    yes          yes (ISO 8601)     no                       no
===============  ===========  =================  =======================  ===================

The audit data adds the release's context: ``decision_id``, ``triggering_event``,
``policy_version`` and ``snapshot_version`` (a lease adds ``message_id`` before them and
``lease_count``, ``lease_expires_at`` after; ``outbound.records``).

A release has two sources. At decision time (``released_from_engine``) the engine's
offer gives every field, and ``score_factors`` holds the four factors of API.md. At lease
time (``released_from_message``) the message gives what was queued and the decision's
stored explanation gives score, factors and reasons. Its ``score_factors`` are the
factors as the explanation recorded them: the engine's full set, which adds ``source``
and ``model_version``, or ``{}`` (score ``None``, reasons ``[]``) when it recorded none,
as for batch runs and erased customers. The ledger hashes what it was given, so this
difference is kept as it is.

A batch run keeps a compact item instead of ``stored_offer`` (``batch_stored_offer``:
no content words, kind or reasons; adds the A/B ``arm``), built column-wise at speed.

The API reads stored decisions, some written before this shape or by batch runs, and
others redacted by erasure (``rights.redaction`` keeps only rank, codes, channel and
content version). ``offer_body`` therefore takes what is there and fills in the rest.
Suppressed offers have their own two projections, ``stored_suppressed`` and
``suppressed_body``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypedDict

from decisioning import engine

# The score factors API.md lists, in its order.
SCORE_FACTORS: tuple[str, ...] = ("propensity", "value", "lever", "context_weight")
CONTENT_FIELDS: tuple[str, ...] = ("headline", "body", "call_to_action", "disclosure")


class ContentLike(Protocol):
    """An approved content version: ``engine.ContentSpec`` or ``offers.OfferContent``."""

    @property
    def version(self) -> int: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def headline(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def call_to_action(self) -> str: ...
    @property
    def disclosure(self) -> str: ...


class ReleasedOfferData(TypedDict):
    rank: int | None
    offer_code: str
    product_code: str
    kind: str
    campaign: str | None
    channel: str
    content_version: int
    content_hash: str
    content: dict[str, str]
    score: float | None
    score_factors: dict[str, Any]
    model_version: str | None
    reasons: list[str]
    deliver_after: datetime | None


def released_offer(
    *,
    rank: int | None,
    offer_code: str,
    product_code: str,
    kind: str,
    campaign: str | None,
    channel: str,
    content: ContentLike,
    score: float | None,
    score_factors: Mapping[str, Any],
    model_version: str | None,
    reasons: Iterable[str],
    deliver_after: datetime | None,
) -> ReleasedOfferData:
    """The one description of an offer released to ``channel``."""
    return {
        "rank": rank,
        "offer_code": offer_code,
        "product_code": product_code,
        "kind": kind,
        "campaign": campaign,
        "channel": channel,
        "content_version": content.version,
        "content_hash": content.content_hash,
        "content": {name: getattr(content, name) for name in CONTENT_FIELDS},
        "score": score,
        "score_factors": dict(score_factors),
        "model_version": model_version,
        "reasons": list(reasons),
        "deliver_after": deliver_after,
    }


# --- its two sources ------------------------------------------------------------------------


def released_from_engine(offer: engine.ReleasedOffer) -> ReleasedOfferData:
    """An offer the engine released just now."""
    factors = offer.factors
    return released_offer(
        rank=offer.rank,
        offer_code=offer.offer_code,
        product_code=offer.product_code,
        kind=offer.kind,
        campaign=offer.campaign_code,
        channel=offer.channel,
        content=offer.content,
        score=offer.score,
        score_factors={name: getattr(factors, name) for name in SCORE_FACTORS},
        model_version=factors.model_version,
        reasons=offer.reasons,
        deliver_after=offer.deliver_after,
    )


def explained_offer(
    *, offer_code: str, channel: str, explained: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any]:
    """The offer on ``channel`` among a decision's explained offers, ``{}`` if absent."""
    for offer in explained:
        if offer.get("offer_code") == offer_code and offer.get("channel") in (channel, None):
            return offer
    return {}


def released_from_message(
    message: Any, explained: Iterable[Mapping[str, Any]]
) -> ReleasedOfferData:
    """A queued message being released to its channel: the message says what was queued,
    ``explained`` (the decision's ``explanation["offers"]``) why."""
    offer = message.offer
    why = explained_offer(offer_code=offer.code, channel=message.channel, explained=explained)
    factors = why.get("score_factors") or {}
    return released_offer(
        rank=why.get("rank"),
        offer_code=offer.code,
        product_code=offer.product.code,
        kind=offer.kind,
        campaign=message.campaign.code if message.campaign else None,
        channel=message.channel,
        content=message.content,
        score=why.get("score"),
        score_factors=factors,
        model_version=factors.get("model_version"),
        reasons=why.get("reasons") or (),
        deliver_after=message.deliver_after,
    )


# --- projections ----------------------------------------------------------------------------


def stored_offer(released: ReleasedOfferData) -> dict[str, Any]:
    """The item ``Decision.offers`` keeps of a release."""
    score = released["score"]
    deliver_after = released["deliver_after"]
    return {
        "rank": released["rank"],
        "offer_code": released["offer_code"],
        "product_code": released["product_code"],
        "campaign": released["campaign"],
        "channel": released["channel"],
        "content_version": released["content_version"],
        "content": dict(released["content"]),
        "score": round(score, 6) if score is not None else None,
        "score_factors": dict(released["score_factors"]),
        "reasons": list(released["reasons"]),
        "deliver_after": deliver_after.isoformat() if deliver_after else None,
    }


def stored_offers(offers: Iterable[engine.ReleasedOffer]) -> list[dict[str, Any]]:
    return [stored_offer(released_from_engine(offer)) for offer in offers]


def batch_stored_offer(
    *,
    rank: int,
    offer: engine.OfferSpec,
    campaign: str,
    channel: str,
    score: float,
    propensity: float,
    deliver_after: str | None,
    arm: str | None,
) -> dict[str, Any]:
    """The compact item a batch run keeps of a release (``Decision.offers``, COPYed in bulk):
    no content words and no reasons — a replay derives the full trace — but the A/B arm.
    Context weight is 1.0: batch runs have no triggering event."""
    return {
        "rank": rank,
        "offer_code": offer.code,
        "product_code": offer.product.code,
        "campaign": campaign,
        "channel": channel,
        "content_version": offer.contents[channel].version,
        "score": score,
        "score_factors": {
            "propensity": propensity,
            "value": offer.expected_value,
            "lever": offer.lever,
            "context_weight": 1.0,
        },
        "deliver_after": deliver_after,
        "arm": arm,
    }


def released_audit_data(
    released: ReleasedOfferData,
    *,
    decision_id: Any,
    event: Any | None,
    policy_version: int | None,
    snapshot_version: str,
) -> dict[str, Any]:
    """What a regulator asks of a release (the ``offer_released`` record), without PII."""
    return {
        "decision_id": str(decision_id),
        "offer_code": released["offer_code"],
        "product_code": released["product_code"],
        "kind": released["kind"],
        "campaign": released["campaign"],
        "content_version": released["content_version"],
        "content_hash": released["content_hash"],
        "triggering_event": (
            {"event_id": event.event_id, "type": event.type} if event is not None else None
        ),
        "model_version": released["model_version"],
        "policy_version": policy_version,
        "snapshot_version": snapshot_version,
        "score": released["score"],
        "score_factors": dict(released["score_factors"]),
        "rationale": list(released["reasons"]),
    }


def offer_body(item: Mapping[str, Any]) -> dict[str, Any]:
    """An offer of API.md's decision bodies, from a ``Decision.offers`` item however it
    was stored (``stored_offer``, a batch run, or redacted by erasure)."""
    factors = item.get("score_factors")
    content = item.get("content")
    return {
        "rank": item.get("rank") or 1,
        "offer_code": item.get("offer_code") or "",
        "product_code": item.get("product_code") or "",
        "campaign": item.get("campaign") or "",
        "channel": item.get("channel") or None,
        "content_version": item.get("content_version") or 1,
        "content": (
            {name: content.get(name, "") for name in CONTENT_FIELDS}
            if isinstance(content, dict)
            else None
        ),
        "score": item.get("score"),
        "score_factors": (
            {name: factors.get(name) for name in SCORE_FACTORS}
            if isinstance(factors, dict)
            else None
        ),
        "reasons": list(item.get("reasons") or ()),
    }


# --- suppressed offers ------------------------------------------------------------------------


def stored_suppressed(item: engine.Suppressed) -> dict[str, Any]:
    """The item ``Decision.suppressed`` keeps of an offer the engine held back."""
    return {
        "offer_code": item.offer_code,
        "campaign": item.campaign_code,
        "channel": item.channel,
        "reason": item.reason,
    }


def suppressed_body(item: Mapping[str, Any]) -> dict[str, Any]:
    """A suppressed offer of API.md's decision bodies, from a ``Decision.suppressed`` item
    (batch runs store only ``{"reason": ...}``)."""
    return {
        "offer_code": item.get("offer_code") or "",
        "reason": item.get("reason") or "",
        "campaign": item.get("campaign") or "",
        "channel": item.get("channel"),
    }
