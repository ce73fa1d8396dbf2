"""``manage.py soak``: mixed channel traffic at a running server, then the invariants.

    python manage.py soak --minutes 5 --rate 100 [--url http://127.0.0.1:8000] [--seed 1]

Drives events, inbound decisions, leases and acks, responses, consent changes and a few
erasures (``demo/soak.py``) at the target rate against the customers already in the
database the server uses (same settings / ``DATABASE_URL``), prints the figures (requests
by endpoint and status, achieved rate, p50/p99 per endpoint, answers >= 500), waits for
the event queue to drain, checks every invariant against the database and prints each as
held or violated. Exits non-zero when one is violated. It creates its own API keys (and
deactivates them at the end) and changes nothing else the server needs.
"""

from __future__ import annotations

import argparse
import math
import threading
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.progress import CommandStream, progress_bar
from demo.soak import (
    Call,
    Driver,
    Figures,
    Invariant,
    SoakOptions,
    check_invariants,
    create_keys,
    figures,
    load_people,
    new_log,
    retire_keys,
)

MAX_MINUTES = 24 * 60
MAX_RATE = 5_000


def _positive(kind, upper):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
        if not 0 < value <= upper or (isinstance(value, float) and math.isnan(value)):
            raise argparse.ArgumentTypeError(f"must be above 0 and at most {upper}, not {text}")
        return value

    return parse


class _Ticker:
    """Counts answers for the progress bar; when no bar is drawn (not a terminal, or
    ``--no-progress``), prints a progress line every ``every`` seconds instead."""

    def __init__(self, stdout, bar, total: int, *, quiet: bool, every: float = 15.0) -> None:
        self.stdout = stdout
        self.bar = bar
        self.total = total
        self.quiet = quiet
        self.every = every
        self.lock = threading.Lock()
        self.started = self.last = time.monotonic()
        self.done = self.failed = 0

    def __call__(self, call: Call) -> None:
        with self.lock:
            self.done += 1
            self.failed += call.status >= 500 or call.status == 0
            self.bar.update(1)
            now = time.monotonic()
            if self.quiet or now - self.last < self.every:
                return
            self.last = now
            elapsed = now - self.started
            self.stdout.write(
                f"  {elapsed:5.0f} s: {self.done:,}/{self.total:,} answered, "
                f"{self.done / elapsed:.1f} req/s, {self.failed} >= 500 or unanswered"
            )


class Command(BaseCommand):
    help = (
        "Soak a running server with mixed channel traffic at a target rate, then check "
        "the invariants (events once, releases audited, ledger verifies, nothing released "
        "after a revoke or an erasure, no 5xx) against its database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minutes", type=_positive(float, MAX_MINUTES), required=True, help="how long"
        )
        parser.add_argument(
            "--rate",
            type=_positive(float, MAX_RATE),
            required=True,
            help="target requests per second",
        )
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="the server (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=1, help="the mix's seed (default 1)")
        parser.add_argument(
            "--workers",
            type=_positive(int, 512),
            default=None,
            help="client threads (default: sized for the rate)",
        )
        parser.add_argument(
            "--erasures",
            type=int,
            default=None,
            help="how many customers to erase (default: about three a minute)",
        )
        parser.add_argument(
            "--drain-seconds",
            type=_positive(float, 3600),
            default=180.0,
            help="how long to wait for accepted events to be processed (default 180, "
            "past the sweeper's 90 s horizon)",
        )
        parser.add_argument("--no-progress", action="store_true", help="draw no progress bar")

    def handle(self, *args, **options) -> None:
        soak_options = SoakOptions(
            seconds=options["minutes"] * 60,
            rate=options["rate"],
            base_url=options["url"].rstrip("/"),
            seed=options["seed"],
            workers=options["workers"],
            erasures=options["erasures"],
        )
        if soak_options.erasures is not None and soak_options.erasures < 0:
            raise CommandError("--erasures must be zero or more")
        self._check_server(soak_options.base_url)
        people = load_people()
        if not people:
            raise CommandError(
                "the database has no customers; seed it first (manage.py seed_demo) with the "
                "same settings / DATABASE_URL as the server"
            )
        log = new_log()
        keys = create_keys(log.tag)
        stream = None if options["no_progress"] else CommandStream(self.stderr)
        self.stdout.write(
            f"soak {log.tag}: {soak_options.seconds / 60:g} min at {soak_options.rate:g} req/s "
            f"against {soak_options.base_url}, {len(people):,} customers, "
            f"{soak_options.pool_size()} client threads, seed {soak_options.seed}"
        )
        total = max(1, round(soak_options.seconds * soak_options.rate))
        try:
            with progress_bar(total, "soak", stream, unit="req") as bar:
                ticker = _Ticker(self.stdout, bar, total, quiet=not bar.disable)
                Driver(soak_options, keys, log, people).run(on_done=ticker)
        finally:
            retire_keys(keys)
        self._print_figures(figures(log))
        self.stdout.write(
            f"waiting up to {options['drain_seconds']:g} s for accepted events to be processed"
        )
        seal_first = not settings.CELERY_BROKER_URL  # the embedded default: no beat sealer
        waited, report = check_invariants(
            log, seal_first=seal_first, drain_seconds=options["drain_seconds"]
        )
        left = report[0].numbers["still accepted"]
        if left:
            self.stdout.write(
                f"queue not drained: {left:,} events still accepted after {waited:.1f} s"
            )
        else:
            self.stdout.write(f"queue drained ({waited:.1f} s waited)")
        self._print_invariants(report)
        violated = [inv.name for inv in report if not inv.held]
        if violated:
            raise CommandError(f"invariants violated: {'; '.join(violated)}")
        self.stdout.write(self.style.SUCCESS("every invariant held"))

    def _check_server(self, url: str) -> None:
        try:
            answer = httpx.get(f"{url}/api/v1/health/", timeout=5)
        except httpx.HTTPError as exc:
            raise CommandError(f"no server answers at {url}: {exc}") from exc
        if answer.status_code != 200:
            raise CommandError(f"{url}/api/v1/health/ answered {answer.status_code}")
        health = answer.json()
        self.stdout.write(
            f"server {url}: {health.get('status')} (database {health.get('database')}, "
            f"broker {health.get('broker')}, workers {health.get('workers')})"
        )

    def _print_figures(self, result: Figures) -> None:
        self.stdout.write(
            f"\n{result.requests:,} requests in {result.seconds:.1f} s: "
            f"{result.rate:.1f} req/s achieved; answers >= 500: {result.server_errors}; "
            f"no answer: {result.no_answer}"
        )
        self.stdout.write(f"  {'endpoint':<44}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
        for row in result.endpoints:
            statuses = ", ".join(f"{code or 'none'}: {n:,}" for code, n in row.statuses.items())
            self.stdout.write(
                f"  {row.endpoint:<44}{row.requests:>9,}{row.p50_ms:>9.1f}{row.p99_ms:>9.1f}"
                f"  {statuses}"
            )

    def _print_invariants(self, report: list[Invariant]) -> None:
        self.stdout.write("\ninvariants:")
        for inv in report:
            mark = self.style.SUCCESS("held    ") if inv.held else self.style.ERROR("VIOLATED")
            numbers = ", ".join(
                f"{key} {value:,}"
                if isinstance(value, int) and not isinstance(value, bool)
                else f"{key} {value}"
                for key, value in inv.numbers.items()
            )
            self.stdout.write(f"  {mark} {inv.name}: {numbers}")
            for example in inv.examples:
                self.stdout.write(f"             {example}")
