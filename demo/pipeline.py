"""The steps of ``manage.py demo``, run in order, then a summary.

Adding a step (run the weekly batch campaign, replay demo events through the real-time
campaigns, verify the audit ledger, ...) is two lines: a function taking the
``DemoContext``, and a ``DemoStep`` for it in ``DEMO_STEPS`` at the place it belongs::

    def run_weekly_batch(ctx: DemoContext) -> None:
        campaign = Campaign.objects.get(code="BATCH_WEEKLY_CROSS_SELL")
        with ctx.progress(Customer.objects.count(), "Weekly batch", unit="customers") as bar:
            run = campaign_run_batch(..., on_progress=bar.update)
        ctx.report("Weekly batch run", [f"{run.processed_customers:,} customers decided"])

    DEMO_STEPS.insert(2, DemoStep("Run the weekly batch campaign", run_weekly_batch))

A step reads the options (``ctx.options``) and what seeding did (``ctx.seed_result``,
None when the bank was already there), draws progress on stderr with ``ctx.progress``,
writes a line with ``ctx.say`` and adds a section to the final summary with
``ctx.report``. It raises ``CommandError`` to stop the demo with a message.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from core.exceptions import ApplicationError
from customers.models import Customer
from demo import outcomes, seams
from demo.people import DEMO_LOGINS
from demo.progress import progress_bar
from demo.seed import SeedOptions, SeedResult, seed_demo_bank
from demo.summary import bank_summary, format_bank_summary


@dataclass(frozen=True, slots=True)
class DemoOptions:
    customers: int
    seed: int
    as_of: datetime.date
    serve: bool = True
    port: int = 8000
    show_progress: bool = True


@dataclass(slots=True)
class DemoContext:
    options: DemoOptions
    stdout: Any  # the command's OutputWrapper: one line per write
    stderr: Any  # a plain stream for progress bars (see demo.progress.CommandStream)
    seed_result: SeedResult | None = None
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.stdout.write(line)

    def progress(self, total: int, label: str, *, unit: str = "it") -> tqdm:
        """A progress bar on stderr; use as a context manager and call ``update(n)``."""
        stream = self.stderr if self.options.show_progress else None
        return progress_bar(total, label, stream, unit=unit)

    def report(self, title: str, lines: list[str]) -> None:
        """Add a section to the summary printed after the last step."""
        self.sections.append((title, lines))


@dataclass(frozen=True, slots=True)
class DemoStep:
    title: str
    run: Callable[[DemoContext], None]


def migrate(ctx: DemoContext) -> None:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not pending:
        ctx.say("  database up to date")
        return
    ctx.say(f"  applying {len(pending)} migrations to {connection.settings_dict['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)


def seed_if_empty(ctx: DemoContext) -> None:
    customers = Customer.objects.count()
    if customers:
        ctx.say(f"  the bank already has {customers:,} customers: not seeding again")
        return
    options = SeedOptions(
        customers=ctx.options.customers, seed=ctx.options.seed, as_of=ctx.options.as_of
    )
    try:
        result = seed_demo_bank(options, progress=ctx.stderr if ctx.options.show_progress else None)
    except ApplicationError as exc:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
        raise CommandError(f"{exc.message} {details}".strip()) from exc
    ctx.seed_result = result
    rows = sum(result.rows.values())
    ctx.say(
        f"  seeded {options.customers:,} customers (seed {options.seed}, as of "
        f"{options.as_of.isoformat()}): {rows:,} rows in {result.seconds:.1f}s"
    )


def train_models(ctx: DemoContext) -> None:
    from decisioning.learning.registry import describe, models_train_all

    outcome = models_train_all(actor=DEMO_ACTOR)
    trained = {code: m for code, m in outcome.items() if not isinstance(m, str)}
    active = sum(1 for m in trained.values() if m.status == "active")
    ctx.say(
        f"  {len(trained)} of {len(outcome)} products trained, {active} active "
        "(logistic regression and gradient-boosted trees, the better on held-out data)"
    )
    ctx.report(
        "Propensity models (held-out ROC AUC and Brier; base rates 3-14%)",
        [f"{code}: {describe(m)}" for code, m in trained.items()] or ["none"],
    )


def run_weekly_batch(ctx: DemoContext) -> None:
    from campaigns.models import Campaign
    from decisioning.runs.batch import campaign_run_start, run_chunk_execute

    campaign = Campaign.objects.filter(code=WEEKLY_BATCH, status="running").first()
    if campaign is None:
        ctx.say(f"  {WEEKLY_BATCH} is not running: skipped")
        return
    run = campaign_run_start(actor=DEMO_ACTOR, campaign=campaign, dispatch=False, chunk_size=5_000)
    with ctx.progress(run.total_customers, "Weekly batch", unit="customers") as bar:
        for chunk in run.chunks.order_by("first_customer_id"):
            run_chunk_execute(chunk_pk=chunk.pk)
            bar.update(chunk.customers)
    run.refresh_from_db()
    counts = ", ".join(
        f"{k} {v:,}" for k, v in sorted(run.outcome_counts.items(), key=lambda i: -i[1])
    )
    ctx.report(
        f"Weekly batch run #{run.pk} of {campaign.code} ({run.status})",
        [f"{run.processed_customers:,} customers decided", f"outcomes: {counts}"],
    )


def replay_signals(ctx: DemoContext) -> None:
    from django.utils import timezone

    from decisioning.signals.ingest import event_ingest
    from decisioning.signals.journeys import absence_triggers_fire
    from demo.activity import journey_stream, signal_stream

    # Anchored to the minute: a re-run within it replays the same events, as duplicates.
    now = timezone.now().replace(second=0, microsecond=0)
    external_ids = list(Customer.objects.order_by("pk").values_list("external_id", flat=True))
    count = min(SIGNALS, max(50, len(external_ids) // 20))
    events = journey_stream(
        seed=ctx.options.seed, external_ids=external_ids, count=count // 5, now=now
    ) + signal_stream(seed=ctx.options.seed, external_ids=external_ids, count=count, now=now)
    duplicates = 0
    with ctx.progress(len(events), "Signals", unit="events") as bar:
        for event in events:
            ingested = event_ingest(
                actor=DEMO_ACTOR,
                event_id=event.event_id,
                type=event.type,
                occurred_at=event.occurred_at,
                customer={"external_id": event.external_id},
                channel=event.channel,
                payload=event.payload,
            )
            duplicates += ingested.duplicate
            bar.update(1)
    fired = absence_triggers_fire()
    ctx.say(f"  {len(events) - duplicates:,} events decided, {fired} journeys fired on absence")


def present_customers(ctx: DemoContext) -> None:
    from decisioning.decisions.inbound import decide_inbound

    people = list(
        Customer.objects.filter(erased_at__isnull=True).order_by("pk")[
            :: max(1, Customer.objects.count() // PRESENT)
        ][:PRESENT]
    )
    channels = ("branch", "contact_center", "mobile_app", "web")
    example = None
    for index, person in enumerate(people):
        decision = decide_inbound(actor=DEMO_ACTOR, customer=person, channel=channels[index % 4])
        if example is None and decision.offers:
            example = decision
    if example is not None:
        ctx.report("An inbound decision, explained", explain(example))


def explain(decision) -> list[str]:
    lines = [f"{decision.customer.external_id} at the {decision.channel}: decision {decision.pk}"]
    for offer in decision.offers:
        factors = offer["score_factors"]
        lines.append(
            f"  #{offer['rank']} {offer['offer_code']} score {offer['score']:.2f} = propensity "
            f"{factors['propensity']:.3f} x value {factors['value']:.0f} x lever {factors['lever']:.2f} "
            f"x context {factors['context_weight']:.1f}"
        )
    for item in decision.suppressed[:6]:
        lines.append(f"  not offered: {item['offer_code']} ({item['reason']})")
    return lines


def decisions_summary(ctx: DemoContext) -> None:
    from django.db.models import Count, Q, Sum

    from decisioning.models import Decision, Message

    lines = []
    for row in (
        Decision.objects.values("mode")
        .annotate(
            n=Count("id"),
            released=Sum("offers_released"),
            held=Count("id", filter=Q(control_group=True)),
        )
        .order_by("mode")
    ):
        lines.append(
            f"{row['mode']:<8} {row['n']:>7,} decisions, {row['released'] or 0:>7,} offers released, "
            f"{row['held']:>6,} in control groups"
        )
    reasons = (
        Decision.objects.filter(offers_released=0)
        .exclude(outcome_reason__in=["released", "control_group"])
        .values("outcome_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    lines.append(
        "nothing released because: "
        + ", ".join(f"{r['outcome_reason']} {r['n']:,}" for r in reasons)
    )
    queued = Message.objects.values("channel", "status").annotate(n=Count("id")).order_by("channel")
    lines.append(
        "outbound messages: "
        + ", ".join(f"{m['channel']} {m['status']} {m['n']:,}" for m in queued)
    )
    lines.append(seams.owed_line())
    ctx.report("Decisions", lines)


def verify_audit(ctx: DemoContext) -> None:
    from ledger.sealer import seal_all_pending
    from ledger.verify import verify_ledger

    # No beat runs in the embedded demo, so seal what was appended, then verify it all.
    seal_all_pending(full_sweep=True, time_budget_seconds=120.0)
    report = verify_ledger()
    if not report.ok:
        raise CommandError(f"the audit ledger does not verify: {report.as_dict()}")
    ctx.report(
        "Audit ledger (verify_audit)",
        [
            f"ok: {report.records:,} records in {report.seals:,} seals, every hash recomputed",
            f"unsealed: {report.unsealed_records:,}",
        ],
    )


DEMO_ACTOR = "system:demo"
WEEKLY_BATCH = "BATCH_WEEKLY_CROSS_SELL"
SIGNALS = 600
PRESENT = 40

DEMO_STEPS: list[DemoStep] = [
    DemoStep("Migrate the database", migrate),
    DemoStep("Seed the demo bank (only into an empty database)", seed_if_empty),
    DemoStep("Train a propensity model per product on the response history", train_models),
    DemoStep("Run the weekly batch campaign", run_weekly_batch),
    DemoStep("Replay an hour of channel signals through the real-time campaigns", replay_signals),
    DemoStep(
        "Channel gateways lease their queues through the send-time rulebook", seams.lease_queues
    ),
    DemoStep(
        "Decide for customers present at branches, contact centre, app and web", present_customers
    ),
    DemoStep("Summarise the decisions", decisions_summary),
    DemoStep(
        "Customers answer; compute campaign results (KPIs, lift against control)",
        outcomes.campaign_results,
    ),
    DemoStep("A customer asks to be forgotten", seams.forget_a_customer),
    DemoStep("Seal and verify the audit ledger", verify_audit),
]


def run_steps(ctx: DemoContext, steps: list[DemoStep] | None = None) -> None:
    steps = DEMO_STEPS if steps is None else steps
    for number, step in enumerate(steps, 1):
        ctx.say(f"[{number}/{len(steps)}] {step.title}")
        started = time.monotonic()
        step.run(ctx)
        ctx.say(f"  done in {time.monotonic() - started:.1f}s")


def summary_lines(ctx: DemoContext) -> list[str]:
    api_keys = ctx.seed_result.api_keys if ctx.seed_result else None
    lines = format_bank_summary(bank_summary(), api_keys=api_keys)
    for title, section in ctx.sections:
        lines += ["", f"{title}:", *(f"  {line}" for line in section)]
    return lines


def login_lines(url: str) -> list[str]:
    logins = ", ".join(f"{login.username} / {login.password}" for login in DEMO_LOGINS)
    return [f"Console: {url}", f"Log in as: {logins}"]
