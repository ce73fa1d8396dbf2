"""``manage.py sweep``: one pass of the outbox sweeper (decisioning/outbox.py).

With a broker, beat runs it every CROSSSELL_SWEEPER_INTERVAL_SECONDS; under the embedded
default (eager Celery, no beat) run it from cron, or by hand after an interruption. Prints
what it did as JSON.
"""

import json

from django.core.management.base import BaseCommand

from decisioning.outbox import sweep


class Command(BaseCommand):
    help = (
        "Queue again the events and batch-run chunks the task queue lost, take over chunks "
        "whose worker died, fail runs that cannot progress; prints what it did."
    )

    def handle(self, *args, **options):
        report = sweep()
        self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
