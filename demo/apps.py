from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo bank and the benchmark commands: dev tooling, imported by nothing."""

    name = "demo"
    verbose_name = "Demo bank and benchmarks"
