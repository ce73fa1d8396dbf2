import time
import uuid

import pytest

from crosssell.models import WorkerHeartbeat
from crosssell.tasks import worker_heartbeat


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_reached_through_redis_writes_to_postgresql(integration_services):
    token = uuid.uuid4().hex
    worker_heartbeat.delay(token)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        beat = WorkerHeartbeat.objects.filter(token=token).first()
        if beat is not None:
            break
        time.sleep(0.1)
    else:
        pytest.fail("no Celery worker processed the heartbeat within 20 s")
    assert beat.database_vendor == "postgresql"


def test_heartbeat_task_runs_in_process_on_the_embedded_default(db):
    worker_heartbeat.delay("eager-token")
    assert WorkerHeartbeat.objects.filter(token="eager-token").exists()
