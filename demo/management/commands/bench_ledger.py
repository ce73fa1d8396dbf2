"""Benchmark the audit ledger: N appends from P processes while the sealer runs.

Records are written to the configured database with kind ``benchmark`` and, like every
audit record, can never be deleted — run it against a scratch database.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import threading
import time
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction

from ledger.choices import AuditKind
from ledger.models import AuditRecord, AuditSeal
from ledger.sealer import seal_all_pending
from ledger.services import audit
from ledger.verify import verify_ledger


def _append_worker(index: int, count: int, batch: int, start, results) -> None:
    connections.close_all()  # never share the parent's connection after fork
    durations: list[float] = []
    start.wait()
    began = time.perf_counter()
    written = 0
    while written < count:
        size = min(batch, count - written)
        t0 = time.perf_counter()
        # One record: its own autocommit transaction (one round trip, one commit).
        with transaction.atomic() if size > 1 else nullcontext():
            for n in range(size):
                audit(
                    kind=AuditKind.BENCHMARK,
                    action="bench_append",
                    actor="system:bench_ledger",
                    object_type="bench",
                    object_id=f"{index}-{written + n}",
                    customer_ref=f"cust_bench{index:04d}",
                    channel="sms",
                    data={"worker": index, "n": written + n, "score": 12.3, "reasons": ["ok"]},
                )
        durations.append(time.perf_counter() - t0)
        written += size
    results.put((index, written, time.perf_counter() - began, durations))
    connections.close_all()


class Command(BaseCommand):
    help = "Append N audit records from P processes (with the sealer running) and print appends/s."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=20_000, help="Total appends.")
        parser.add_argument("--processes", type=int, default=4, help="Writer processes.")
        parser.add_argument(
            "--batch", type=int, default=1, help="Records per transaction (1 = one commit each)."
        )
        parser.add_argument(
            "--no-seal", action="store_true", help="Do not run the sealer during the run."
        )
        parser.add_argument(
            "--seal-interval",
            type=float,
            default=1.0,
            help="Seconds between sealer runs during the benchmark (beat runs it every 1 s).",
        )
        parser.add_argument(
            "--verify", action="store_true", help="Verify the whole ledger afterwards."
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Confirm: benchmark records are permanent (the ledger refuses DELETE).",
        )

    def handle(self, *args, **options):
        records, processes, batch = options["records"], options["processes"], options["batch"]
        if records < 1 or processes < 1 or batch < 1:
            raise CommandError("--records, --processes and --batch must be at least 1")
        if not options["yes"]:
            raise CommandError(
                "benchmark records stay in the ledger for good; run against a scratch "
                "database and pass --yes"
            )
        context = multiprocessing.get_context("fork")
        start, results = context.Event(), context.Queue()
        shares = [
            records // processes + (1 if i < records % processes else 0) for i in range(processes)
        ]
        before = AuditRecord.objects.count()
        load_at_start = os.getloadavg()[0]
        connections.close_all()
        workers = [
            context.Process(target=_append_worker, args=(i, share, batch, start, results))
            for i, share in enumerate(shares)
            if share
        ]
        for worker in workers:
            worker.start()

        done = threading.Event()
        sealed = {"records": 0, "seals": 0}

        def sealer() -> None:
            # Like the beat task: seal what is pending, then wait for the next tick.
            try:
                while not done.wait(options["seal_interval"]):
                    before = AuditSeal.objects.count()
                    sealed["records"] += seal_all_pending()
                    sealed["seals"] += AuditSeal.objects.count() - before
            finally:
                connections.close_all()

        thread = None
        if not options["no_seal"]:
            thread = threading.Thread(target=sealer, daemon=True)
            thread.start()
        time.sleep(0.5)  # let every worker connect before the clock starts
        began = time.perf_counter()
        start.set()
        outcomes = [results.get() for _ in workers]
        elapsed = time.perf_counter() - began
        for worker in workers:
            worker.join()
        done.set()
        if thread:
            thread.join()
        if any(worker.exitcode for worker in workers):
            raise CommandError("a writer process failed; see its traceback above")

        written = sum(outcome[1] for outcome in outcomes)
        durations = sorted(d for outcome in outcomes for d in outcome[3])
        p50 = statistics.median(durations) * 1000
        p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))] * 1000
        self.stdout.write(
            f"database: {connection.vendor} ({connection.settings_dict['NAME']}); "
            f"{len(workers)} processes, {batch} record(s) per transaction; "
            f"load average at start {load_at_start:.2f} on {os.cpu_count()} CPUs"
        )
        self.stdout.write(
            f"appended {written} records in {elapsed:.2f}s: {written / elapsed:,.0f} appends/s "
            f"(transaction p50 {p50:.2f} ms, p99 {p99:.2f} ms)"
        )
        if thread:
            t0 = time.perf_counter()
            rest = seal_all_pending(time_budget_seconds=600)
            self.stdout.write(
                f"sealer during the run: {sealed['records']} records in {sealed['seals']} seals; "
                f"{rest} sealed after the run in {time.perf_counter() - t0:.2f}s"
            )
        self.stdout.write(f"ledger now holds {AuditRecord.objects.count()} records (was {before})")
        if options["verify"]:
            t0 = time.perf_counter()
            report = verify_ledger()
            self.stdout.write(f"{report.summary()} (verified in {time.perf_counter() - t0:.2f}s)")
            if not report.ok:
                raise SystemExit(1)
