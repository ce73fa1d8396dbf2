"""``manage.py bench_engine``: decision speed against DESIGN.md's targets.

Prints, each beside its target and a floor measured in the same run:
- single inbound decisions (p50, p99, decisions/s) with 50 running offers, engine only
  and through the full service (context load + engine + store + audit), beside a
  one-row indexed lookup;
- a batch run over every customer end to end (customers/s), beside a plain NumPy
  scoring pass over the same arrays, and per chunk stored the wall time, the worker's
  CPU and its PostgreSQL backend's CPU (read from /proc when the server is on this
  machine) of each stage: load + decide, build the rows, COPY + key checks;
- with a broker and a worker: signal to queued message through Redis (p50, p95), beside a
  task that writes one row through the same broker and worker.

It seeds the bank when the database is empty, adds a 50-offer benchmark catalog and
pauses the bank's other campaigns: run it on a benchmark database.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
import uuid
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign, CampaignOffer, CampaignRun
from compliance.versioning import bump_catalog_version
from customers.models import Customer
from decisioning import engine
from decisioning.decisions.inbound import context_for, decide_inbound
from decisioning.decisions.snapshots import current_snapshot
from decisioning.models import Decision, Message
from decisioning.runs import batch
from decisioning.runs.batch import campaign_run_start
from decisioning.signals.ingest import event_ingest
from demo.benchmarks import (
    BENCH_PREFIX,
    Timing,
    install_bench_catalog,
    pause_other_campaigns,
    percentile,
    time_calls,
)
from demo.progress import CommandStream, progress_bar
from offers.models import Offer

REALTIME_CODE = "BENCH_REALTIME"
WARM = 20
SIGNAL_TIMEOUT_S = 5.0


def _wait_for_row(sql: str, param: object, started: float) -> float | None:
    """Milliseconds from ``started`` until ``sql`` finds its committed row (polled every
    millisecond), or None after SIGNAL_TIMEOUT_S."""
    deadline = started + SIGNAL_TIMEOUT_S
    with connection.cursor() as cursor:
        while time.perf_counter() < deadline:
            cursor.execute(sql, [param])
            if cursor.fetchone():
                return (time.perf_counter() - started) * 1000
            time.sleep(0.001)
    return None


CHUNK_STAGES = ("load + decide", "build the rows", "COPY + key checks", "chunk total")
_TICKS = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) of the PostgreSQL backend ``pid`` from /proc, or None
    when the server is not on this machine (or not readable)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class _ChunkStages:
    """Wall, this process's CPU and its PostgreSQL backend's CPU by stage of each chunk
    stored: the stages are the batch module's own functions, wrapped in this worker
    process only (it exits when its chunks are done)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.current: dict[str, list[float | None]] = {}

    def _clock(self) -> tuple[float, float, float | None]:
        return time.perf_counter(), time.process_time(), _backend_cpu(self.pid)

    def _add(self, stage: str, start: tuple[float, float, float | None]) -> None:
        end = self._clock()
        pg = end[2] - start[2] if end[2] is not None and start[2] is not None else None
        self.current[stage] = [end[0] - start[0], end[1] - start[1], pg]

    def timed(self, stage: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = self._clock()
            try:
                return function(*args, **kwargs)
            finally:
                self._add(stage, start)

        return wrapper

    def install(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
        from_result = batch.StoredBatch.from_result.__func__  # type: ignore[attr-defined]
        batch.evaluate_range = self.timed(CHUNK_STAGES[0], batch.evaluate_range)
        batch.StoredBatch.from_result = classmethod(self.timed(CHUNK_STAGES[1], from_result))
        batch.StoredBatch.write = self.timed(CHUNK_STAGES[2], batch.StoredBatch.write)

    def run(self, chunk_pk: int) -> dict[str, list[float | None]] | None:
        self.current = {}
        start = self._clock()
        stored = batch.run_chunk_execute(chunk_pk=chunk_pk)
        self._add(CHUNK_STAGES[3], start)
        return self.current if stored else None


def _drained(stages: Any, *, wait: float) -> list[Any]:
    """What the workers have put on ``stages`` so far (waiting up to ``wait`` s for each)."""
    items = []
    while True:
        try:
            items.append(stages.get(timeout=wait) if wait else stages.get_nowait())
        except queue.Empty:
            return items


def _run_chunks(chunk_pks: list[int], stages: Any) -> None:
    """One worker process: walk every chunk in order and store each one no other worker
    has claimed (a claimed or finished chunk is skipped at once), so the processes share
    the chunks as a queue, each with its own connection. Each chunk's stage times go to
    the ``stages`` queue."""
    import django

    django.setup()
    timer = _ChunkStages()
    timer.install()
    for chunk_pk in chunk_pks:
        timed = timer.run(chunk_pk)
        if timed is not None:
            stages.put(timed)


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=100_000, help="seed this many when empty"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--decisions", type=int, default=2_000, help="single decisions to time")
        parser.add_argument("--skip-batch", action="store_true")
        parser.add_argument("--workers", type=int, default=2, help="processes for the batch run")
        parser.add_argument("--chunk-size", type=int, default=50_000)
        parser.add_argument("--signals", type=int, default=200, help="events for the latency run")
        parser.add_argument("--allow-sqlite", action="store_true")

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql" and not opts["allow_sqlite"]:
            raise CommandError(
                "bench_engine measures PostgreSQL: set DATABASE_URL=postgres://... "
                "(or pass --allow-sqlite for a rough local figure)"
            )
        call_command("migrate", verbosity=0)
        if not Customer.objects.exists():
            self.stderr.write(f"Seeding {opts['customers']:,} customers...")
            call_command("seed_demo", customers=opts["customers"], seed=opts["seed"])
        _inbound, batch = install_bench_catalog()
        paused = pause_other_campaigns()
        customers = Customer.objects.count()
        offers = Offer.objects.filter(code__startswith=BENCH_PREFIX).count()
        self.line(
            f"database: {connection.vendor}; customers: {customers:,}; running bench offers: "
            f"{offers}; other campaigns paused: {paused}; cores: {multiprocessing.cpu_count()}"
        )
        self.single_decisions(opts["decisions"])
        if not opts["skip_batch"]:
            self.batch_run(batch, opts["workers"], opts["chunk_size"])
        self.signal_latency(opts["signals"])

    def line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def report(self, name: str, timing: Timing, target: str) -> None:
        self.line(
            f"  {name:<38} p50 {timing.p50:7.2f} ms  p99 {timing.p99:7.2f} ms  "
            f"{timing.per_second:8.0f}/s   {target}"
        )

    # --- single decisions ----------------------------------------------------------------

    def single_decisions(self, count: int) -> None:
        rng = np.random.default_rng(7)
        ids = np.array(Customer.objects.values_list("external_id", flat=True))
        sample = [str(x) for x in rng.choice(ids, size=min(count, len(ids)), replace=False)]
        self.line(f"\nSingle inbound decisions over {len(sample):,} random customers, 50 offers:")

        floor = time_calls(
            lambda i: (
                Customer.objects.filter(external_id=sample[i]).values_list("pk", flat=True).first()
            ),
            len(sample),
        )
        self.report("floor: one-row indexed lookup", floor, "(the floor)")

        now = timezone.now()
        loaded = current_snapshot(now)
        people = {c.external_id: c for c in Customer.objects.filter(external_id__in=sample)}
        contexts = [context_for(loaded, people[x], now) for x in sample]
        request = engine.DecisionRequest(mode="inbound", now=now, channel="branch")
        pure = time_calls(lambda i: engine.decide(loaded.engine, contexts[i], request), len(sample))
        self.report("engine only (decide over a snapshot)", pure, "")

        context = time_calls(lambda i: context_for(loaded, people[sample[i]], now), len(sample))
        self.report("customer context load (queries)", context, "")

        def full(i: int) -> None:
            customer = Customer.objects.get(external_id=sample[i])
            decide_inbound(actor="system:bench", customer=customer, channel="branch")

        service = time_calls(full, len(sample))
        self.report(
            "full service (lookup+context+decide+store)",
            service,
            f"target p50 <= 5 ms, p99 <= 20 ms, within 2x floor: "
            f"{service.p50 / floor.p50:.1f}x floor",
        )

    # --- batch ---------------------------------------------------------------------------

    def numpy_floor(self) -> float:
        rows = np.array(
            Customer.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64
        )
        size = len(rows)
        rng = np.random.default_rng(1)
        features = rng.normal(size=(size, 8)).astype(np.float64)
        weights = rng.normal(size=(8, 50))
        value_lever = rng.uniform(50, 500, size=50)
        started = time.perf_counter()
        scores = 1.0 / (1.0 + np.exp(-(features @ weights))) * value_lever
        scores.argmax(axis=1)
        return time.perf_counter() - started

    def batch_run(self, campaign: Campaign, workers: int, chunk_size: int) -> None:
        floor = self.numpy_floor()
        run = campaign_run_start(
            actor="system:bench", campaign=campaign, chunk_size=chunk_size, dispatch=False
        )
        chunks = list(run.chunks.order_by("first_customer_id").values_list("pk", flat=True))
        self.line(
            f"\nBatch run over {run.total_customers:,} customers in {len(chunks)} chunks, "
            f"{workers} processes:"
        )
        connections.close_all()
        started = time.perf_counter()
        context = multiprocessing.get_context("fork")
        stages = context.Queue()
        processes = [
            context.Process(target=_run_chunks, args=(chunks, stages)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        timed: list[dict[str, list[float | None]]] = []
        with progress_bar(
            run.total_customers, "  batch", CommandStream(self.stderr), unit="customers"
        ) as bar:
            while any(p.is_alive() for p in processes):
                time.sleep(0.5)
                timed.extend(_drained(stages, wait=0.0))
                done = CampaignRun.objects.values_list("processed_customers", flat=True).get(
                    pk=run.pk
                )
                bar.update(done - bar.n)
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        timed.extend(_drained(stages, wait=0.2))
        load = os.getloadavg()[0]
        if connection.vendor == "postgresql":
            # The tables just grew by the run: counted below on statistics that say so (a
            # plan made for the empty tables of before the run nests loops over them all).
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE decisioning_decision, decisioning_message, decisioning_contact"
                )
        run.refresh_from_db()
        stored = Decision.objects.filter(run=run).count()
        messages = Message.objects.filter(decision__run=run).count()
        self.line(
            f"  end to end: {elapsed:6.1f} s  {run.processed_customers / elapsed:9.0f} customers/s  "
            f"status {run.status}, {stored:,} decisions and {messages:,} messages stored   "
            f"target: 1,000,000 in <= 30 s"
        )
        self.line(f"  floor: plain NumPy scoring pass (customers x 50 offers): {floor:6.2f} s")
        self.line(f"  outcomes: {run.outcome_counts}")
        self.line(f"  machine load average (1 min) at the end: {load:.1f}")
        self.chunk_stages(timed)

    def chunk_stages(self, timed: list[dict[str, list[float | None]]]) -> None:
        """Per chunk stored: the median and max of each stage's wall time, this worker's
        CPU and its PostgreSQL backend's CPU (when the server runs on this machine)."""
        if not timed:
            return
        self.line(
            f"  per chunk ({len(timed)} stored), median / max:"
            f"{'wall s':>20}{'Python CPU s':>22}{'PostgreSQL CPU s':>22}"
        )
        for stage in CHUNK_STAGES:
            cells = []
            for at in range(3):
                values = [t[stage][at] for t in timed if stage in t and t[stage][at] is not None]
                cells.append(
                    f"{percentile(values, 50):7.2f} / {max(values):7.2f}" if values else "-"
                )
            self.line(f"    {stage:<30}{cells[0]:>20}{cells[1]:>22}{cells[2]:>22}")

    # --- signal to queued decision -------------------------------------------------------

    def signal_latency(self, count: int) -> None:
        from crosssell.celery import app

        if not settings.CELERY_BROKER_URL or not app.control.ping(timeout=1.0):
            self.line(
                "\nSignal to queued message: skipped (needs CELERY_BROKER_URL and a running worker)"
            )
            return
        campaign, _ = Campaign.objects.get_or_create(
            code=REALTIME_CODE,
            defaults={
                "name": "Benchmark real-time campaign",
                "kind": CampaignKind.REALTIME,
                "status": CampaignStatus.RUNNING,
                "trigger_event_types": ["large_transfer_out"],
                "channels": ["push", "sms", "email"],
                "control_group_pct": 0,
            },
        )
        # A previous run's campaign was paused with the bank's by pause_other_campaigns().
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
        for offer in Offer.objects.filter(code__startswith=BENCH_PREFIX).order_by("code")[:10]:
            CampaignOffer.objects.get_or_create(campaign=campaign, offer=offer)
        bump_catalog_version()
        externals = list(
            Customer.objects.order_by("?").values_list("external_id", flat=True)[: count + WARM]
        )
        self.line(
            f"\nSignal to queued message through Redis and a warm worker ({count} events, one "
            "at a time; from the ingest call to the decision and its messages committed):"
        )
        # Warm the worker: each pool process builds its snapshot on its first event.
        if self._signal_round_trip(externals[0]) is None:
            self.line("  no decision arrived: is the worker consuming this broker?")
            return
        for external_id in externals[1:WARM]:
            self._signal_round_trip(external_id)
        floor = [self._heartbeat_round_trip() for _ in range(max(20, count // 4))]
        latencies = [
            value
            for value in (self._signal_round_trip(external_id) for external_id in externals[WARM:])
            if value is not None
        ]
        self.line(
            f"  floor: a task writing one row through the same broker and worker  "
            f"p50 {percentile(floor, 50):6.1f} ms  p95 {percentile(floor, 95):6.1f} ms"
        )
        self.line(
            f"  signal to queued message  p50 {percentile(latencies, 50):6.1f} ms  "
            f"p95 {percentile(latencies, 95):6.1f} ms  p99 {percentile(latencies, 99):6.1f} ms "
            f"({len(latencies)}/{count} decided within {SIGNAL_TIMEOUT_S:.0f} s)   "
            f"target p95 <= 50 ms"
        )

    def _signal_round_trip(self, external_id: str) -> float | None:
        started = time.perf_counter()
        ingested = event_ingest(
            actor="system:bench",
            event_id=f"bench-{uuid.uuid4().hex}",
            type="large_transfer_out",
            occurred_at=timezone.now(),
            customer={"external_id": external_id},
            payload={"amount": 5000},
        )
        return _wait_for_row(
            "SELECT 1 FROM decisioning_decision WHERE event_id = %s LIMIT 1",
            ingested.event.pk,
            started,
        )

    def _heartbeat_round_trip(self) -> float:
        from crosssell.tasks import worker_heartbeat

        token = f"bench-{uuid.uuid4().hex}"
        started = time.perf_counter()
        worker_heartbeat.delay(token)
        waited = _wait_for_row(
            "SELECT 1 FROM crosssell_workerheartbeat WHERE token = %s", token, started
        )
        return waited if waited is not None else SIGNAL_TIMEOUT_S * 1000
