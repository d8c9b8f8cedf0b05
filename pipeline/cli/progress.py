"""Progress display for long commands: one bar per stage on a terminal, silent otherwise (pipes, CI, tests)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click


class TerminalProgress:
    """Receives ``(stage, done, total)`` from the core and draws a Click progress bar per stage on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._stage: str | None = None
        self._bar: Any = None
        self._shown = 0

    def update(self, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            self._close()
            self._stage = stage
            self._bar = click.progressbar(length=1000, label=f"{stage:<22}", file=sys.stderr, show_eta=True)
            self._bar.__enter__()
            self._shown = 0
        target = int(1000 * done / total) if total else 1000
        if target > self._shown:
            self._bar.update(target - self._shown)
            self._shown = target

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._close()
