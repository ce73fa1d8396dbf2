"""A closed-loop HTTP load client for ``bench_api --load python`` (when wrk is absent).

Imports nothing of Django or the project: each client runs in a spawned process, which
imports this module to find its target.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import time
from typing import Any


def closed_loop_client(port: int, spec: dict[str, Any], seconds: float, index: int) -> dict:
    """One client on a keep-alive connection: request, wait for the answer, repeat."""
    rng = random.Random(index)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies: list[float] = []
    errors = non_2xx = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        body = None
        if spec["name"] == "decisions":
            body = json.dumps(
                {"customer": {"external_id": rng.choice(spec["ids"])}, "channel": spec["channel"]}
            )
        begin = time.perf_counter()
        try:
            connection.request(spec["method"], spec["path"], body=body, headers=spec["headers"])
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append((time.perf_counter() - begin) * 1000)
        if not 200 <= response.status < 300:
            non_2xx += 1
    elapsed = time.perf_counter() - started
    connection.close()
    return {
        "latencies": latencies,
        "errors": errors,
        "non_2xx": non_2xx,
        "elapsed": elapsed,
        "median": statistics.median(latencies) if latencies else None,
    }
