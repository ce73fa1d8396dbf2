"""``manage.py resume_run RUN_ID``: resume a failed or stalled batch run."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError
from decisioning.runs.batch import campaign_run_resume
from decisioning.selectors import run_get


class Command(BaseCommand):
    help = (
        "Resume a failed or stalled batch run: the chunks not done get a fresh failure "
        "budget and are queued again (without a broker they run here)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument(
            "--actor",
            default="system:resume_run",
            help="Who resumed it, for the audit record (default: system:resume_run).",
        )

    def handle(self, *args, run_id, actor, **options):
        run = run_get(pk=run_id) if 0 < run_id < 2**63 else None
        if run is None:
            raise CommandError(f"No run {run_id}.")
        try:
            resumed = campaign_run_resume(actor=actor, run=run)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Run {run_id} ({resumed.run.campaign.code}) is {resumed.run.status}: "
            f"{resumed.queued_chunks} of {resumed.pending_chunks} pending chunks queued, "
            f"{resumed.run.processed_customers:,} of {resumed.run.total_customers:,} "
            "customers done."
        )
