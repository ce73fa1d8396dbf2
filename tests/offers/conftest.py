from tests.compliance.conftest import (  # noqa: F401 - shared fixtures
    checker,
    engine_rules,
    fallback_rules,
    ledger_baseline,
    maker,
    outsider,
)
