"""The decision ledger's time indexes end with the id: the ledger pages along
(created_at, id) newest first, and every decision of a batch chunk has the chunk's one
created_at. With the time alone in the index, the first page of the ledger (or of one
campaign) sorted the whole latest chunk (50,000 rows) to return 50.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_readable_constraint_messages"),
        ("customers", "0004_identity_customer_type_idx"),
        ("decisioning", "0006_fk_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="decision",
            name="decision_campaign_time_idx",
        ),
        migrations.RemoveIndex(
            model_name="decision",
            name="decision_time_idx",
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                fields=["campaign", "-created_at", "-id"], name="decision_campaign_time_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["-created_at", "-id"], name="decision_time_idx"),
        ),
    ]
