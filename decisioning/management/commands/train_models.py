"""``manage.py train_models [--product CODE]``: train now, in the foreground.

The same code the Celery task runs (``decisioning/learning/registry.py``): both
algorithms, the better on held-out data, champion against challenger. Prints each
product's held-out figures and what became of the new version.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from decisioning.learning.registry import describe, models_train_all
from offers.models import Product


class Command(BaseCommand):
    help = "Train propensity models now and print their held-out figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--product", help="one product code (default: every active product)")
        parser.add_argument(
            "--seed", type=int, default=0, help="the random hold-out's seed (undated history)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        products = None
        if options["product"]:
            products = list(Product.objects.filter(code=options["product"]))
            if not products:
                raise CommandError(f"Unknown product {options['product']}.")
        outcome = models_train_all(
            actor="system:train_models", products=products, seed=options["seed"]
        )
        for code, result in outcome.items():
            if isinstance(result, str):
                self.stdout.write(f"{code}: {result}")
                continue
            self.stdout.write(f"{code}: {describe(result)}")
            for candidate in result.candidates:
                auc = "n/a" if candidate["auc"] is None else f"{candidate['auc']:.4f}"
                self.stdout.write(
                    f"    {candidate['algorithm']:<24} held-out AUC {auc}  "
                    f"Brier {candidate['brier']:.4f}"
                )
        if products is not None and all(isinstance(r, str) for r in outcome.values()):
            raise CommandError("No model was trained.")
