"""Catalog reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from compliance.choices import ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.selectors import approvals_by_version, approved_versions
from offers.choices import OfferStatus
from offers.content_hash import content_hash_of
from offers.models import Offer, OfferContent, Product


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
