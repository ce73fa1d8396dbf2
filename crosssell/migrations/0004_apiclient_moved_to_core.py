"""ApiClient now lives in ``core`` (see ``core/0001``): drop it from this app's state only."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("crosssell", "0003_worker_heartbeat"), ("core", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="ApiClient")],
        ),
    ]
