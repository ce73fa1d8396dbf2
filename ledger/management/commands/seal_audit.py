"""Seal pending audit records now (what the beat task does every second)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ledger.sealer import DEFAULT_SEAL_BATCH, seal_all_pending


class Command(BaseCommand):
    help = "Seal the audit records no seal covers yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--full-sweep",
            action="store_true",
            help="Look over the whole ledger, not only above the high-water mark and gaps.",
        )
        parser.add_argument("--batch", type=int, default=DEFAULT_SEAL_BATCH)

    def handle(self, *args, **options):
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        sealed = seal_all_pending(
            max_records=options["batch"],
            full_sweep=options["full_sweep"],
            time_budget_seconds=3600,
        )
        self.stdout.write(f"sealed {sealed} record(s)")
