"""``manage.py import_responses FILE --product CODE --outcome-column COL --positive VALUE``

Past campaign contacts from a CSV: each row a customer (its other columns are profile
attributes) with an accepted or declined response to an offer of the product
(``decisioning/learning/history.py``). Rows that cannot be read are listed with their line
numbers; the command then exits with status 1 so a script notices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.exceptions import ApplicationError
from decisioning.learning.history import responses_import
from offers.choices import ProductFamily

SHOWN = 50


class Command(BaseCommand):
    help = "Import a CSV of past campaign responses as customers and their responses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--product", required=True, help="product code (created if missing)")
        parser.add_argument("--outcome-column", required=True)
        parser.add_argument(
            "--positive", required=True, help="the outcome value that means accepted"
        )
        parser.add_argument("--date-column", help="when each contact happened (ISO date or time)")
        parser.add_argument("--id-column", help="the bank's customer id (default: file and line)")
        parser.add_argument(
            "--drop-column",
            action="append",
            default=[],
            help="a column to leave out (repeatable), e.g. one only known after the contact",
        )
        parser.add_argument("--channel", default="contact_center")
        parser.add_argument(
            "--family", choices=ProductFamily.values, help="needed when the product is new"
        )
        parser.add_argument("--product-name")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        total = max(sum(1 for _ in path.open("rb")) - 1, 0)
        bar = tqdm(total=total, unit="rows", disable=options["no_progress"], file=self.stderr._out)
        try:
            report = responses_import(
                actor="system:import_responses",
                path=path,
                product_code=options["product"],
                outcome_column=options["outcome_column"],
                positive=options["positive"],
                date_column=options["date_column"],
                id_column=options["id_column"],
                drop_columns=options["drop_column"],
                channel=options["channel"],
                family=options["family"],
                product_name=options["product_name"],
                progress=bar.update,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()
        created = " (product created)" if report.created_product else ""
        self.stdout.write(
            f"{report.imported:,} responses imported for {report.product}{created} as offer "
            f"{report.offer}: {report.accepted:,} accepted, "
            f"{report.imported - report.accepted:,} declined."
        )
        if report.refused:
            for line, why in report.refused[:SHOWN]:
                self.stderr.write(f"line {line}: {why}")
            if len(report.refused) > SHOWN:
                self.stderr.write(f"... and {len(report.refused) - SHOWN:,} more")
            raise CommandError(
                f"{len(report.refused):,} rows refused (lines "
                f"{', '.join(str(line) for line, _ in report.refused[:SHOWN])}"
                f"{', ...' if len(report.refused) > SHOWN else ''}); the others were imported."
            )
