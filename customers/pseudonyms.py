import hashlib
import hmac

from django.conf import settings


def pseudonym_for(external_id: str) -> str:
    """A stable keyed hash of the bank's customer id: identifies, never reveals."""
    digest = hmac.new(
        settings.PSEUDONYM_KEY.encode(), external_id.encode(), hashlib.sha256
    ).hexdigest()
    return f"cust_{digest[:40]}"
