from django.db import models


class IdentifierType(models.TextChoices):
    ACCOUNT_NUMBER = "account_number", "Account number"
    CARD_TOKEN = "card_token", "Card token"
    DEVICE_ID = "device_id", "Device id"
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    LOGIN_ID = "login_id", "Login id"


class LinkMethod(models.TextChoices):
    DETERMINISTIC = "deterministic", "Deterministic"
    PROBABILISTIC = "probabilistic", "Probabilistic"


class RiskBand(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class IncomeBand(models.TextChoices):
    LOW = "low", "Low"
    MIDDLE = "middle", "Middle"
    HIGH = "high", "High"
    AFFLUENT = "affluent", "Affluent"


class EventStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted, awaiting processing"
    PROCESSED = "processed", "Processed"
    UNRESOLVED = "unresolved", "Customer not resolved yet"
    # The event names a customer who has been erased (by a former identifier or the
    # erased reference): kept without the identifier, never decided for.
    ERASED = "erased", "Customer erased: kept without personal data, never processed"
