"""The bench session's progress bar (tqdm, on stderr) and the event lines written while it shows."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class Progress:
    # A tqdm bar on stderr when enabled; event lines written while it shows go through tqdm's own write
    # (the bar is cleared, the line printed, the bar redrawn), so no line is ever glued to the bar.
    def __init__(self, total: int, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm  # noqa: PLC0415  (only when a progress bar is shown)

            self.bar = tqdm(total=total, unit="h", desc="bench", leave=False, file=sys.stderr)

    def update(self, hour: int) -> None:
        if self.bar is not None:
            self.bar.update(max(0, hour - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        def write(text: str) -> None:
            if self.bar is None:
                log(text)
                return
            with self.bar.external_write_mode(file=sys.stderr):
                log(text)

        return write
