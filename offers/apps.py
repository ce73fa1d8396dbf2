from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "offers"
    verbose_name = "Products and offers"

    def ready(self) -> None:
        # Connects the receiver that puts an approved targeting version in force, in
        # every process (web, worker, beat, commands).
        from offers import services  # noqa: F401
