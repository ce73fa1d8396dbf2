from django.core.management.base import BaseCommand, CommandError

from core.choices import Role
from core.exceptions import ApplicationError
from crosssell.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client and print its key once (last line, key alone)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--channels", default="", help="comma-separated, for channel clients")

    def handle(self, *args, name, role, channels, **options):
        wanted = [c.strip() for c in channels.split(",") if c.strip()]
        try:
            client, key = api_client_create(
                actor="system:create_api_client", name=name, role=role, channels=wanted
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        self.stderr.write(f"Created API client {client.name!r} ({client.role}).")
        self.stdout.write(key)
