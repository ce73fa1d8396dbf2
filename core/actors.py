"""Who did it: the actor string written into every audit row.

A console user is ``user:<username>``, an API client ``api:<name>``, Celery work
``system:<task>``.
"""

from __future__ import annotations

from typing import Any


def actor_name(actor: Any) -> str:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("an actor is required for every audited write")
        return actor
    if hasattr(actor, "actor"):
        return actor.actor
    username = getattr(actor, "get_username", None)
    if callable(username):
        return f"user:{username()}"
    raise TypeError(f"cannot name actor {actor!r}")


def system_actor(task: str) -> str:
    return f"system:{task}"
