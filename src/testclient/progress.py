"""A progress line for long `kv` commands, drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# The line is redrawn at most this often (seconds).
REDRAW_SECONDS = 0.1


class Progress:
    """`LABEL: DONE/TOTAL (P%)` on one line of `stream`, redrawn in place; nothing unless a tty.

    A script that pipes or redirects stderr gets no progress lines in its logs.
    """

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self._label = label
        self._total = total
        self._stream = sys.stderr if stream is None else stream
        self._on = self._stream.isatty()
        self._drawn = 0.0
        self._done = 0

    def update(self, done: int) -> None:
        self._done = done
        now = time.monotonic()
        if self._on and now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self._draw()

    def finish(self) -> None:
        """Draw the last state and end the line."""
        if self._on:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        share = 100 * self._done // self._total if self._total else 100
        self._stream.write(f"\r{self._label}: {self._done}/{self._total} ({share}%)")
        self._stream.flush()
