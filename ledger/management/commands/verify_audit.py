"""Recompute every audit record hash and every seal; exit non-zero when broken."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ledger.sealer import seal_all_pending
from ledger.verify import verify_ledger


class Command(BaseCommand):
    help = (
        "Verify the audit ledger: every record's hash and every seal's chain. Prints the "
        "first broken record or seal and exits 1 when the ledger is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seal-first",
            action="store_true",
            help="Seal pending records before verifying (e.g. with no sealer running).",
        )
        parser.add_argument(
            "--stale-after",
            type=int,
            default=60,
            help="Warn about records unsealed for longer than this many seconds (default 60).",
        )
        parser.add_argument(
            "--fail-on-stale",
            action="store_true",
            help="Exit 2 when records have waited longer than --stale-after for a seal.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        if options["stale_after"] < 0 or options["chunk_size"] < 1:
            raise CommandError("--stale-after must be >= 0 and --chunk-size >= 1")
        if options["seal_first"]:
            sealed = seal_all_pending(time_budget_seconds=600)
            if not options["json"]:
                self.stdout.write(f"sealed {sealed} pending record(s)")
        report = verify_ledger(
            chunk_size=options["chunk_size"], stale_after_seconds=options["stale_after"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        elif report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        else:
            self.stdout.write(self.style.ERROR(report.summary()))
        if not report.ok:
            raise SystemExit(1)
        if options["fail_on_stale"] and report.stale_unsealed_records:
            raise SystemExit(2)
