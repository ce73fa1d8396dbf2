"""gunicorn hooks for Prometheus's multiprocess mode: ``gunicorn -c
python:crosssell.observability.gunicorn crosssell.wsgi ...``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (a directory of this server's own, on local disk),
every worker process writes its counters and histograms there and ``/metrics``, whichever
worker answers it, reads them all. The directory must start empty: counts left by a
previous run would be added again, so the master empties it once at start-up. A Celery
worker on the same host needs a directory of its own (emptied by whoever starts it).
Without the variable these hooks do nothing, and each worker process answers with its
own counts only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess


def _directory() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    directory = _directory()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if _directory() is not None:
        # Drops the exited worker's live gauges; its counters keep counting in the total.
        multiprocess.mark_process_dead(worker.pid)
