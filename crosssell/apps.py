from django.apps import AppConfig


class CrosssellConfig(AppConfig):
    name = "crosssell"
    verbose_name = "Platform"
