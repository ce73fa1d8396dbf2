"""Recompute every audit record hash and every seal; exit non-zero when the ledger is
broken (1) or records have waited too long for a seal (2)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ledger.sealer import seal_all_pending
from ledger.verify import verify_ledger

EXIT_BROKEN = 1
EXIT_STALE = 2


class Command(BaseCommand):
    help = (
        "Verify the audit ledger: every record's hash and every seal's chain, and that no "
        "record has waited longer than the stale threshold for a seal. Prints what failed "
        f"and exits {EXIT_BROKEN} when a record or seal is broken, {EXIT_STALE} when only "
        "records are stale (the sealer is not running)."
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
            default=None,
            help=(
                "Fail when records have been unsealed for longer than this many seconds "
                "(default: CROSSSELL_AUDIT_STALE_AFTER_SECONDS, 60)."
            ),
        )
        parser.add_argument(
            "--fail-on-stale",
            action="store_true",
            help="Kept for old scripts: stale records always fail verification now.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        stale_after = options["stale_after"]
        if (stale_after is not None and stale_after < 0) or options["chunk_size"] < 1:
            raise CommandError("--stale-after must be >= 0 and --chunk-size >= 1")
        if options["seal_first"]:
            sealed = seal_all_pending(time_budget_seconds=600)
            if not options["json"]:
                self.stdout.write(f"sealed {sealed} pending record(s)")
        report = verify_ledger(chunk_size=options["chunk_size"], stale_after_seconds=stale_after)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        elif report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        else:
            self.stdout.write(self.style.ERROR(report.summary()))
        if not report.intact:
            raise SystemExit(EXIT_BROKEN)
        if not report.ok:
            raise SystemExit(EXIT_STALE)
