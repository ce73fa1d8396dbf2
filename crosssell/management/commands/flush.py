"""``flush`` that never empties the audit ledger.

The ledger is append-only by law and by database trigger, so Django's flush (used by
operators and by transactional tests) would fail on it; this one leaves it alone.
"""

from unittest import mock

from django.core.management.commands import flush as django_flush

from ledger.models import AuditRecord, AuditSeal, AuditSealMembership

LEDGER_TABLES = frozenset(
    model._meta.db_table for model in (AuditRecord, AuditSeal, AuditSealMembership)
)


def sql_flush_keeping_ledger(style, connection, reset_sequences=True, allow_cascade=False):
    tables = [
        table
        for table in connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if table not in LEDGER_TABLES
    ]
    return connection.ops.sql_flush(
        style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
    )


class Command(django_flush.Command):
    help = django_flush.Command.help + " The audit ledger is kept."

    def handle(self, **options):
        with mock.patch.object(django_flush, "sql_flush", sql_flush_keeping_ledger):
            return super().handle(**options)
