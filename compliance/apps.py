from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        # customers sits below compliance and cannot import the ledger; plug it in.
        from compliance.ledger import audit
        from customers import services as customer_services

        customer_services.install_audit_sink(audit)
