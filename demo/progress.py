"""Progress bars for long demo steps: tqdm, on stderr, drawn only on a terminal.

``progress_bar`` returns a tqdm bar, used as a context manager with ``update(n)``. With
no stream (``--no-progress``) or a stream that is not a terminal (a log file, a pipe, the
test runner) the bar is disabled: a disabled tqdm is the null object, its ``update`` and
``with`` work and draw nothing, so callers never check.

``CommandStream`` is the one thing tqdm does not do: write to a management command's
``self.stderr`` (Django's ``OutputWrapper`` ends every write with a newline).
"""

from __future__ import annotations

import shutil
from typing import Any, Protocol

from tqdm import tqdm


class Stream(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def progress_bar(total: int, label: str, stream: Stream | None, *, unit: str = "it") -> tqdm:
    """A bar for ``total`` steps on ``stream``; disabled without a stream or terminal."""
    return tqdm(
        total=total,
        desc=label,
        unit=f" {unit}",
        file=stream,
        # None: tqdm draws only when the stream is a terminal.
        disable=True if stream is None else None,
        # The terminal's width, or 80 columns when it reports none (tqdm would draw
        # nothing at all in a terminal of width 0).
        ncols=shutil.get_terminal_size().columns,
        mininterval=0.1,
    )


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

    @property
    def encoding(self) -> str | None:
        # tqdm draws Unicode blocks on a UTF-8 stream, ASCII otherwise; the wrapper's own
        # ``encoding`` is io.TextIOBase's None, so ask the stream it wraps.
        return getattr(self.wrapper._out, "encoding", None)
