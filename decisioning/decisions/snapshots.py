"""Loading the engine's snapshot from the database, and keeping it until it changes.

The snapshot is rebuilt only when the catalog version moves (every service that changes
what the engine reads bumps it), when a campaign or offer window opens or closes, or when
it is older than ``MAX_AGE`` (so prior acceptance rates stay fresh). Each decision pays
one primary-key lookup for the version check.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign, ContactPolicy
from campaigns.selectors import active_contact_policy
from campaigns.triggers import trigger_settings
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.versioning import current_catalog_version
from core.channels import INBOUND, OUTBOUND
from core.metrics import snapshot_rebuilt
from decisioning.choices import ModelStatus, Outcome
from decisioning.engine import RuleError, parse_payload_rule, parse_rule
from decisioning.engine.snapshot import Snapshot, build_snapshot
from decisioning.engine.types import (
    CampaignOffer,
    CampaignSpec,
    ContentSpec,
    ModelSpec,
    OfferSpec,
    PolicySpec,
    ProductSpec,
    TriggerSpec,
)
from decisioning.models import PropensityModel, Response
from offers.choices import OfferStatus
from offers.models import Offer, OfferContent, Product
from offers.selectors import approved_targeting, targeting_in_force_is_approved

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=10)
SHADOW_STATUSES = (
    CampaignStatus.DRAFT,
    CampaignStatus.PENDING_APPROVAL,
    CampaignStatus.APPROVED,
)
NEVER = parse_rule("false")
NEVER_FIRES = parse_payload_rule("false")
# The status an offer has in the snapshot while the targeting on its row is not an
# approved version: the engine treats it as not active (reason ``offer_not_active``) and
# releases nothing under it.
TARGETING_NOT_APPROVED = "targeting_not_approved"


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    """The engine's snapshot plus the row ids persistence needs to store its results."""

    engine: Snapshot
    catalog_version: int
    built_at: datetime
    valid_until: datetime
    offer_ids: dict[str, int]
    content_ids: dict[tuple[str, str, int], int]
    # Journey campaigns that fire when a follow-up event is absent: id -> (type, days).
    absence: dict[int, tuple[str, int]]

    @property
    def version(self) -> str:
        return self.engine.version


def _rule(text: str, what: str):
    try:
        return parse_rule(text or "")
    except RuleError as exc:
        # Services validate rules before saving, so this means a row was edited behind
        # their back: never release on a rule nobody can read.
        logger.error("%s has an unreadable rule (%s); it matches no one", what, exc)
        return NEVER


def trigger_specs(campaign: Campaign) -> dict[str, TriggerSpec]:
    """Every trigger event type of the campaign with its condition, pages and maximum
    age (``campaigns.triggers``; defaults filled in)."""
    specs: dict[str, TriggerSpec] = {}
    for event_type in campaign.trigger_event_types or ():
        condition_text, pages, hours = trigger_settings(campaign.trigger_conditions, event_type)
        try:
            condition = parse_payload_rule(condition_text)
        except RuleError as exc:
            # Services validate conditions before saving: a row edited behind their back
            # fires on nothing rather than on everything.
            logger.error(
                "campaign %s: the %s trigger condition is unreadable (%s); it fires on nothing",
                campaign.code,
                event_type,
                exc,
            )
            condition = NEVER_FIRES
        specs[event_type] = TriggerSpec(
            event_type=event_type,
            condition=condition,
            pages=pages,
            max_age=timedelta(hours=hours),
        )
    return specs


def policy_spec(policy: ContactPolicy) -> PolicySpec:
    """A contact policy as the engine reads it."""
    return PolicySpec(
        version=policy.version,
        daily_cap=policy.daily_cap,
        weekly_cap=policy.weekly_cap,
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        quiet_channels=frozenset(policy.quiet_channels or ()),
        decline_cooldown_days=policy.decline_cooldown_days,
        fatigue_ignored_in_row=policy.fatigue_ignored_in_row,
        fatigue_backoff_days=policy.fatigue_backoff_days,
        presented_elsewhere_days=policy.presented_elsewhere_days,
        hardship_event_types=frozenset(policy.hardship_event_types or ()),
        hardship_days=policy.hardship_days,
        default_time_zone=settings.BANK_TIME_ZONE,
    )


def active_policy_spec() -> PolicySpec:
    """The policy in force (``campaigns.selectors.active_contact_policy``) for the engine."""
    return policy_spec(active_contact_policy())


def _approved_contents(offer_ids: list[int]) -> dict[tuple[int, str], OfferContent]:
    """The newest approved content version per (offer, channel)."""
    approved = {
        (subject_id, version, content_hash)
        for subject_id, version, content_hash in ApprovalRequest.objects.filter(
            subject_type=ApprovalSubject.OFFER_CONTENT, status=ApprovalStatus.APPROVED
        ).values_list("subject_id", "subject_version", "content_hash")
    }
    newest: dict[tuple[int, str], OfferContent] = {}
    for content in OfferContent.objects.filter(offer_id__in=offer_ids).order_by("version"):
        if (content.pk, content.version, content.content_hash) in approved:
            newest[(content.offer_id, content.channel)] = content
    return newest


def _prior_counts(offer_ids: list[int]) -> dict[int, tuple[int, int]]:
    rows = (
        Response.objects.filter(offer_id__in=offer_ids)
        .exclude(outcome=Outcome.IMPRESSION)
        .values("offer_id")
        .annotate(presented=Count("id"), accepted=Count("id", filter=Q(outcome=Outcome.ACCEPT)))
    )
    return {row["offer_id"]: (row["presented"], row["accepted"]) for row in rows}


def _deliverable_channels(campaign: Campaign) -> tuple[str, ...]:
    """Inbound campaigns answer present customers; the others queue outbound messages."""
    wanted = INBOUND if campaign.kind == CampaignKind.INBOUND else OUTBOUND
    return tuple(channel for channel in campaign.channels or () if channel in wanted)


def _in_window(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    return (start is None or start <= now) and (end is None or now < end)


def _next_boundary(moments: list[datetime | None], now: datetime, default: datetime) -> datetime:
    upcoming = [moment for moment in moments if moment is not None and moment > now]
    return min([*upcoming, default])


def build(
    now: datetime | None = None, *, extra_campaign_ids: frozenset[int] = frozenset()
) -> LoadedSnapshot:
    """Read everything the engine needs in a handful of queries and compile it.

    ``extra_campaign_ids`` adds campaigns whatever their status, as shadows that release
    nothing: how a simulation evaluates a draft with the same engine code.
    """
    now = now or timezone.now()
    snapshot_rebuilt()
    catalog_version = current_catalog_version()
    campaigns = list(
        Campaign.objects.filter(
            Q(status=CampaignStatus.RUNNING)
            | Q(shadow_mode=True, status__in=SHADOW_STATUSES)
            | Q(pk__in=extra_campaign_ids)
        ).prefetch_related("campaign_offers")
    )
    boundaries: list[datetime | None] = []
    live = []
    for campaign in campaigns:
        boundaries += [campaign.starts_at, campaign.ends_at]
        if _in_window(campaign.starts_at, campaign.ends_at, now):
            live.append(campaign)

    offer_ids = sorted({entry.offer_id for c in live for entry in c.campaign_offers.all()})
    offers = list(Offer.objects.filter(pk__in=offer_ids).select_related("product"))
    contents = _approved_contents(offer_ids)
    targeting = approved_targeting(offer_ids=offer_ids)
    priors = _prior_counts(offer_ids)

    code_by_id = {offer.pk: offer.code for offer in offers}
    # Every catalog product, not only those on offer: a held product's family must be
    # known to keep the rest of that family from being offered.
    products: dict[str, ProductSpec] = {
        product.code: ProductSpec(
            code=product.code,
            name=product.name,
            family=product.family,
            annual_value=float(product.annual_value),
            is_credit=product.is_credit,
        )
        for product in Product.objects.all()
    }
    offer_specs: list[OfferSpec] = []
    content_ids: dict[tuple[str, str, int], int] = {}
    by_offer: dict[int, dict[str, ContentSpec]] = defaultdict(dict)
    for (offer_id, channel), content in contents.items():
        code = code_by_id[offer_id]
        by_offer[offer_id][channel] = ContentSpec(
            offer_code=code,
            channel=channel,
            version=content.version,
            content_hash=content.content_hash,
            headline=content.headline,
            body=content.body,
            call_to_action=content.call_to_action,
            disclosure=content.disclosure,
        )
        content_ids[(code, channel, content.version)] = content.pk

    for offer in offers:
        product = offer.product
        boundaries += [offer.valid_from, offer.valid_until]
        presented, accepted = priors.get(offer.pk, (0, 0))
        # The offer row carries the approved targeting (``offers.models.OfferTargeting``);
        # one that does not hash to an approved version is never released.
        status = offer.status
        if not targeting_in_force_is_approved(offer, targeting):
            status = TARGETING_NOT_APPROVED
            if offer.status == OfferStatus.ACTIVE:
                logger.warning(
                    "offer %s: targeting v%s is not an approved version; nothing is released "
                    "under it",
                    offer.code,
                    offer.targeting_version,
                )
        offer_specs.append(
            OfferSpec(
                code=offer.code,
                product=products[product.code],
                kind=offer.kind,
                status=status,
                valid_from=offer.valid_from,
                valid_until=offer.valid_until,
                eligibility=_rule(offer.eligibility_rule, f"offer {offer.code}"),
                lever=float(offer.lever),
                cooldown_days=offer.cooldown_days,
                trigger_weights={k: float(v) for k, v in (offer.trigger_weights or {}).items()},
                value=float(offer.value) if offer.value is not None else None,
                prior_presented=presented,
                prior_accepted=accepted,
                contents=by_offer.get(offer.pk, {}),
            )
        )

    campaign_specs = [
        CampaignSpec(
            id=campaign.pk,
            code=campaign.code,
            name=campaign.name,
            status="running" if campaign.status == CampaignStatus.RUNNING else campaign.status,
            kind=campaign.kind,
            offers=tuple(
                CampaignOffer(
                    offer_code=code_by_id[entry.offer_id], arm=entry.arm, weight=float(entry.weight)
                )
                for entry in sorted(campaign.campaign_offers.all(), key=lambda e: e.offer_id)
            ),
            audience=_rule(campaign.audience_rule, f"campaign {campaign.code}"),
            trigger_event_types=frozenset(campaign.trigger_event_types or ()),
            triggers=trigger_specs(campaign),
            channels=_deliverable_channels(campaign),
            control_group_pct=float(campaign.control_group_pct),
            daily_volume_limit=campaign.daily_volume_limit,
            per_customer_cap=campaign.per_customer_cap,
            priority=campaign.priority,
            shadow=campaign.status != CampaignStatus.RUNNING,
        )
        for campaign in live
    ]

    product_codes = set(products)
    models = [
        ModelSpec(
            product_code=row.product.code,
            version=str(row.version),
            feature_names=tuple(row.feature_names),
            coefficients=tuple(float(c) for c in row.coefficients),
            intercept=row.intercept,
            calibration_a=float(row.calibration.get("a", 1.0)),
            calibration_b=float(row.calibration.get("b", 0.0)),
        )
        for row in PropensityModel.objects.filter(status=ModelStatus.ACTIVE).select_related(
            "product"
        )
        if row.product.code in product_codes
    ]

    engine = build_snapshot(
        version=f"catalog-{catalog_version}",
        products=products.values(),
        offers=offer_specs,
        campaigns=campaign_specs,
        policy=active_policy_spec(),
        models=models,
    )
    return LoadedSnapshot(
        engine=engine,
        catalog_version=catalog_version,
        built_at=now,
        valid_until=_next_boundary(boundaries, now, now + MAX_AGE),
        offer_ids={offer.code: offer.pk for offer in offers},
        content_ids=content_ids,
        absence={
            campaign.pk: (campaign.absence_event_type, campaign.absence_days)
            for campaign in live
            if campaign.absence_event_type and campaign.absence_days
        },
    )


class SnapshotCache:
    """Per process: one version check per decision, a rebuild only when needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: LoadedSnapshot | None = None

    def get(self, now: datetime | None = None) -> LoadedSnapshot:
        now = now or timezone.now()
        loaded = self._loaded
        if loaded is not None and self.is_current(loaded, current_catalog_version(), now):
            return loaded
        with self._lock:
            loaded = build(now)
            self._loaded = loaded
            return loaded

    def peek(self, now: datetime | None = None) -> LoadedSnapshot:
        """The cached snapshot without a version check (the caller checks the version it
        read in its own query with ``is_current``); builds one if there is none."""
        return self._loaded or self.get(now)

    @staticmethod
    def is_current(loaded: LoadedSnapshot, catalog_version: int, now: datetime) -> bool:
        return (
            loaded.catalog_version == catalog_version
            and loaded.built_at <= now < loaded.valid_until
        )

    def clear(self) -> None:
        self._loaded = None


snapshots = SnapshotCache()


def current_snapshot(now: datetime | None = None) -> LoadedSnapshot:
    return snapshots.get(now)
