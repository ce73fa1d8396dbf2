"""What happens after the demo's decisions, so its campaign results have something to
measure: customers who were offered a sales product accept it with the decision's own
calibrated propensity (recorded through the channel API's service, so the accept opens
the holding), and control-group customers buy the product they would have been offered
on their own with ``ORGANIC_SHARE`` of that propensity (an organic product opening, as a
branch or the web site would record it). Lift is then measured the one way the results
measure it: the product opened within the attribution window, treated against control.

Without this the demo's decisions would be minutes old with no response and lift 0/0:
the seeded response history is months older than any decision and names none.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from core.channels import OUTBOUND
from core.exceptions import ApplicationError
from customers.services import holding_open
from decisioning.choices import MessageStatus
from decisioning.feedback.responses import response_record
from decisioning.models import Contact, Decision
from offers.choices import OfferKind
from offers.models import Offer

if TYPE_CHECKING:
    from demo.pipeline import DemoContext

# The share of the treated acceptance a held-out customer reaches unprompted.
ORGANIC_SHARE = 0.35
ACTOR = "system:demo-customers"
RESULTS_ACTOR = "system:demo"
CAMPAIGNS_SHOWN = 6


def _propensity(item: dict) -> float:
    factors = item.get("score_factors") or {}
    value = factors.get("propensity")
    return min(max(float(value), 0.0), 1.0) if isinstance(value, int | float) else 0.0


def _pages(queryset: QuerySet, size: int = 2_000) -> Iterator[Any]:
    """Rows a page at a time, each page read to the end before the caller writes: an open
    cursor would hold SQLite's read snapshot, and the first write after another connection
    (the in-process sealer) committed would fail with "database is locked"."""
    last = None
    while True:
        page = list(
            (queryset if last is None else queryset.filter(pk__gt=last)).order_by("pk")[:size]
        )
        yield from page
        if len(page) < size:
            return
        last = page[-1].pk


def customers_answer(*, seed: int, since: datetime.datetime) -> Counter[str]:
    """Accepts from treated customers and organic openings from control customers, for
    the decisions made since ``since``."""
    rng = np.random.default_rng(seed + 9_101)
    now = timezone.now()
    done: Counter[str] = Counter()
    contacts = (
        Contact.objects.filter(
            released_at__gte=since, kind=OfferKind.SALES, cancelled=False, outcome=""
        )
        .select_related("decision", "message", "offer")
        .order_by("pk")
    )
    for contact in _pages(contacts):
        if contact.channel in OUTBOUND and (
            contact.message is None or contact.message.status != MessageStatus.DELIVERED
        ):
            continue
        item = next(
            (o for o in contact.decision.offers or () if o.get("offer_code") == contact.offer.code),
            {},
        )
        if rng.random() >= _propensity(item):
            continue
        try:
            response_record(
                actor=ACTOR,
                response_id=f"demo-answer-{contact.pk}",
                offer_code=contact.offer.code,
                outcome="accept",
                occurred_at=now,
                channel=contact.channel,
                decision_id=contact.decision_id,
                message_id=contact.message_id,
                agent_id="demo-agent" if contact.channel not in OUTBOUND else "",
                now=now,
            )
            done["accepted"] += 1
        except ApplicationError:
            done["refused"] += 1
    # what a held-out decision would have offered is stored as codes (the compact
    # explanation): the offer's product and kind come from the catalog
    sales_products = dict(
        Offer.objects.filter(kind=OfferKind.SALES).values_list("code", "product__code")
    )
    held = Decision.objects.filter(
        created_at__gte=since, control_group=True, shadow=False
    ).select_related("customer")
    for decision in _pages(held):
        for item in (decision.explanation or {}).get("would_have_offered") or ():
            product_code = sales_products.get(item.get("offer_code"))
            if product_code is None:
                continue
            if rng.random() < ORGANIC_SHARE * _propensity(item):
                holding_open(
                    actor=ACTOR,
                    customer=decision.customer,
                    product_code=product_code,
                    opened_at=now.date(),
                    source="organic",
                )
                done["organic"] += 1
    return done


def campaign_results(ctx: DemoContext) -> None:
    """Customers answer, then the results are computed for the days the demo decided."""
    from results.services import bank_today, kpi_days, kpis_compute

    since = timezone.now() - datetime.timedelta(days=1)
    done = customers_answer(seed=ctx.options.seed, since=since)
    today = bank_today()
    computed = kpis_compute(
        actor=RESULTS_ACTOR,
        days=kpi_days(since=today - datetime.timedelta(days=1), until=today, days=None),
    )
    ctx.say(
        f"  {done['accepted']:,} offers accepted, {done['organic']:,} control-group customers "
        f"bought on their own; results computed for {len(computed)} day(s) in "
        f"{sum(c.seconds for c in computed):.2f}s"
    )
