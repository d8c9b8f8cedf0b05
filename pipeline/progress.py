"""Progress: the one event type every stage reports, and the one callback shape that receives it.

Stages never print; they call ``progress(ProgressEvent(stage, done, total))`` and the caller (the CLI) decides
how to show it. ``done`` and ``total`` are in whatever unit suits the stage (sentences, seconds, checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # what is being done, as a user reads it ("Mastering narration")
    done: float
    total: float
    detail: str | None = None  # the item just finished, where a stage reports items (a video's title)
    status: str | None = None  # that item's outcome, where it has one ("ok", "removed")

    @property
    def fraction(self) -> float:
        return 1.0 if not self.total else min(1.0, max(0.0, self.done / self.total))


Progress = Callable[[ProgressEvent], None]


def quiet(event: ProgressEvent) -> None:
    """A progress callback that shows nothing (the default everywhere)."""


def seconds_of(progress: Progress, stage: str, total: float) -> Callable[[float], None]:
    """Adapt ``progress`` to ffmpeg's progress stream, which reports seconds of media processed."""
    return lambda seconds: progress(ProgressEvent(stage, min(seconds, total), total))
