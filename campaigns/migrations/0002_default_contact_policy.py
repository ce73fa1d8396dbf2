import datetime

from django.db import migrations


def create(apps, schema_editor):
    ContactPolicy = apps.get_model("campaigns", "ContactPolicy")
    if not ContactPolicy.objects.exists():
        ContactPolicy.objects.create(
            version=1,
            is_active=True,
            daily_cap=1,
            weekly_cap=3,
            quiet_start=datetime.time(21, 0),
            quiet_end=datetime.time(8, 0),
            quiet_channels=["push", "sms"],
            decline_cooldown_days=30,
            fatigue_ignored_in_row=3,
            fatigue_backoff_days=14,
            presented_elsewhere_days=7,
            hardship_event_types=["payment_failed", "overdraft", "missed_loan_payment"],
            hardship_days=30,
            note="Bank default contact policy",
            created_by="system:migration",
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
