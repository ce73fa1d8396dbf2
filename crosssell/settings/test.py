from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Unit tests run tasks in-process even when a broker is configured; the integration
# fixture switches eagerness off for the tests that talk to a real worker.
CELERY_TASK_ALWAYS_EAGER = True
# Unit tests seal explicitly (and share one in-memory SQLite database): no background
# sealer thread; tests/compliance/test_autoseal.py switches it on where it is the subject.
CROSSSELL_AUDIT_AUTOSEAL = "off"
# Sign-in throttling is off so tests can sign in as often as they like (and Client.login,
# which passes no request, works); tests/security/test_login_lockout.py switches it on.
AXES_ENABLED = False
# No cold-start exploration unless a test is about it (tests/learning/test_exploration.py
# switches it on): the engine's other tests read exact propensities.
CROSSSELL_EXPLORATION_SHARE = 0.0
