"""A catalogue on one machine: books rendered by a pool of processes sharing one cache.

Each book renders in a process of its own (``spawn``: a fresh interpreter, so no lock or thread of the parent
is inherited; the voice model is loaded once per process and reused for its next books). The cache is safe to
share: entries are written atomically and every render holds it in shared mode. One book's failure comes back
as its result; the others go on. Progress of the whole catalogue is one stream of events: per book, an estimate
from the stage events its process sends back, and one event with the book's outcome when it ends.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from pipeline.catalogue.jobs import BookJob, BookResult, Workplace, render_book
from pipeline.progress import Progress, ProgressEvent, quiet

STAGE = "Rendering catalogue"


def render_catalogue(
    jobs: list[BookJob], place: Workplace, workers: int, progress: Progress = quiet
) -> list[BookResult]:
    """Render every book, ``workers`` at a time; results in the order of ``jobs``."""
    tracker = _Tracker(len(jobs), progress, stages_per_book=2 + (1 if any(j.settings.video for j in jobs) else 0))
    tracker.start()
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for index, job in enumerate(jobs):
            result = render_book(job, place, lambda event, i=index: tracker.stage(i, event))  # type: ignore[misc]
            tracker.finished(index, result)
            results.append(result)
        return results
    return _pool(jobs, place, workers, tracker)


def _pool(jobs: list[BookJob], place: Workplace, workers: int, tracker: _Tracker) -> list[BookResult]:
    context = multiprocessing.get_context("spawn")
    events: Any = context.Queue()
    results: dict[int, BookResult] = {}
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=context, initializer=_init_child, initargs=(events,)
    ) as pool:
        pending: dict[Future[BookResult], int] = {
            pool.submit(_render_in_child, index, job, place): index for index, job in enumerate(jobs)
        }
        try:
            while pending:
                done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(events, tracker)
                for future in done:
                    index = pending.pop(future)
                    results[index] = _outcome(future, jobs[index])
                    tracker.finished(index, results[index])
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    _drain(events, tracker)
    return [results[i] for i in range(len(jobs))]


def _outcome(future: Future[BookResult], job: BookJob) -> BookResult:
    try:
        return future.result()
    except BrokenProcessPool:
        error = "the process rendering it died (killed, or out of memory)"
    except Exception as exc:  # a bug in one book's render must not lose the others' results
        error = f"internal error: {type(exc).__name__}: {exc}"
    return BookResult(job.source, "failed", job.job_id, error=error)


# --- in the child process ---------------------------------------------------------------------------------

_events: Any = None  # the parent's event queue, set once per child process by the pool's initializer


def _init_child(events: Any) -> None:
    global _events
    _events = events


def _render_in_child(index: int, job: BookJob, place: Workplace) -> BookResult:
    def report(event: ProgressEvent) -> None:
        if _events is not None:
            _events.put((index, event.stage, event.done, event.total))

    return render_book(job, place, report)


def _drain(events: Any, tracker: _Tracker) -> None:
    while True:
        try:
            index, stage, done, total = events.get_nowait()
        except queue_module.Empty:
            return
        tracker.stage(index, ProgressEvent(stage, done, total))


# --- progress of the whole catalogue ----------------------------------------------------------------------


@dataclass
class _Tracker:
    """Turns per-book stage events into one catalogue stream: done books plus an estimate for running ones."""

    books: int
    progress: Progress
    stages_per_book: int
    _stages: dict[int, list[str]] = field(default_factory=dict)
    _fraction: dict[int, float] = field(default_factory=dict)
    _finished: set[int] = field(default_factory=set)

    def start(self) -> None:
        self.progress(ProgressEvent(STAGE, 0, self.books))

    def stage(self, index: int, event: ProgressEvent) -> None:
        if index in self._finished:
            return
        seen = self._stages.setdefault(index, [])
        if event.stage not in seen:
            seen.append(event.stage)
        estimate = (len(seen) - 1 + event.fraction) / max(self.stages_per_book, len(seen))
        self._fraction[index] = max(self._fraction.get(index, 0.0), min(0.95, estimate))
        self._emit()

    def finished(self, index: int, result: BookResult) -> None:
        self._finished.add(index)
        self._fraction[index] = 1.0
        self._emit(detail=result.source, status=result.status)

    def _emit(self, detail: str | None = None, status: str | None = None) -> None:
        done = sum(self._fraction.values())
        self.progress(ProgressEvent(STAGE, round(done, 3), self.books, detail=detail, status=status))
