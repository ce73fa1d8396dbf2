"""``manage.py seed_demo``: a deterministic synthetic bank in an empty database."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ApplicationError
from demo.progress import CommandStream
from demo.seed import (
    DEFAULT_CUSTOMERS,
    DEFAULT_SEED,
    SeedOptions,
    bank_today,
    seed_demo_bank,
)
from demo.summary import seed_report


def parse_as_of(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be a date as YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = (
        "Seed a deterministic synthetic bank (catalog, campaigns, demo users, API clients, "
        "customers, consents, response history) into an empty database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help="how many customers (default %(default)s)",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
        )
        parser.add_argument(
            "--as-of",
            default=None,
            help="reference date YYYY-MM-DD that all history is relative to (default: today in the bank's time zone)",
        )
        parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")

    def handle(
        self, *args, customers: int, seed: int, as_of: str | None, no_progress: bool, **options
    ) -> None:
        seed_options = SeedOptions(
            customers=customers, seed=seed, as_of=parse_as_of(as_of) if as_of else bank_today()
        )
        try:
            result = seed_demo_bank(
                seed_options, progress=None if no_progress else CommandStream(self.stderr)
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        for line in seed_report(result):
            self.stdout.write(line)
