from django.db import models


class ProductFamily(models.TextChoices):
    CARDS = "cards", "Cards"
    LOANS = "loans", "Loans"
    MORTGAGES = "mortgages", "Mortgages"
    DEPOSITS = "deposits", "Deposits"
    INSURANCE = "insurance", "Insurance"
    INVESTMENTS = "investments", "Investments"


class OfferKind(models.TextChoices):
    SALES = "sales", "Sales"
    SERVICE = "service", "Service action"


class OfferStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    RETIRED = "retired", "Retired"
