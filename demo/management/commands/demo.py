"""``manage.py demo``: migrate, seed the demo bank if empty, run the demo steps, print a
summary, then serve the console on http://127.0.0.1:8000 (unless ``--no-serve``)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.management.commands.seed_demo import parse_as_of
from demo.pipeline import (
    DemoContext,
    DemoOptions,
    login_lines,
    run_steps,
    summary_lines,
)
from demo.progress import CommandStream
from demo.seed import DEFAULT_CUSTOMERS, DEFAULT_SEED, bank_today

HOST = "127.0.0.1"


class Command(BaseCommand):
    help = (
        "Run the demo: migrate, seed the demo bank if the database is empty, run the "
        "pipeline, print a summary and serve the console."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help="customers to seed into an empty database (default %(default)s)",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
        )
        parser.add_argument(
            "--as-of",
            default=None,
            help="reference date YYYY-MM-DD for the seeded history (default: today)",
        )
        parser.add_argument("--no-serve", action="store_true", help="stop after the summary")
        parser.add_argument(
            "--port", type=int, default=8000, help="port for the console (default %(default)s)"
        )
        parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")

    def handle(
        self,
        *args,
        customers: int,
        seed: int,
        as_of: str | None,
        no_serve: bool,
        port: int,
        no_progress: bool,
        **options,
    ) -> None:
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        if not 1 <= port <= 65535:
            raise CommandError("--port must be between 1 and 65535")
        ctx = DemoContext(
            options=DemoOptions(
                customers=customers,
                seed=seed,
                as_of=parse_as_of(as_of) if as_of else bank_today(),
                serve=not no_serve,
                port=port,
                show_progress=not no_progress,
            ),
            stdout=self.stdout,
            stderr=CommandStream(self.stderr),
        )
        run_steps(ctx)
        self.stdout.write("")
        for line in summary_lines(ctx):
            self.stdout.write(line)
        url = f"http://{HOST}:{port}/"
        self.stdout.write("")
        for line in login_lines(url):
            self.stdout.write(line)
        if no_serve:
            return
        self.stdout.write("Serving the console; stop with Ctrl+C.")
        self.stdout.flush()  # runserver blocks: show the summary even when piped
        if "DJANGO_DEBUG" not in os.environ:
            # The demo is the console as a bank's users see it: the console's own 404 and
            # 500 pages, not Django's technical pages (which list every URL pattern and
            # echo the request). DJANGO_DEBUG=true brings those back. Without DEBUG,
            # runserver serves the static files only when told to (--insecure): there is
            # no other web server in front of the embedded demo.
            settings.DEBUG = False
        call_command("runserver", f"{HOST}:{port}", use_reloader=False, insecure_serving=True)
