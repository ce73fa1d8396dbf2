import pytest

from decisioning.decisions.snapshots import snapshots


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()
