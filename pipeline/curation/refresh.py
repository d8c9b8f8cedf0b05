"""The refresh engine: checks every approved video and runs discovery searches through a ``MetadataSource``,
merging outcomes into the manifest so a failed check never erases the last good metadata (the statuses and
what each keeps are described in :mod:`pipeline.curation.manifest`).

Retries: ``rate_limited`` and ``unreachable`` are retried with exponential backoff inside a per-entry budget of
``socket_timeout × attempts``; a host that exhausted its retries gets a single attempt for the rest of the
refresh. A socket timeout bounds only the silence between two packets, so a site that trickles a byte a second
would never trip it: each check also has a hard deadline (its budget plus a second; a check past it is reported
``unreachable`` and left behind on its daemon thread), and so has the whole refresh (``deadline``: checks not
finished by then are reported ``error`` and keep their last-known metadata). Permanent failures are re-checked
once older than ``max_age``, transient ones on every refresh. Nothing here prints: progress flows out as
``ProgressEvent``s.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.curation.curated_list import CuratedList, DiscoverySearch, load_curated_list
from pipeline.curation.manifest import (
    LOCK_NAME,
    RETRYABLE_NOW,
    STATUSES,
    TRANSIENT_FAILURES,
    Manifest,
    SearchRecord,
    VideoEntry,
    load_manifest,
    manifest_path,
)
from pipeline.curation.playlist import write_outputs
from pipeline.curation.ytdlp import CheckFailed, MetadataSource, YtDlpSource, http_url, metadata_from_info
from pipeline.errors import ConfigError, StrictCheckError
from pipeline.progress import Progress, ProgressEvent, quiet
from pipeline.times import iso_utc, parse_iso

# --------------------------------------------------------------------------------------------------------------
# Refresh


@dataclass(frozen=True)
class RefreshSettings:
    """Defaults for ``videos refresh``; the project file's ``[videos]`` table and options layer on top."""

    jobs: int = 4
    max_age: timedelta = timedelta(hours=24)
    force: bool = False
    socket_timeout: float = 10.0
    attempts: int = 3  # tries per entry for rate-limited/unreachable checks, counting the first
    backoff: float = 1.0  # seconds before the 2nd try, doubling after
    sleep: float = 0.0  # polite pause before each HTTP request yt-dlp makes
    proxy: str | None = None
    discover: bool = True
    deadline: float = 600.0  # seconds the whole refresh may take; checks still running then are given up

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.attempts < 1:
            raise ConfigError("videos: jobs and retries must be at least 1")
        if self.deadline <= 0:
            raise ConfigError("videos: deadline must be positive")
        if self.socket_timeout <= 0 or self.sleep < 0 or self.backoff < 0 or self.max_age < timedelta(0):
            raise ConfigError("videos: timeout must be positive; max_age, sleep and backoff must not be negative")

    @property
    def entry_budget(self) -> float:
        """Seconds one entry may take in the worst case (every try timing out)."""
        return self.socket_timeout * self.attempts

    @property
    def entry_deadline(self) -> float:
        """Seconds after which a check is given up whatever it is doing (a site trickling bytes never times out)."""
        return self.entry_budget + 1.0


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did, for the summary line and ``--strict``."""

    manifest: Manifest
    checked: int
    fresh: int
    searched: int
    outcomes: Mapping[str, int]
    out_dir: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)

    @property
    def network_down(self) -> bool:
        """Every check that was attempted failed to connect."""
        attempted = self.checked + self.searched
        return attempted > 0 and self.outcomes.get("unreachable", 0) == attempted

    @property
    def not_ok(self) -> tuple[VideoEntry, ...]:
        return tuple(entry for entry in self.manifest.approved if entry.status != "ok")

    def summary(self) -> str:
        """One line saying what happened; the first thing to read after a refresh."""
        approved, candidates = self.manifest.approved, self.manifest.candidates
        where = f" in {manifest_path(self.out_dir)}" if self.out_dir is not None else ""
        if self.network_down:
            attempted = self.checked + self.searched
            return (
                f"No network: {'all ' if attempted > 1 else ''}{_count(attempted, 'check')} failed to connect; "
                f"kept last-known metadata for every entry ({len(approved)} approved, "
                f"{_count(len(candidates), 'candidate')}){where}"
            )
        counts = Counter(entry.status for entry in approved)
        parts = [f"{counts[status]} {status}" for status in STATUSES if counts[status]]
        text = _count(len(approved), "approved video")
        if parts:
            text += ": " + ", ".join(parts)
        text += f" (checked {self.checked}, {self.fresh} still fresh)"
        kept = sum(1 for entry in approved if entry.status != "ok" and entry.last_ok_at)
        if kept:
            text += f"; kept last-known metadata for {kept}"
        searches = _count(len(self.manifest.searches), "search", "searches")
        text += f"; {_count(len(candidates), 'candidate')} from {searches}{where}"
        return text


def _count(number: int, word: str, plural: str | None = None) -> str:
    return f"{number} {word if number == 1 else plural or word + 's'}"


def refresh_videos(
    list_path: Path,
    out_dir: Path,
    settings: RefreshSettings = RefreshSettings(),
    *,
    source: MetadataSource | None = None,
    progress: Progress = quiet,
    now: datetime | None = None,
) -> RefreshReport:
    """Load the list and the last manifest, check what is stale, write the manifest and its views.

    One refresh at a time per output folder (a lock file); a second one fails at once with ``OutputError``.
    """
    curated = load_curated_list(list_path)
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        atomic.remove_stale_temps(out_dir)
        previous = load_manifest(out_dir)
        own_source = source is None
        if source is None:
            source = YtDlpSource(socket_timeout=settings.socket_timeout, sleep=settings.sleep, proxy=settings.proxy)
        try:
            report = refresh(curated, previous, settings, source=source, progress=progress, now=now)
        finally:
            if own_source:
                source.close()
        files = write_outputs(report.manifest, out_dir)
        return replace(report, out_dir=out_dir, files=files)


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """One writer per output folder: a second refresh or approve fails at once instead of interleaving."""
    atomic.make_folder(out_dir, "output folder")
    busy = f"another videos refresh is writing to {out_dir} (lock {out_dir / LOCK_NAME})"
    with atomic.folder_lock(out_dir, LOCK_NAME, busy=busy):
        yield


def refresh(
    curated: CuratedList,
    previous: Manifest | None,
    settings: RefreshSettings,
    *,
    source: MetadataSource,
    progress: Progress = quiet,
    now: datetime | None = None,
) -> RefreshReport:
    """The refresh engine: merge fresh metadata into the last manifest. Pure apart from ``source``'s network use."""
    now = now or datetime.now(UTC)
    stamp = iso_utc(now)
    old_entries = {entry.url: entry for entry in previous.entries} if previous else {}
    old_searches = {record.query: record for record in previous.searches} if previous else {}

    approved: list[VideoEntry] = []
    video_jobs: list[tuple[int, str]] = []
    for index, video in enumerate(curated.videos):
        old = old_entries.get(video.url)
        if old is None:
            entry = VideoEntry(url=video.url, role="approved", kind=video.kind, note=video.note, status="error")
        else:
            # The list is the truth for what the curator says; the manifest for what the site says.
            entry = replace(old, role="approved", kind=video.kind, note=video.note, query=None)
        approved.append(entry)
        if settings.force or _is_stale(entry.status, entry.checked_at, now, settings.max_age):
            video_jobs.append((index, video.url))

    search_jobs: list[DiscoverySearch] = []
    if settings.discover:
        for search in curated.searches:
            old_record = old_searches.get(search.query)
            if (
                settings.force
                or old_record is None
                or old_record.limit != search.limit
                or _is_stale(old_record.status, old_record.checked_at, now, settings.max_age)
            ):
                search_jobs.append(search)

    runner = _CheckRunner(settings, prepare=getattr(source, "prepare", None))
    total = len(video_jobs) + len(search_jobs)
    outcomes: Counter[str] = Counter()
    search_results: dict[str, _Outcome] = {}

    tasks: list[tuple[str, Any, Callable[[], Any], str]] = [
        ("video", index, _bind(source.extract, url), _host_key(url)) for index, url in video_jobs
    ] + [("search", search, _bind(source.search, search.query, search.limit), "youtube.com") for search in search_jobs]
    finished = runner.run_all([(task[2], task[3]) for task in tasks])
    for done, (number, outcome) in enumerate(finished, start=1):
        what, key = tasks[number][0], tasks[number][1]
        outcomes[outcome.status] += 1
        if what == "video":
            approved[key] = _merge(approved[key], outcome, stamp)
            label = approved[key].display_title
        else:
            search_results[key.query] = outcome
            label = f"search: {key.query}"
        progress(ProgressEvent("Checking videos", done, total, detail=label, status=outcome.status))

    searches, candidates = _discovery(curated, previous, approved, search_results, old_searches, stamp)
    manifest = Manifest(
        title=curated.title,
        list_path=str(curated.path),
        refreshed_at=stamp,
        entries=tuple(approved) + tuple(candidates),
        searches=tuple(searches),
    )
    return RefreshReport(
        manifest=manifest,
        checked=len(video_jobs),
        fresh=len(curated.videos) - len(video_jobs),
        searched=len(search_jobs),
        outcomes=dict(outcomes),
    )


def _bind(function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: function(*args)


def _is_stale(status: str, checked_at: str | None, now: datetime, max_age: timedelta) -> bool:
    if status in TRANSIENT_FAILURES or checked_at is None:
        return True
    checked = parse_iso(checked_at)
    return checked is None or now - checked >= max_age


def _merge(entry: VideoEntry, outcome: _Outcome, stamp: str) -> VideoEntry:
    """Fresh metadata replaces the old on success; a failure changes only the status fields."""
    if outcome.status == "ok":
        fresh = metadata_from_info(outcome.value)
        return replace(entry, **fresh, status="ok", checked_at=stamp, last_ok_at=stamp, error=None)
    return replace(entry, status=outcome.status, checked_at=stamp, error=outcome.detail)


def _discovery(
    curated: CuratedList,
    previous: Manifest | None,
    approved: Sequence[VideoEntry],
    results: Mapping[str, _Outcome],
    old_searches: Mapping[str, SearchRecord],
    stamp: str,
) -> tuple[list[SearchRecord], list[VideoEntry]]:
    """Candidates per search: new results when the search ran, the previous ones when it failed or was fresh."""
    old_candidates: dict[str, list[VideoEntry]] = {}
    for entry in previous.candidates if previous else ():
        old_candidates.setdefault(entry.query or "", []).append(entry)
    taken_urls = {entry.url for entry in approved} | {entry.location for entry in approved}
    taken_ids = {(entry.extractor, entry.id) for entry in approved if entry.id}

    records: list[SearchRecord] = []
    candidates: list[VideoEntry] = []
    for search in curated.searches:
        outcome = results.get(search.query)
        old = old_searches.get(search.query)
        if outcome is not None and outcome.status == "ok":
            found = [_candidate(info, search, stamp) for info in outcome.value]
            batch = [entry for entry in found if entry is not None]
            record = SearchRecord(search.query, search.limit, search.kind, "ok", len(batch), stamp, stamp)
        else:
            batch = [replace(entry, kind=search.kind) for entry in old_candidates.get(search.query, [])]
            if outcome is not None:
                record = SearchRecord(
                    search.query,
                    search.limit,
                    search.kind,
                    outcome.status,
                    len(batch),
                    stamp,
                    old.last_ok_at if old else None,
                    outcome.detail,
                )
            elif old is not None:
                record = replace(old, kind=search.kind)
            else:  # discovery switched off and never run
                continue
        records.append(record)
        for entry in batch:
            if entry.url in taken_urls or entry.location in taken_urls or (entry.extractor, entry.id) in taken_ids:
                continue
            taken_urls.update({entry.url, entry.location})
            candidates.append(entry)
    return records, candidates


def _candidate(info: Mapping[str, Any], search: DiscoverySearch, stamp: str) -> VideoEntry | None:
    metadata = metadata_from_info(info)
    url = metadata["webpage_url"] or http_url(info.get("url"))
    if url is None:
        return None
    metadata["webpage_url"] = metadata["webpage_url"] or url
    return VideoEntry(
        url=url,
        role="candidate",
        kind=search.kind,
        query=search.query,
        status="ok",
        checked_at=stamp,
        last_ok_at=stamp,
        **metadata,
    )


def _host_key(url: str) -> str:
    """Entries on one site share a fate: a host that is down or rate-limiting us is tried once per entry after."""
    netloc = urllib.parse.urlsplit(url).netloc.lower()
    netloc = re.sub(r"^(www|m)\.", "", netloc)
    return "youtube.com" if netloc in ("youtu.be", "youtube-nocookie.com") else netloc


@dataclass(frozen=True)
class _Outcome:
    status: str
    value: Any = None
    detail: str | None = None
    attempts: int = 1


class _CheckRunner:
    """Runs checks on a bounded set of worker threads with per-entry retries, backoff, a per-host circuit breaker
    and deadlines."""

    def __init__(self, settings: RefreshSettings, prepare: Callable[[], None] | None = None) -> None:
        self._settings = settings
        self._prepare = prepare  # the source's slow start, done on each worker thread before its first check
        self._troubled_hosts: set[str] = set()
        self._lock = threading.Lock()

    def run_all(self, tasks: Sequence[tuple[Callable[[], Any], str]]) -> Iterable[tuple[int, _Outcome]]:
        """Yield ``(task number, outcome)`` as checks finish, each within its deadline and all within the run's.

        Checks run on daemon threads: one stuck past its deadline is reported and left behind (a fresh worker takes
        its place), and neither it nor Ctrl-C can keep the process from exiting. Ctrl-C cancels what has not started.
        """
        if not tasks:
            return
        settings = self._settings
        run_deadline = time.monotonic() + settings.deadline
        waiting: list[int] = list(range(len(tasks)))[::-1]  # popped from the end: task 0 first
        events: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()
        running: dict[int, float] = {}  # task number -> when its check started
        pending = set(range(len(tasks)))
        stop = threading.Event()
        lock = threading.Lock()

        def work() -> None:
            if self._prepare is not None:
                self._prepare()  # yt-dlp's first start takes seconds on a busy machine: not part of any check's time
            while not stop.is_set():
                with lock:
                    if not waiting:
                        return
                    number = waiting.pop()
                events.put(("start", number, time.monotonic()))
                action, host = tasks[number]
                try:
                    outcome = self._check(action, host)
                except BaseException as exc:  # noqa: BLE001 - reported in the calling thread
                    events.put(("crash", number, exc))
                    return
                events.put(("done", number, outcome))
                if number not in pending:
                    return  # this worker was given up on and replaced while it ran

        def start_worker() -> None:
            threading.Thread(target=work, name="nlmg-videos", daemon=True).start()

        for _ in range(min(max(1, settings.jobs), len(tasks))):
            start_worker()
        try:
            while pending:
                now = time.monotonic()
                if now >= run_deadline:
                    detail = f"not checked: the refresh's deadline of {settings.deadline:g} s passed first"
                    for number in sorted(pending):
                        yield number, _Outcome("error", detail=detail)
                    return
                limits = [started + settings.entry_deadline for started in running.values()]
                try:
                    kind, number, value = events.get(timeout=max(0.0, min([run_deadline, *limits]) - now))
                except queue.Empty:
                    now = time.monotonic()
                    for number, started in list(running.items()):
                        if now >= started + settings.entry_deadline:
                            del running[number]
                            pending.discard(number)
                            start_worker()  # the stuck one keeps its thread; the refresh keeps its pace
                            detail = f"no complete answer within {settings.entry_deadline:g} s (the site is too slow)"
                            yield number, _Outcome("unreachable", detail=detail)
                    continue
                if kind == "start":
                    if number in pending:
                        running[number] = value
                elif number in pending:
                    running.pop(number, None)
                    pending.discard(number)
                    if kind == "crash":
                        raise value
                    yield number, value
        finally:
            stop.set()

    def _check(self, action: Callable[[], Any], host: str) -> _Outcome:
        settings = self._settings
        with self._lock:
            attempts = 1 if host in self._troubled_hosts else max(1, settings.attempts)
        deadline = time.monotonic() + settings.entry_budget
        attempt = 0
        failure = CheckFailed("error", "not checked")
        while attempt < attempts:
            attempt += 1
            try:
                return _Outcome("ok", value=action(), attempts=attempt)
            except CheckFailed as exc:
                failure = exc
            if failure.status not in RETRYABLE_NOW or attempt == attempts:
                break
            # Keep a full socket timeout for the next try inside the entry's budget; else stop here.
            spare = deadline - time.monotonic() - settings.socket_timeout
            if spare < 0:
                break
            time.sleep(min(settings.backoff * 2 ** (attempt - 1), spare))
        if failure.status in RETRYABLE_NOW:
            with self._lock:
                self._troubled_hosts.add(host)
        return _Outcome(failure.status, detail=failure.detail, attempts=attempt)


def strict_check(report: RefreshReport) -> None:
    """Raise ``StrictCheckError`` naming every approved video that is not ``ok``."""
    failing = report.not_ok
    if failing:
        listed = ", ".join(f"{entry.url} ({entry.status})" for entry in failing)
        raise StrictCheckError(
            f"--strict: {len(failing)} of {len(report.manifest.approved)} approved videos are not ok: {listed}"
        )
