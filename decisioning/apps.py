from django.apps import AppConfig


class DecisioningConfig(AppConfig):
    name = "decisioning"
    verbose_name = "Decisioning"

    def ready(self) -> None:
        # Compliance pre-checks read rule fields with the engine's own parser; compliance
        # sits below decisioning, so the parser is handed down rather than imported up.
        from compliance.prechecks import register_rule_parser
        from decisioning.engine import parse_rule

        register_rule_parser(parse_rule)
