"""Shared pieces of the benchmark commands: timing statistics and a 50-offer catalog.

Benchmarks print figures beside their targets and beside a floor measured in the same
run on the same machine; they never assert timings (these machines are shared).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign, CampaignOffer
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.versioning import bump_catalog_version
from core.channels import INBOUND, OUTBOUND
from offers.choices import OfferKind, OfferStatus
from offers.content_hash import content_hash
from offers.models import Offer, OfferContent, Product

BENCH_PREFIX = "BENCH_"
INBOUND_CODE = "BENCH_INBOUND"
BATCH_CODE = "BENCH_BATCH"


@dataclass(frozen=True, slots=True)
class Timing:
    samples_ms: tuple[float, ...]
    wall_s: float

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 99)

    @property
    def per_second(self) -> float:
        return len(self.samples_ms) / self.wall_s if self.wall_s else 0.0


def percentile(samples: tuple[float, ...] | list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def time_calls(call: Callable[[int], object], count: int) -> Timing:
    samples = []
    started = time.perf_counter()
    for i in range(count):
        before = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - before) * 1000)
    return Timing(tuple(samples), time.perf_counter() - started)


def _bench_user(name: str) -> User:
    user, _ = User.objects.get_or_create(username=name, defaults={"is_active": False})
    return user


@transaction.atomic
def install_bench_catalog(offer_count: int = 50) -> tuple[Campaign, Campaign]:
    """50 running offers over the bank's products, each with approved content on every
    channel, in one inbound and one batch campaign. Idempotent."""
    existing = Campaign.objects.filter(code__in=[INBOUND_CODE, BATCH_CODE])
    if existing.count() == 2:
        return Campaign.objects.get(code=INBOUND_CODE), Campaign.objects.get(code=BATCH_CODE)
    products = list(Product.objects.order_by("code"))
    if not products:
        raise RuntimeError("the bench needs the bank's products: run seed_demo first")
    maker, checker = _bench_user("bench-maker"), _bench_user("bench-checker")
    offers = []
    for i in range(offer_count):
        product = products[i % len(products)]
        rule = "age >= 18 and attributes.salary > 800" if i % 2 else "tenure_months >= 3"
        offer, _ = Offer.objects.get_or_create(
            code=f"{BENCH_PREFIX}{i:02d}",
            defaults={
                "product": product,
                "name": f"Bench offer {i:02d} ({product.name})",
                "kind": OfferKind.SALES,
                "status": OfferStatus.ACTIVE,
                "eligibility_rule": rule,
                "lever": Decimal("1.0") + Decimal(i % 5) / 10,
                "trigger_weights": {},
            },
        )
        offers.append(offer)
        for channel in sorted(INBOUND | OUTBOUND):
            words = {
                "headline": offer.name,
                "body": f"{offer.name}. Reply STOP to opt out.",
                "call_to_action": "Find out more",
                "disclosure": "Representative 9.9% APR." if product.is_credit else "",
            }
            content, created = OfferContent.objects.get_or_create(
                offer=offer,
                channel=channel,
                version=1,
                defaults={
                    **words,
                    "content_hash": content_hash(
                        offer_code=offer.code, channel=channel, version=1, **words
                    ),
                },
            )
            if created:
                ApprovalRequest.objects.create(
                    subject_type=ApprovalSubject.OFFER_CONTENT,
                    subject_id=content.pk,
                    subject_version=1,
                    content_hash=content.content_hash,
                    subject_repr=str(content),
                    status=ApprovalStatus.APPROVED,
                    submitted_by=maker,
                    decided_by=checker,
                )
    inbound, _ = Campaign.objects.get_or_create(
        code=INBOUND_CODE,
        defaults={
            "name": "Benchmark inbound next best offer",
            "kind": CampaignKind.INBOUND,
            "status": CampaignStatus.RUNNING,
            "channels": ["branch", "contact_center", "mobile_app", "web"],
            "control_group_pct": Decimal("10"),
        },
    )
    batch, _ = Campaign.objects.get_or_create(
        code=BATCH_CODE,
        defaults={
            "name": "Benchmark batch campaign",
            "kind": CampaignKind.BATCH,
            "status": CampaignStatus.RUNNING,
            "channels": ["email", "sms", "push"],
            "control_group_pct": Decimal("10"),
        },
    )
    for campaign in (inbound, batch):
        CampaignOffer.objects.bulk_create(
            [CampaignOffer(campaign=campaign, offer=offer) for offer in offers],
            ignore_conflicts=True,
        )
    bump_catalog_version()
    return inbound, batch


def pause_other_campaigns() -> int:
    """The bench measures its own 50 offers; the bank's campaigns are paused for it."""
    paused = (
        Campaign.objects.filter(status=CampaignStatus.RUNNING)
        .exclude(code__in=[INBOUND_CODE, BATCH_CODE])
        .update(status=CampaignStatus.PAUSED)
    )
    bump_catalog_version()
    return paused
