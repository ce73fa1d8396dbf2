from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # Connects the receiver that moves a campaign when compliance decides on its
        # targeting, in every process (web, worker, beat, commands).
        from campaigns import services  # noqa: F401
