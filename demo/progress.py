"""A small progress bar for long demo steps, written to stderr and updated in place.

On a terminal the bar redraws on one line (``\\r``) at most ten times a second; when
stderr is not a terminal (CI logs, a subprocess) it prints one line per quarter so logs
stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1


class Stream(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Progress:
    def __init__(
        self,
        total: int,
        label: str,
        stream: Stream,
        *,
        unit: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream
        self.unit = unit
        self.done = 0
        self._clock = clock
        self._started = clock()
        self._last_draw = -1.0
        self._next_quarter = 1
        isatty = getattr(stream, "isatty", None)
        self._in_place = bool(isatty and isatty())

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(self, amount: int = 1) -> None:
        self.done = min(self.done + amount, self.total) if self.total else self.done + amount
        self._draw()

    def close(self) -> None:
        self._draw(force=True)
        if self._in_place:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = round(BAR_WIDTH * fraction)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        unit = f" {self.unit}" if self.unit else ""
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        return (
            f"{self.label} [{bar}] {fraction:4.0%} {self.done:,}/{self.total:,}{unit}"
            f" {self.elapsed:5.1f}s ({rate:,.0f}/s)"
        )

    def _draw(self, *, force: bool = False) -> None:
        now = self._clock()
        if self._in_place:
            if force or now - self._last_draw >= REDRAW_SECONDS:
                self.stream.write("\r" + self.line())
                self.stream.flush()
                self._last_draw = now
            return
        fraction = self.done / self.total if self.total else 1.0
        if fraction * 4 >= self._next_quarter:
            self._next_quarter = int(fraction * 4) + 1
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        elif force and self._last_draw < 0:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last_draw = now


class CommandStream:
    """A management command's ``self.stderr`` as a plain stream (no newline appended)."""

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> int:
        self.wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return bool(self.wrapper.isatty())
