"""Catalog reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.selectors import approvals_by_version, approved_versions
from offers.choices import OfferStatus
from offers.content_hash import content_hash_of
from offers.models import Offer, OfferContent, OfferTargeting, Product
from offers.targeting_hash import targeting_hash_of


def product_list(*, family: str | None = None, active: bool | None = None) -> QuerySet[Product]:
    queryset = Product.objects.all()
    if family:
        queryset = queryset.filter(family=family)
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset.order_by("family", "code")


def offer_list(
    *, status: str | None = None, product: Product | None = None, kind: str | None = None
) -> QuerySet[Offer]:
    queryset = Offer.objects.select_related("product")
    if status:
        queryset = queryset.filter(status=status)
    if product is not None:
        queryset = queryset.filter(product=product)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("code")


def offer_get(*, code: str) -> Offer | None:
    return Offer.objects.select_related("product").filter(code=code).first()


def content_versions(*, offer: Offer, channel: str | None = None) -> QuerySet[OfferContent]:
    queryset = OfferContent.objects.select_related("offer", "created_by").filter(offer=offer)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by("channel", "-version")


@dataclass(frozen=True, slots=True)
class ContentState:
    content: OfferContent
    approval: ApprovalRequest | None  # the latest request for this version, if any

    @property
    def status(self) -> str:
        """draft, pending, approved, rejected, changes_requested or withdrawn."""
        return self.approval.status if self.approval else "draft"

    @property
    def editable_in_place(self) -> bool:
        return self.approval is None


def content_states(*, offer: Offer, channel: str | None = None) -> list[ContentState]:
    """Every version of an offer's content with its approval state, in two queries."""
    contents = list(content_versions(offer=offer, channel=channel))
    latest = approvals_by_version(ApprovalSubject.OFFER_CONTENT, [c.pk for c in contents])
    return [ContentState(c, latest.get((c.pk, c.version))) for c in contents]


# --- targeting: what an approval of an offer's targeting covers ----------------------------


def in_force_targeting_hash(offer: Offer) -> str:
    """The hash of the targeting on the offer row, under the version it says it carries."""
    return targeting_hash_of(offer, offer_code=offer.code, version=offer.targeting_version)


def approved_targeting(*, offer_ids: Iterable[int] | None = None) -> set[tuple[int, int, str]]:
    """Approved (offer id, targeting version, hash) triples, in one query."""
    queryset = ApprovalRequest.objects.filter(
        subject_type=ApprovalSubject.OFFER_TARGETING, status=ApprovalStatus.APPROVED
    )
    if offer_ids is not None:
        queryset = queryset.filter(subject_id__in=list(offer_ids))
    return set(queryset.values_list("subject_id", "subject_version", "content_hash"))


def targeting_in_force_is_approved(offer: Offer, approved: set[tuple[int, int, str]]) -> bool:
    """May the engine release this offer under the targeting on its row?

    Only when that targeting, re-hashed, is an approved version. A row at version 0 was
    written outside the services and never versioned (test fixtures; the migration that
    introduced targeting versions left none): it is taken as it stands.
    """
    if offer.targeting_version == 0:
        return True
    return (offer.pk, offer.targeting_version, in_force_targeting_hash(offer)) in approved


@dataclass(frozen=True, slots=True)
class TargetingState:
    targeting: OfferTargeting
    approval: ApprovalRequest | None  # the latest request for this version, if any
    in_force: bool  # the version the offer row carries

    @property
    def status(self) -> str:
        """draft, pending, approved, rejected, changes_requested or withdrawn."""
        return self.approval.status if self.approval else "draft"

    @property
    def submitted(self) -> bool:
        return self.approval is not None


def _targeting_states(
    offer: Offer, rows: list[OfferTargeting], requests: dict[tuple[int, int], ApprovalRequest]
) -> list[TargetingState]:
    return [
        TargetingState(
            targeting=row,
            approval=requests.get((offer.pk, row.version)),
            in_force=row.version == offer.targeting_version,
        )
        for row in rows
    ]


def _targeting_rows(offer: Offer) -> list[OfferTargeting]:
    return list(
        OfferTargeting.objects.select_related("created_by").filter(offer=offer).order_by("-version")
    )


def targeting_states(*, offer: Offer) -> list[TargetingState]:
    """Every targeting version of an offer, newest first, with its approval, in two queries."""
    requests = approvals_by_version(ApprovalSubject.OFFER_TARGETING, [offer.pk])
    return _targeting_states(offer, _targeting_rows(offer), requests)


def offer_states(*, offer: Offer) -> tuple[list[ContentState], list[TargetingState]]:
    """An offer's content versions and targeting versions with their approvals, in three
    queries (the approvals of both in one)."""
    contents = list(content_versions(offer=offer))
    rows = _targeting_rows(offer)
    latest: dict[tuple[str, int, int], ApprovalRequest] = {}
    requests = (
        ApprovalRequest.objects.select_related("submitted_by", "decided_by")
        .filter(
            Q(
                subject_type=ApprovalSubject.OFFER_CONTENT,
                subject_id__in=OfferContent.objects.filter(offer=offer).values("pk"),
            )
            | Q(subject_type=ApprovalSubject.OFFER_TARGETING, subject_id=offer.pk)
        )
        .order_by("submitted_at", "pk")
    )
    for request in requests:
        latest[(request.subject_type, request.subject_id, request.subject_version)] = request
    content_states = [
        ContentState(c, latest.get((ApprovalSubject.OFFER_CONTENT, c.pk, c.version)))
        for c in contents
    ]
    by_version = {
        (subject_id, version): request
        for (kind, subject_id, version), request in latest.items()
        if kind == ApprovalSubject.OFFER_TARGETING
    }
    return content_states, _targeting_states(offer, rows, by_version)


def targeting_proposal(states: list[TargetingState]) -> TargetingState | None:
    """The version waiting to replace the one in force: newer, and pending or unsubmitted."""
    in_force = next((s.targeting.version for s in states if s.in_force), 0)
    for state in states:  # newest first
        if state.targeting.version <= in_force:
            return None
        if state.status in ("draft", ApprovalStatus.PENDING):
            return state
    return None


def approved_content(
    *, offers: Iterable[Offer] | None = None
) -> dict[tuple[int, str], OfferContent]:
    """The content the engine may release: per (offer id, channel) the highest version
    whose (id, version, hash) is approved and whose stored text still hashes to it."""
    approved = approved_versions(ApprovalSubject.OFFER_CONTENT)
    ids = [content_id for content_id, _, _ in approved]
    queryset = OfferContent.objects.select_related("offer").filter(pk__in=ids)
    if offers is not None:
        queryset = queryset.filter(offer__in=list(offers))
    out: dict[tuple[int, str], OfferContent] = {}
    for content in queryset.order_by("offer_id", "channel", "version"):
        if (content.pk, content.version, content.content_hash) not in approved:
            continue
        if content_hash_of(content) != content.content_hash:
            continue  # altered behind the services' back: never release it
        out[(content.offer_id, content.channel)] = content
    return out


def approved_channels_by_offer(*, offers: Iterable[Offer] | None = None) -> dict[int, list[str]]:
    channels: dict[int, list[str]] = {}
    for offer_id, channel in sorted(approved_content(offers=offers)):
        channels.setdefault(offer_id, []).append(channel)
    return channels


def active_offers_with_channels() -> list[tuple[Offer, list[str]]]:
    """Active offers with their product and the channels with approved content
    (``GET /api/v1/offers/``)."""
    offers = list(offer_list(status=OfferStatus.ACTIVE))
    channels = approved_channels_by_offer(offers=offers)
    return [(offer, channels.get(offer.pk, [])) for offer in offers]
