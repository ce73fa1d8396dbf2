from django.apps import AppConfig


class DecisioningConfig(AppConfig):
    name = "decisioning"
    verbose_name = "Decisioning"

    def ready(self) -> None:
        # Compliance pre-checks read rule fields with the engine's own parser; compliance
        # sits below decisioning, so the parser is handed down rather than imported up.
        from campaigns.triggers import register_condition_parser
        from compliance.prechecks import register_rule_parser
        from decisioning.engine import parse_payload_rule, parse_rule

        register_rule_parser(parse_rule)
        # Campaign trigger conditions are rules over an event's payload, handed down too.
        register_condition_parser(parse_payload_rule)
        # Cold-start exploration (engine/scoring.py: Exploration), from settings.
        from django.conf import settings

        from decisioning.engine.scoring import Exploration, configure_exploration

        configure_exploration(
            Exploration(
                share=settings.CROSSSELL_EXPLORATION_SHARE,
                max_presented=settings.CROSSSELL_EXPLORATION_MAX_PRESENTED,
            )
        )
