"""``manage.py bench_console`` on a tiny seeded bank: every console page it times answers
200 to the login it chose (timings are printed, never checked)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from campaigns.models import Campaign
from customers.models import Customer
from decisioning.decisions.inbound import decide_inbound
from decisioning.learning.registry import model_train
from decisioning.runs.batch import campaign_run_start, run_chunk_execute
from demo.management.commands.bench_console import measure
from demo.seed import SeedOptions, seed_demo_bank
from offers.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank_with_decisions():
    seed_demo_bank(SeedOptions(customers=800, seed=5, as_of=datetime.date(2025, 6, 1)))
    run = campaign_run_start(
        actor="system:test",
        campaign=Campaign.objects.get(code="BATCH_WEEKLY_CROSS_SELL"),
        dispatch=False,
    )
    for chunk in run.chunks.all():
        run_chunk_execute(chunk_pk=chunk.pk)
    for customer in Customer.objects.order_by("pk")[:3]:
        decide_inbound(actor="api:web", customer=customer, channel="web")
    busiest = Product.objects.annotate(answers=Count("offers__responses")).order_by("-answers")
    model_train(actor="system:test", product=busiest.first())


def test_bench_console_times_every_page_and_each_answers_200(bank_with_decisions):
    floor, timings, skipped, objects = measure(warm=0, repeat=1)
    assert floor.status == 200 and floor.login is None
    assert skipped == []
    names = {timing.page.name for timing in timings}
    for page in ("dashboard (home)", "health", "approval queue (any status)", "models"):
        assert page in names
    assert any(name.startswith("Customer 360") for name in names)
    assert any(name.startswith("decision detail (batch") for name in names)
    assert any(name.startswith("model detail") for name in names)
    refused = [(t.page.name, t.page.url, t.login, t.status) for t in timings if t.status != 200]
    assert refused == []
    assert objects["customer"][1] >= 2  # the busiest customer: a batch and an inbound decision
    # the command prints them, each beside the floor
    out = io.StringIO()
    call_command("bench_console", repeat=1, warm=0, stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "floor: sign-in page (anonymous)" in text
    assert "Customer 360" in text and "; not 200: 0" in text
