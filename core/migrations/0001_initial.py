"""ApiClient moved from the roof (``crosssell``) to ``core``: the table stays where it is.

State only. A database migrated before the move keeps ``crosssell_apiclient`` and its rows;
``crosssell/0004`` drops the model from the roof's state once this has taken it over.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("crosssell", "0003_worker_heartbeat")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ApiClient",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "role",
                            models.CharField(
                                choices=[
                                    ("channel", "Channel system"),
                                    ("marketer", "Marketer"),
                                    ("compliance", "Compliance officer"),
                                    ("analyst", "Analyst"),
                                    ("admin", "Administrator"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("channels", models.JSONField(blank=True, default=list)),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("key_prefix", models.CharField(editable=False, max_length=12)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "crosssell_apiclient",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "role__in",
                                        ["channel", "marketer", "compliance", "analyst", "admin"],
                                    )
                                ),
                                name="apiclient_role_valid",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
