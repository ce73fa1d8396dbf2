from django.db import models


class AuditKind(models.TextChoices):
    OFFER_RELEASED = "offer_released", "Offer released to a channel"
    DECISION = "decision", "Decision made"
    MESSAGE = "message", "Message lifecycle"
    RESPONSE = "response", "Customer response"
    OVERRIDE = "override", "Banker or agent override"
    CONSENT = "consent", "Consent change"
    SUPPRESSION = "suppression", "Suppression"
    APPROVAL = "approval", "Approval"
    CATALOG = "catalog", "Catalog change"
    CAMPAIGN = "campaign", "Campaign change"
    POLICY = "policy", "Contact policy change"
    CUSTOMER = "customer", "Customer data change"
    ERASURE = "erasure", "Erasure"
    MODEL = "model", "Propensity model"
    ACCESS = "access", "Access and API clients"
    EXEMPTION = "exemption", "Service exemption from marketing rules"
    BENCHMARK = "benchmark", "Ledger benchmark (manage.py bench_ledger)"
