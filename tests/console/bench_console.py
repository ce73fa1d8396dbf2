"""Console page benchmark (not a test): server time of the hot pages with many decisions.

    DATABASE_URL=... python -m tests.console.bench_console [decisions] [--keep]

``--keep`` keeps the benchmark database and reuses it on the next ``--keep`` run.

Builds a throw-away database (``test_<name>`` through Django's test runner machinery),
stores N decisions (default 1,000,000) over 100,000 customers and 20 campaigns in bulk,
then times each hot console page in-process (the median of 15 requests after 3 warm-ups,
which is the server time without the network) and prints its query count. The DESIGN.md
target is <= 100 ms per page. The figures are reported, never asserted.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crosssell.settings.test")
django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
)

CUSTOMERS = 100_000
CAMPAIGNS = 20
OUTCOMES = ("released", "no_consent", "holds_product", "control_group", "not_in_audience")


def _seed(decisions: int) -> dict:
    from campaigns.models import Campaign
    from customers.models import Customer
    from customers.pseudonyms import pseudonym_for
    from decisioning.models import Decision
    from tests.factories import persona

    print(f"seeding {CUSTOMERS:,} customers, {CAMPAIGNS} campaigns, {decisions:,} decisions ...")
    started = time.perf_counter()
    Customer.objects.bulk_create(
        (
            Customer(external_id=f"B{i:07d}", pseudonym=pseudonym_for(f"B{i:07d}"), region="Lisbon")
            for i in range(CUSTOMERS)
        ),
        batch_size=10_000,
    )
    customer_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    campaigns = [
        Campaign.objects.create(
            code=f"BENCH_{c}", name=f"Bench {c}", kind="batch", channels=["sms"]
        )
        for c in range(CAMPAIGNS)
    ]
    now = datetime.datetime.now(datetime.UTC)
    explanation = {
        "mode": "batch",
        "campaign": "BENCH",
        "outcome": "released",
        "arm": "A",
        "in_audience": True,
        "control_group": False,
        "policy_version": 1,
        "snapshot_version": "catalog-1",
        "model_versions": {},
    }
    offers = [
        {
            "rank": 1,
            "offer_code": "OFFER_1",
            "channel": "sms",
            "score": 1.5,
            "score_factors": {"propensity": 0.1, "value": 15.0, "lever": 1.0},
        }
    ]
    batch: list[Decision] = []
    for index in range(decisions):
        outcome = OUTCOMES[index % len(OUTCOMES)]
        batch.append(
            Decision(
                id=uuid.uuid4(),
                customer_id=customer_ids[index % CUSTOMERS],
                mode="batch",
                channel="sms" if index % 3 else "",
                campaign=campaigns[index % CAMPAIGNS],
                # ~1,000 decisions a second, the newest now: about 11 days in all.
                created_at=now - datetime.timedelta(milliseconds=index),
                control_group=outcome == "control_group",
                offers_released=1 if outcome == "released" else 0,
                top_offer_code="OFFER_1" if outcome == "released" else "",
                outcome_reason=outcome,
                snapshot_version="catalog-1",
                policy_version=1,
                offers=offers if outcome == "released" else [],
                explanation=explanation,
            )
        )
        if len(batch) == 20_000:
            Decision.objects.bulk_create(batch)
            batch = []
            if index % 200_000 < 20_000:
                print(f"  {index + 1:,} decisions ({time.perf_counter() - started:.0f} s)")
    Decision.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s")
    return {
        "analyst": persona("analyst", "analyst"),
        "compliance": persona("checker", "compliance"),
        "marketer": persona("maker", "marketer"),
        "campaign": campaigns[3],
        "customer": Customer.objects.get(pk=customer_ids[4242]),
        "decision": Decision.objects.order_by("-created_at").first(),
    }


def _has_decisions(decisions: int) -> bool:
    from decisioning.models import Decision

    return Decision.objects.count() >= decisions


def _existing() -> dict:
    """Reuse a database seeded by an earlier ``--keep`` run."""
    from django.contrib.auth.models import User

    from campaigns.models import Campaign
    from customers.models import Customer
    from decisioning.models import Decision

    print("reusing the seeded database (--keep)")
    return {
        "analyst": User.objects.get(username="analyst"),
        "compliance": User.objects.get(username="checker"),
        "marketer": User.objects.get(username="maker"),
        "campaign": Campaign.objects.get(code="BENCH_3"),
        "customer": Customer.objects.order_by("pk")[4242],
        "decision": Decision.objects.order_by("-created_at").first(),
    }


def _time(client, url: str, *, cold: bool = True) -> tuple[float, int, int]:
    """Median server time; ``cold`` clears the cache before each request."""
    for _ in range(3):
        client.get(url)
    samples = []
    for _ in range(15):
        if cold:
            cache.clear()
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        if cold:
            cache.clear()
        client.get(url)
    return statistics.median(samples), len(queries), response.status_code


def main() -> None:
    decisions = int(next((a for a in sys.argv[1:] if a.isdigit()), 1_000_000))
    from django.conf import settings
    from django.test import Client
    from django.test.utils import get_runner
    from django.urls import reverse

    setup_test_environment()
    runner = get_runner(settings)(verbosity=0, interactive=False, keepdb="--keep" in sys.argv)
    old = runner.setup_databases()
    try:
        data = _existing() if "--keep" in sys.argv and _has_decisions(decisions) else None
        data = data or _seed(decisions)
        client = Client()
        oldest_cursor = None
        pages = [
            ("home (analyst), first request of the day", "analyst", reverse("home")),
            ("home (analyst), steady state", "analyst", reverse("home")),
            ("decision ledger", "analyst", reverse("decisioning:decision_list")),
            (
                "decision ledger, campaign filter",
                "analyst",
                reverse("decisioning:decision_list") + f"?campaign={data['campaign'].pk}",
            ),
            (
                "decision ledger, channel filter (unindexed)",
                "analyst",
                reverse("decisioning:decision_list") + "?channel=sms",
            ),
            (
                "decision ledger, campaign + channel + outcome",
                "analyst",
                reverse("decisioning:decision_list")
                + f"?campaign={data['campaign'].pk}&channel=sms&outcome=no_consent",
            ),
            (
                "decision ledger, one customer",
                "analyst",
                reverse("decisioning:decision_list") + f"?customer={data['customer'].external_id}",
            ),
            (
                "decision detail",
                "analyst",
                reverse("decisioning:decision_detail", args=[data["decision"].pk]),
            ),
            (
                "customer 360",
                "compliance",
                reverse("decisioning:customer_360", args=[data["customer"].external_id]),
            ),
            ("campaign list", "marketer", reverse("campaigns:campaign_list")),
        ]
        print(f"\n{'page':48} {'median ms':>10} {'queries':>8}  status")
        for name, role, url in pages:
            client.force_login(data[role])
            median, count, status = _time(client, url, cold="steady" not in name)
            print(f"{name:48} {median:10.1f} {count:8d}  {status}")
            if name == "decision ledger":
                page = client.get(url).context["page"]
                oldest_cursor = page.older
        # Deep paging: 200 pages back, then time the next page from there.
        client.force_login(data["analyst"])
        cursor = oldest_cursor
        for _ in range(200):
            cursor = (
                client.get(reverse("decisioning:decision_list"), {"before": cursor})
                .context["page"]
                .older
            )
        url = reverse("decisioning:decision_list") + f"?before={cursor}"
        median, count, status = _time(client, url)
        print(f"{'decision ledger, 200 pages deep':48} {median:10.1f} {count:8d}  {status}")
        print(f"\n{connection.vendor}, {decisions:,} decisions")
    finally:
        if "--keep" not in sys.argv:
            runner.teardown_databases(old)


if __name__ == "__main__":
    main()
