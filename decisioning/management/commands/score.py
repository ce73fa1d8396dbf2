"""``manage.py score FILE --product CODE --out OUT.csv``

For each row of a CSV of customer attributes, in the same order, the product's active
model's calibrated probability in a column ``propensity`` (``decisioning/learning/history.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ApplicationError
from decisioning.learning.history import file_score


class Command(BaseCommand):
    help = "Score a CSV of customers with a product's active propensity model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--product", required=True)
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        out: Path = options["out"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if out.resolve() == path.resolve():
            raise CommandError("--out must not be the input file")
        partial = out.with_name(out.name + ".partial")
        try:
            with (
                path.open(newline="", encoding="utf-8-sig") as source,
                partial.open("w", newline="", encoding="utf-8") as target,
            ):
                model, rows = file_score(source=source, out=target, product_code=options["product"])
        except ApplicationError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(exc.message) from exc
        partial.replace(out)
        self.stdout.write(
            f"{rows:,} rows scored with {options['product']} v{model.version} "
            f"({model.algorithm}) into {out}"
        )
