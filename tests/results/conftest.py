"""The API fixtures of tests/api (keyed clients per role) for the results tests."""

from tests.api.conftest import _isolated_caches, make_api  # noqa: F401
