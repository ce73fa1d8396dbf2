"""Signals compliance sends to the layers above it (which it may not import).

``approval_decided`` is sent inside the transaction of every approval transition, with
``request`` (the ApprovalRequest after the change), ``previous_status`` and ``actor``.
A receiver's writes therefore commit or roll back with the decision.
"""

from django.dispatch import Signal

approval_decided = Signal()
