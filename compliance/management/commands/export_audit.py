"""Export the audit trail as CSV or JSON Lines, streamed to stdout or a file."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from compliance.selectors import audit_record_list
from ledger.choices import AuditKind
from ledger.export import FORMATS, export_stream


def _moment(value: str | None, name: str) -> datetime.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--{name} must be an ISO date or date-time, got {value!r}")
        parsed = datetime.datetime.combine(day, datetime.time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


class Command(BaseCommand):
    help = (
        "Export audit records (oldest first) filtered by customer, time range and kind, as "
        "CSV or JSON Lines. Streams in constant memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument("--customer", help="The bank's customer id (external id).")
        parser.add_argument("--customer-ref", help="A pseudonymous customer reference.")
        parser.add_argument(
            "--since", help="From this ISO date/time (inclusive, UTC if no offset)."
        )
        parser.add_argument("--until", help="Up to this ISO date/time (exclusive).")
        parser.add_argument(
            "--kind", action="append", default=[], help="A record kind; repeat for several."
        )
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        kinds = [k for value in options["kind"] for k in value.split(",") if k]
        unknown = sorted(set(kinds) - set(AuditKind.values))
        if unknown:
            raise CommandError(f"unknown kind(s): {', '.join(unknown)}")
        since = _moment(options["since"], "since")
        until = _moment(options["until"], "until")
        if since and until and until <= since:
            raise CommandError("--until must be after --since")
        queryset = audit_record_list(
            external_id=options["customer"],
            customer_ref=options["customer_ref"],
            since=since,
            until=until,
            kinds=kinds,
        )
        chunks = export_stream(queryset, fmt=options["format"], chunk_size=options["chunk_size"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
