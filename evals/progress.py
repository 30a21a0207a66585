"""Progress of long evaluation steps, printed by the command layer on stderr (library code only reports).

On a terminal: a tqdm bar per stage. Otherwise (a pipe, CI): one plain line when a stage starts, then at most
one every ``interval_s`` seconds, and one when it ends, so a log shows the run is alive without flooding.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class StderrProgress:
    """A :data:`evals.executors.ProgressFn` that prints; also takes one-off step messages."""

    def __init__(self, stream: TextIO | None = None, *, interval_s: float = 5.0, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.enabled = enabled
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: Any = None
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            self._finish()
            self._stage = stage
            self._last = 0.0
            if self._tty:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=stage, unit="item", file=self.stream, leave=False)
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()
            if done >= total:
                self._finish()
            return
        now = time.monotonic()
        if done == 0 or done >= total or now - self._last >= self.interval_s:
            print(f"facegate: {stage}: {done}/{total}", file=self.stream, flush=True)
            self._last = now

    def step(self, message: str) -> None:
        """A step with no count (``preparing the shipped sets``)."""
        if self.enabled:
            self._finish()
            print(f"facegate: {message}", file=self.stream, flush=True)

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._stage = None

    def close(self) -> None:
        self._finish()
