"""Catalogue commands: ``nlmg-media worker`` and ``nlmg-media queue status``, and the catalogue's result table.

``render`` with several summaries (or a folder) goes through ``render_catalogue`` here; with ``--queue`` it
enqueues instead. The work is in ``pipeline.catalogue``; this module parses options and draws tables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import click

from pipeline.cache import DEFAULT_LIMIT_MB
from pipeline.catalogue import local, queue
from pipeline.catalogue.jobs import BookJob, BookResult, Workplace
from pipeline.cli.progress import TerminalProgress
from pipeline.errors import NlmgError
from pipeline.ffmpeg import FFmpeg, locate
from pipeline.progress import ProgressEvent
from pipeline.render import DEFAULT_CACHE


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render_many(jobs: list[BookJob], place: Workplace, workers: int, as_json: bool, show_progress: bool | None) -> None:
    """Render a catalogue locally, print its table (or JSON); one failed book makes the command fail."""
    import time

    start = time.perf_counter()
    with TerminalProgress(enabled=False if as_json and show_progress is None else show_progress) as progress:

        def show(event: ProgressEvent) -> None:
            if event.detail and progress.lines:  # to a log: one line per finished book as well
                click.echo(f"{event.stage}: {event.detail} {event.status}", err=True)
            progress.update(event)

        results = local.render_catalogue(jobs, place, workers, show)
    seconds = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "books": [r.to_dict() for r in results],
                    "rendered": len(results) - len(failed),
                    "failed": len(failed),
                    "processes": min(workers, len(jobs)),
                    "seconds": round(seconds, 3),
                },
                indent=2,
            )
        )
    else:
        click.echo(result_table(results))
        click.echo(
            f"Rendered {len(results) - len(failed)} of {len(results)} books in {seconds:.1f} s "
            f"({min(workers, len(jobs))} at a time)."
        )
    if failed:
        names = ", ".join(Path(r.source).name for r in failed)
        raise NlmgError(f"{len(failed)} of {len(results)} books failed: {names}")


def enqueue_many(url: str, jobs: list[BookJob], as_json: bool) -> None:
    enqueued = queue.enqueue_books(url, jobs)
    if as_json:
        click.echo(json.dumps([e.__dict__ for e in enqueued], indent=2))
        return
    rows = [(e.source, e.job_id, e.state) for e in enqueued]
    click.echo(_table(("book", "job", "state"), rows))
    new = sum(1 for e in enqueued if e.state in ("queued", "queued again"))
    click.echo(f"Enqueued {new} of {len(enqueued)} books on {url} (queue {queue.QUEUE_NAME!r}).")


def result_table(results: list[BookResult]) -> str:
    rows = [
        (r.source, _duration(r.duration), ("already uploaded" if r.reused else r.made), r.status, r.error or "")
        for r in results
    ]
    return _table(("book", "duration", "narration", "status", "error"), rows)


def _duration(value: float | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
             for line in [header, *rows]]  # fmt: skip
    return "\n".join(lines)


def _workplace(ffmpeg: FFmpeg | None, cache_dir: Path, cache_limit_mb: int, staging: Path | None,
               endpoint_url: str | None) -> Workplace:  # fmt: skip
    return Workplace(cache_dir, ffmpeg, cache_limit_mb or None, staging, endpoint_url)


_QUEUE_OPTION = click.option(
    "--queue", "queue_url", required=True, metavar="URL", help="Redis holding the queue: redis://HOST:PORT/DB."
)


@click.command()
@_QUEUE_OPTION
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (default: wait for more books).")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), default=DEFAULT_CACHE, show_default=True,
              metavar="DIR", help="This worker's cache (workers on one machine may share it).")  # fmt: skip
@click.option("--cache-limit", "cache_limit_mb", type=click.IntRange(min=0), default=DEFAULT_LIMIT_MB,
              show_default=True, metavar="MB", help="Keep the cache under this size (0: no limit).")  # fmt: skip
@click.option("--staging", type=click.Path(path_type=Path), metavar="DIR",
              help="Where books bound for s3:// are rendered before upload (default: beside the cache).")  # fmt: skip
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, R2, …) for s3:// outputs.")
@click.option("--abandoned-after", type=click.IntRange(min=3), default=queue.DEFAULT_ABANDONED_AFTER,
              show_default=True, metavar="SECONDS",
              help="A running book whose worker sent no heartbeat this long is given to another worker.")  # fmt: skip
@click.option("--name", help="Worker name shown by RQ (default: a random id).")
@click.option("--quiet", is_flag=True, help="Log warnings and errors only.")
@click.pass_context
def worker(
    ctx: click.Context,
    queue_url: str,
    burst: bool,
    cache_dir: Path,
    cache_limit_mb: int,
    staging: Path | None,
    endpoint_url: str | None,
    abandoned_after: int,
    name: str | None,
    quiet: bool,
) -> None:
    """Render books from the queue (an RQ worker). Run one per core, on as many machines as you like.

    Each book is rendered into the destination it was enqueued with (render --out): a folder every worker
    can reach, or s3://bucket/prefix. A worker killed mid-book leaves it to another worker; Ctrl-C finishes
    the current book first (twice: stop now).
    """
    place = _workplace(locate(ctx.obj["ffmpeg"]), cache_dir, cache_limit_mb, staging, endpoint_url)
    queue.run_worker(
        queue_url, place, burst=burst, abandoned_after=abandoned_after, name=name,
        logging_level="WARNING" if quiet else "INFO",
    )  # fmt: skip


@click.group(name="queue")
def queue_group() -> None:
    """Inspect the render queue on Redis."""


@queue_group.command()
@_QUEUE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
def status(queue_url: str, as_json: bool) -> None:
    """Queued, started, finished and failed books, each failed one with its error."""
    states = queue.queue_status(queue_url)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in states], indent=2))
        return
    counts: dict[str, int] = {}
    for state in states:
        counts[state.status] = counts.get(state.status, 0) + 1
    rows = []
    for s in states:
        result = s.result or {}
        rows.append((s.source, s.status, _duration(result.get("duration")), str(result.get("made") or ""),
                     s.error or ""))  # fmt: skip
    if rows:
        click.echo(_table(("book", "status", "duration", "narration", "error"), rows))
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("queued", "started", "finished", "failed"))
    click.echo(f"Queue {queue.QUEUE_NAME!r} on {queue_url}: {summary}.")
