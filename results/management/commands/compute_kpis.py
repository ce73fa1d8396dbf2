"""``manage.py compute_kpis [--since DAY] [--until DAY] [--days N]``: compute campaign
results now, in the foreground (the code the Celery task runs), one line per day."""

from __future__ import annotations

import datetime
import time

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError
from results.services import kpi_days, kpis_compute_day

ACTOR = "system:manage.compute_kpis"


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; give YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Compute campaign results (KPIs, lift, uplift) into the aggregate tables."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", type=_day, help="first bank-local day (YYYY-MM-DD)")
        parser.add_argument("--until", type=_day, help="last bank-local day (default today)")
        parser.add_argument(
            "--days", type=int, help="the last N days through today (default: the window)"
        )

    def handle(self, *args, since=None, until=None, days=None, **options) -> None:
        if days is not None and (since or until):
            raise CommandError("give --days or --since/--until, not both")
        try:
            selected = kpi_days(since=since, until=until, days=days)
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        started = time.perf_counter()
        rows = 0
        for day in selected:
            done = kpis_compute_day(actor=ACTOR, day=day)
            rows += done.rows
            if options["verbosity"] >= 2 or done.treated or done.control:
                self.stdout.write(
                    f"{day.isoformat()}: {done.treated:,} treated, {done.control:,} control "
                    f"units, {done.rows:,} rows in {done.seconds * 1000:.0f} ms"
                )
        self.stdout.write(
            f"computed {len(selected)} day(s), {selected[0].isoformat()} to "
            f"{selected[-1].isoformat()}: {rows:,} rows in {time.perf_counter() - started:.2f}s"
        )
