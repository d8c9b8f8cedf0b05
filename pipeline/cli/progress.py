"""Progress display for long commands: one bar per stage on a terminal, silent otherwise (pipes, CI, tests)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

import click

from pipeline.progress import ProgressEvent


class TerminalProgress:
    """Receives progress events from the core and shows it on stderr.

    ``enabled=None`` (the default) means a Click progress bar per stage on a terminal and nothing otherwise;
    ``True`` also reports to a pipe or log file, as plain lines (a stage's start and end, and its percentage
    every few seconds); ``False`` is silent.
    """

    LINE_EVERY = 2.0  # seconds between plain progress lines within one stage

    def __init__(self, enabled: bool | None = None) -> None:
        terminal = sys.stderr.isatty()
        self.bars = enabled is not False and terminal
        self.lines = enabled is True and not terminal
        self._stage: str | None = None
        self._bar: Any = None
        self._shown = 0
        self._last_line = 0.0  # plain lines: when the last one was written ...
        self._line_finished = False  # ... and whether it reported its stage's end

    def update(self, event: ProgressEvent) -> None:
        stage, done, total = event.stage, event.done, event.total
        if self.lines:
            self._line(stage, done, total)
        if not self.bars:
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

    def _line(self, stage: str, done: float, total: float) -> None:
        now = time.monotonic()
        finished = not total or done >= total
        if stage == self._stage and (self._line_finished or (not finished and now - self._last_line < self.LINE_EVERY)):
            return  # this stage's end is already reported, or its last line is too recent
        self._stage, self._line_finished, self._last_line = stage, finished, now
        percent = 100.0 if finished else 100 * done / total
        click.echo(f"{stage}: {percent:.1f}%", err=True)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._close()
