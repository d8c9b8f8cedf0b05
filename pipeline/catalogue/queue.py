"""A catalogue past one machine: one RQ job per book on Redis, rendered by any number of workers.

The engine is RQ (python-rq.org) and its own mechanisms do the bookkeeping:

- **Idempotent by content.** A job's id is ``BookJob.job_id`` (a hash of the summary, lexicon, voice, settings
  and destination). Enqueuing skips an id that is queued, running or finished, so the same catalogue enqueued
  twice does no work twice; an id that failed is enqueued afresh (its input may have been fixed meanwhile).
  Finished and failed jobs are kept ``KEEP_SECONDS`` (30 days).
- **A worker killed mid-job.** RQ's worker forks a work-horse per job and, while it runs, renews the job's
  entry in the queue's ``StartedJobRegistry`` every ``job_monitoring_interval`` seconds. A killed worker stops
  renewing; once the entry is older than its heartbeat TTL, the next maintenance pass of any worker (or any
  ``queue status``) finds it abandoned and, since every job is enqueued with ``Retry(max=RETRIES)``, puts it
  back on the queue for another worker. RQ's TTL is the monitoring interval + 60 s; ``BookWorker`` makes it
  ``abandoned_after`` seconds (default 90) and runs maintenance often enough to notice within that again.
- **Failures keep their error.** A book's expected failure (a bad summary) raises ``BookFailed``; an
  exception handler records its one-line message in the job's ``meta`` and spends no retries on it (the same
  input fails the same way). Other exceptions — a crash, a dead work-horse — use the retries.

The job function needs the worker's own cache and ffmpeg, which RQ does not pass to it: ``run_worker`` sets
them once, before the work loop, in ``_workplace``; each forked work-horse inherits that value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.catalogue.jobs import BookJob, BookResult, Workplace, render_book
from pipeline.errors import InputError, NetworkError, NlmgError

QUEUE_NAME = "nlmg-books"
RETRIES = 3  # how often a job a worker died on (or crashed in) is tried again
JOB_TIMEOUT = 3 * 3600  # seconds one book may take; RQ kills the work-horse 60 s past it
KEEP_SECONDS = 30 * 86400  # finished and failed jobs (and their errors) are kept this long
DEFAULT_ABANDONED_AFTER = 90  # seconds without a heartbeat before a running job counts as abandoned
_CONNECT_TIMEOUT = 5


class BookFailed(NlmgError):
    """A book's render failed in an expected way; the message is its one-line error."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


# --- connecting -------------------------------------------------------------------------------------------


def connect(url: str) -> Any:
    """A Redis connection for ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``), checked with a PING."""
    import redis

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise InputError(f"--queue {url!r} should look like redis://HOST:PORT/DB")
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=_CONNECT_TIMEOUT)
        connection.ping()
    except ValueError as exc:
        raise InputError(f"--queue {url!r} is not a Redis URL: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        raise NetworkError(f"cannot reach Redis at {url}: {exc}") from exc
    return connection


@contextlib.contextmanager
def _redis_errors(url: str) -> Iterator[None]:
    import redis

    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise NetworkError(f"Redis at {url} failed: {exc}") from exc


def _queue(connection: Any) -> Any:
    from rq import Queue

    return Queue(QUEUE_NAME, connection=connection)


# --- enqueuing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueued:
    source: str
    job_id: str
    state: str  # "queued" | "already queued" | "already running" | "already finished" | "queued again"


def enqueue_books(url: str, jobs: list[BookJob]) -> list[Enqueued]:
    """One RQ job per book, skipping books whose job is queued, running or finished already."""
    from rq import Retry
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    connection = connect(url)
    queue = _queue(connection)
    outcome = []
    with _redis_errors(url):
        for job in jobs:
            job_id = job.job_id
            state = "queued"
            try:
                existing = Job.fetch(job_id, connection=connection)
                status = existing.get_status(refresh=False)
            except NoSuchJobError:
                status = None
            if status == JobStatus.FINISHED:
                outcome.append(Enqueued(job.source, job_id, "already finished"))
                continue
            if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                outcome.append(Enqueued(job.source, job_id, "already queued"))
                continue
            if status == JobStatus.STARTED:
                outcome.append(Enqueued(job.source, job_id, "already running"))
                continue
            if status is not None:  # failed, stopped or canceled before: a fresh job with fresh retries
                existing.delete()
                state = "queued again"
            queue.enqueue(
                perform,
                job,
                job_id=job_id,
                description=job.source,
                retry=Retry(max=RETRIES),
                job_timeout=JOB_TIMEOUT,
                result_ttl=KEEP_SECONDS,
                failure_ttl=KEEP_SECONDS,
                meta={"source": job.source},
            )
            outcome.append(Enqueued(job.source, job_id, state))
    return outcome


# --- the job and the worker -------------------------------------------------------------------------------

_workplace: Workplace | None = None  # the worker's cache and ffmpeg; set by run_worker before its work loop


def perform(job: BookJob) -> dict[str, Any]:
    """The RQ job function: render one book with this worker's cache. A failed book raises ``BookFailed``."""
    result = render_book(job, _workplace or Workplace())
    if not result.ok:
        raise BookFailed(result.error or "failed", retry=result.transient)
    return result.to_dict()


def _keep_error(job: Any, kind: type[BaseException], value: BaseException, tb: Any) -> bool:
    """RQ exception handler: record a book's one-line error; spend no retries on an expected failure."""
    if isinstance(value, BookFailed):
        job.meta["error"] = str(value)
        if not value.retry:
            job.retries_left = 0
    else:
        job.meta["error"] = f"{kind.__name__}: {value}"
    with contextlib.suppress(Exception):
        job.save_meta()
    return True  # go on to RQ's own handler, which stores the traceback with the failed job


def _book_worker_class() -> type:
    from rq import Worker

    class BookWorker(Worker):  # type: ignore[misc]
        """RQ's forking worker with a configurable heartbeat TTL (RQ's own is the monitoring interval + 60 s)."""

        abandoned_after: int = DEFAULT_ABANDONED_AFTER

        def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
            return int(self.abandoned_after)

    return BookWorker


def run_worker(
    url: str,
    place: Workplace,
    *,
    burst: bool = False,
    abandoned_after: int = DEFAULT_ABANDONED_AFTER,
    name: str | None = None,
    logging_level: str = "INFO",
) -> bool:
    """Work the queue until stopped (or, with ``burst``, until it is empty). True when any job was done.

    Heartbeats come every ``abandoned_after / 3`` seconds; a job whose worker stopped sending them is taken
    back after ``abandoned_after`` seconds, at the next maintenance pass (every ``abandoned_after / 2``).
    """
    global _workplace
    if abandoned_after < 3:
        raise InputError("--abandoned-after must be at least 3 seconds")
    connection = connect(url)
    _workplace = place
    _load_default_voice()
    worker_class = _book_worker_class()
    maintenance = max(1, abandoned_after // 2)
    worker = worker_class(
        [_queue(connection)],
        connection=connection,
        name=name,
        worker_ttl=15 + maintenance,  # RQ waits worker_ttl - 15 s for a job between maintenance passes
        maintenance_interval=maintenance,
        job_monitoring_interval=max(1, abandoned_after // 3),
        exception_handlers=[_keep_error],
    )
    worker.abandoned_after = abandoned_after
    with _redis_errors(url):
        return bool(worker.work(burst=burst, logging_level=logging_level))


def _load_default_voice() -> None:
    """Load the bundled voice once, before the worker forks a work-horse per book: every horse inherits it.

    Loading a voice takes seconds (hibari's front end and session; Piper's longer) — longer than a short book's
    synthesis — and a work-horse's memory is gone when its book is done. The engines keep loaded voices, so the
    default engine's is loaded here. A voice that cannot load is left for the books to report.
    """
    from pipeline.narration.tts import DEFAULT_ENGINE, open_engine

    with contextlib.suppress(NlmgError):
        open_engine(DEFAULT_ENGINE)


# --- status -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    job_id: str
    source: str
    status: str  # queued | started | finished | failed | scheduled | …
    error: str | None = None
    result: dict[str, Any] | None = None
    ended_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "result": self.result,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def queue_status(url: str) -> list[JobState]:
    """Every job the queue knows: queued, started, finished and failed, each failed one with its error.

    Reading the started registry also runs RQ's cleanup of it: a job abandoned by a dead worker is put back
    on the queue (or failed, when out of retries) by this very call.
    """
    from rq.job import Job
    from rq.registry import (
        DeferredJobRegistry,
        FailedJobRegistry,
        FinishedJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    connection = connect(url)
    queue = _queue(connection)
    with _redis_errors(url):
        ids: list[str] = []
        for registry in (StartedJobRegistry, FinishedJobRegistry, FailedJobRegistry, ScheduledJobRegistry,
                         DeferredJobRegistry):  # fmt: skip
            ids.extend(registry(queue=queue).get_job_ids())
        ids.extend(queue.get_job_ids())  # after the started registry's cleanup, which may requeue jobs
        states = []
        for job in Job.fetch_many(list(dict.fromkeys(ids)), connection=connection):
            if job is not None:
                states.append(_state(job))
    order = {"started": 0, "queued": 1, "scheduled": 2, "deferred": 3, "failed": 4, "finished": 5}
    return sorted(states, key=lambda s: (order.get(s.status, 9), s.source, s.job_id))


def _state(job: Any) -> JobState:
    status = str(job.get_status(refresh=False).value if job.get_status(refresh=False) else "unknown")
    error = None
    result = None
    if status in ("failed", "stopped", "canceled"):
        error = job.meta.get("error") or _last_line(_exc_string(job))
    elif status == "finished":
        value = job.return_value()
        result = value if isinstance(value, dict) else None
    return JobState(job.id, str(job.meta.get("source") or job.description or job.id), status, error, result,
                    job.ended_at)  # fmt: skip


def _exc_string(job: Any) -> str:
    with contextlib.suppress(Exception):
        latest = job.latest_result()
        if latest is not None and latest.exc_string:
            return str(latest.exc_string)
    return ""


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def book_results(states: list[JobState]) -> list[BookResult]:
    """Finished and failed jobs as book results (the same table the local catalogue prints)."""
    results = []
    for state in states:
        if state.status == "finished" and state.result:
            known = {k: v for k, v in state.result.items() if k in BookResult.__dataclass_fields__}
            results.append(BookResult(**known))
        elif state.status == "failed":
            results.append(BookResult(state.source, "failed", state.job_id, error=state.error))
    return results
