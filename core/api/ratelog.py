"""A log line that may fire a thousand times a second (every request during an outage),
written at most once per interval per process, with a count of the ones held back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._held_back = 0

    def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> bool:
        """Log unless this was logged less than the interval ago; True when logged."""
        now = self.clock()
        with self._lock:
            if self._last is not None and now - self._last < self.interval:
                self._held_back += 1
                return False
            held_back, self._held_back, self._last = self._held_back, 0, now
        if held_back:
            message += " (%d more like it since the last one)"
            args = (*args, held_back)
        self.logger.log(level, message, *args, **kwargs)
        return True

    def reset(self) -> None:
        with self._lock:
            self._last, self._held_back = None, 0
