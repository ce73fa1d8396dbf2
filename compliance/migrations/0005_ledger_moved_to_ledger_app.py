"""The ledger's models moved to ``ledger`` (see ``ledger/0001``): state only, tables kept."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compliance", "0004_sealer_state"), ("ledger", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="auditsealmembership",
                    name="record",
                ),
                migrations.RemoveField(
                    model_name="auditsealmembership",
                    name="seal",
                ),
                migrations.DeleteModel(
                    name="AuditSealerState",
                ),
                migrations.DeleteModel(
                    name="AuditRecord",
                ),
                migrations.DeleteModel(
                    name="AuditSeal",
                ),
                migrations.DeleteModel(
                    name="AuditSealMembership",
                ),
            ],
        ),
    ]
