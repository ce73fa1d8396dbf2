from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrosssellConfig(AppConfig):
    name = "crosssell"
    verbose_name = "Platform"

    def ready(self) -> None:
        from crosssell.baseline import ensure_baseline

        post_migrate.connect(ensure_baseline, sender=self, dispatch_uid="crosssell-baseline")
