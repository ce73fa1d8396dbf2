from django.db import models


class Role(models.TextChoices):
    CHANNEL = "channel", "Channel system"
    MARKETER = "marketer", "Marketer"
    COMPLIANCE = "compliance", "Compliance officer"
    ANALYST = "analyst", "Analyst"
    ADMIN = "admin", "Administrator"


# Console groups (people); API clients use Role, which adds "channel" for systems.
CONSOLE_GROUPS = (Role.MARKETER, Role.COMPLIANCE, Role.ANALYST, Role.ADMIN)
