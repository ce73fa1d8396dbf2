from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Unit tests run tasks in-process even when a broker is configured; the integration
# fixture switches eagerness off for the tests that talk to a real worker.
CELERY_TASK_ALWAYS_EAGER = True
