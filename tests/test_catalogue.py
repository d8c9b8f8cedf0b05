"""Issue 15: a catalogue of summaries — a local process pool, an RQ queue on a real Redis with two workers (one
SIGKILLed mid-book), S3 output against moto on loopback, and one feed from the whole catalogue."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.catalogue import jobs as catalogue_jobs
from pipeline.catalogue import queue as catalogue_queue
from pipeline.catalogue import storage
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.render import RenderSettings

ROOT = Path(__file__).resolve().parent.parent

# Two or three sentences each: the point is the catalogue, not the narration.
BOOKS = {
    "harbour.md": "# The Quiet Harbour\n*by Ada Example (1999)*\n\nMara arrives at the harbour. She rents a room.\n",
    "orchard.md": "# The Last Orchard\n*by Ben Sample*\n\nThe trees are old. Nobody picks the apples now.\n",
    "signal.md": "# Signal Hill\n\nA radio hums on the hill. Tom listens every night. Nobody answers.\n",
    "winter.md": "# Winter Ledger\n*by Cleo Draft (2011)*\n\nThe shop keeps two books. One of them lies.\n",
    "lantern.md": "# The Lantern Room\n\nThe keeper writes letters. The sea keeps them.\n",
    "bad.md": "",  # empty: fails alone with its one-line error
}
GOOD = sorted(name for name in BOOKS if name != "bad.md")


def write_catalogue(folder: Path, books: dict[str, str] = BOOKS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in books.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def speech_entries(cache: Path) -> set[str]:
    return {p.name for p in (cache / "speech").rglob("*") if p.is_file()} if (cache / "speech").is_dir() else set()


def narration_seconds(mp3: Path) -> float:
    from mutagen.mp3 import MP3

    return float(MP3(mp3).info.length)


# ------------------------------------------------------------------------------------------ ids and inputs


def test_job_id_follows_content_settings_and_destination(tmp_path: Path) -> None:
    folder = write_catalogue(tmp_path / "books")
    settings = RenderSettings(video=False)
    first = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], settings, "out")}
    again = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], settings, "out")}
    assert first == again and len(set(first.values())) == len(BOOKS)
    assert list(first) == sorted(BOOKS)  # a folder stands for its *.md files, by name

    (folder / "orchard.md").write_text(BOOKS["orchard.md"] + "\nA new sentence.\n", "utf-8")
    edited = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], settings, "out")}
    assert edited["orchard.md"] != first["orchard.md"] and edited["signal.md"] == first["signal.md"]
    with_video = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], RenderSettings(), "out")}
    elsewhere = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], settings, "s3://b/p")}
    assert with_video["signal.md"] != first["signal.md"] != elsewhere["signal.md"]

    (folder / "lexicon.toml").write_text('[words]\nTom = "Tomm"\n', "utf-8")
    lexicon = {j.name: j.job_id for j in catalogue_jobs.book_jobs([folder], settings, "out")}
    assert lexicon["signal.md"] != first["signal.md"]


def test_missing_summary_and_empty_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="summary not found"):
        catalogue_jobs.expand_summaries([tmp_path / "nope.md"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="summary is a folder with no summaries"):
        catalogue_jobs.expand_summaries([tmp_path / "empty"])


def test_queue_url_must_be_redis_and_reachable() -> None:
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["queue", "status", "--queue", "http://127.0.0.1:1/0"])
    assert result.exit_code == 1
    assert result.stderr == "Error: --queue 'http://127.0.0.1:1/0' should look like redis://HOST:PORT/DB\n"
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(main, ["queue", "status", "--queue", f"redis://127.0.0.1:{port}/0"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach Redis at redis://127.0.0.1:{port}/0: ")
    assert result.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------ one machine


@pytest.mark.media
def test_local_catalogue_renders_in_parallel_and_one_bad_book_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_catalogue(tmp_path / "books", {n: BOOKS[n] for n in ("harbour.md", "orchard.md", "bad.md")})
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["render", str(folder), "--out", str(out), "--cache", str(cache), "--no-video", "--jobs", "2"]
    result = CliRunner(mix_stderr=False).invoke(main, [*args, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    by_name = {Path(b["source"]).name: b for b in report["books"]}
    errors = {name: book.get("error") for name, book in by_name.items() if book["status"] != "rendered"}
    assert result.stderr == "Error: 1 of 3 books failed: bad.md\n", errors
    assert by_name["bad.md"]["status"] == "failed"
    assert by_name["bad.md"]["error"] == f"summary is empty: {folder / 'bad.md'}"
    for name, slug in (("harbour.md", "the-quiet-harbour"), ("orchard.md", "the-last-orchard")):
        book = by_name[name]
        assert book["status"] == "rendered" and book["out"] == str(out / slug)
        assert book["made"] == f"synthesised {book['sentences']}/{book['sentences']}"
        assert abs(narration_seconds(out / slug / "narration.mp3") - book["duration"]) < 0.2
    assert report["processes"] == 2

    again = CliRunner(mix_stderr=False).invoke(main, args)  # the table, all from the cache
    assert again.exit_code == 1
    lines = again.stdout.splitlines()
    assert lines[0].split() == ["book", "duration", "narration", "status", "error"]
    rows = {Path(line.split()[0]).name: line for line in lines[1:4]}
    assert "cached" in rows["harbour.md"] and "rendered" in rows["harbour.md"]
    assert "failed" in rows["bad.md"] and "summary is empty" in rows["bad.md"]
    assert lines[-1].startswith("Rendered 2 of 3 books in ")

    # One feed from the whole catalogue, episodes in a stable order whatever order the folders are named in.
    monkeypatch.chdir(tmp_path)
    folders = [str(out / "the-quiet-harbour"), str(out / "the-last-orchard")]
    assert feed_titles(folders, tmp_path / "site") == ["The Quiet Harbour", "The Last Orchard"]
    assert feed_titles(folders[::-1], tmp_path / "site") == ["The Quiet Harbour", "The Last Orchard"]


def feed_titles(render_dirs: list[str], site_dir: Path, *extra: str) -> list[str]:
    from lxml import etree

    args = ["publish", *render_dirs, "--base-url", "https://example.org/books", "--site", str(site_dir), *extra]
    result = CliRunner(mix_stderr=False).invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    items = etree.parse(str(site_dir / "feed.xml")).iter("item")
    return [str(item.findtext("title")).split(" by ")[0] for item in items]  # the book, without "by Author"


# ------------------------------------------------------------------------------------------ Redis + RQ


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a loopback ephemeral port, no persistence, in a temp folder; stopped at the end."""
    import redis

    folder = tmp_path_factory.mktemp("redis")
    for _attempt in range(5):
        port = free_port()
        server = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        else:
            server.kill()
            server.wait()
            continue  # the port was taken between the probe and the start: try another
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            client.close()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        return
    pytest.fail("could not start redis-server on a loopback port")


class Workers:
    """``nlmg-media worker`` processes started by a test, always stopped (and waited for) at the end."""

    def __init__(self, url: str, cache: Path, logs: Path) -> None:
        self.url, self.cache, self.logs = url, cache, logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "worker", "--queue", self.url, "--cache", str(self.cache),
             "--name", f"{name}-{uuid.uuid4().hex[:6]}", "--abandoned-after", "3", *extra],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_tree(process.pid)
                process.wait()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything under it, as when its machine dies."""
    victims = [pid]
    index = 0
    while index < len(victims):
        victims += children(victims[index])
        index += 1
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def states(url: str) -> dict[str, catalogue_queue.JobState]:
    return {Path(s.source).name: s for s in catalogue_queue.queue_status(url)}


@pytest.mark.media
def test_two_workers_finish_a_catalogue_when_one_is_killed_mid_book(tmp_path: Path, redis_url: str) -> None:
    folder = write_catalogue(tmp_path / "books")
    out, cache = tmp_path / "shared", tmp_path / "cache"
    logs = tmp_path / "logs"
    logs.mkdir()
    runner = CliRunner(mix_stderr=False)
    enqueue = ["render", str(folder), "--out", str(out), "--no-video", "--queue", redis_url]
    result = runner.invoke(main, enqueue)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"Enqueued 6 of 6 books on {redis_url} (queue 'nlmg-books')."
    assert not out.exists()  # enqueuing renders nothing

    workers = Workers(redis_url, cache, logs)
    try:
        first = workers.start("w1")
        second = workers.start("w2")
        # Kill the first worker whose book is under way (worker and work-horse: as when its machine dies).
        victim_job = wait_for(lambda: _busy_job(redis_url, {first.pid, second.pid}), 120, "a book to start")
        victim_pid, job_id = victim_job
        kill_tree(victim_pid)
        survivor = second if victim_pid == first.pid else first

        def settled() -> dict[str, catalogue_queue.JobState] | None:
            now = states(redis_url)
            done = [s for s in now.values() if s.status in ("finished", "failed")]
            return now if len(done) == len(BOOKS) else None

        final = wait_for(settled, 240, "every book to finish")
        assert survivor.poll() is None
        assert {name for name, s in final.items() if s.status == "finished"} == set(GOOD)
        assert final["bad.md"].status == "failed"
        assert final["bad.md"].error == f"summary is empty: {folder / 'bad.md'}"
        killed = next(name for name, s in final.items() if s.job_id == job_id)
        assert killed in GOOD and final[killed].status == "finished", (killed, final[killed])  # finished elsewhere
        for name in GOOD:
            book = final[name].result
            assert book is not None
            mp3 = Path(book["out"]) / "narration.mp3"
            assert mp3.parent.parent == out and abs(narration_seconds(mp3) - book["duration"]) < 0.2

        status = runner.invoke(main, ["queue", "status", "--queue", redis_url])
        assert status.exit_code == 0
        assert status.stdout.splitlines()[-1] == (
            f"Queue 'nlmg-books' on {redis_url}: 0 queued, 0 started, 5 finished, 1 failed."
        )
        assert "summary is empty" in status.stdout

        # The same catalogue again: nothing to do for the finished books, no new synthesis anywhere.
        before = speech_entries(cache)
        again = runner.invoke(main, [*enqueue, "--json"])
        assert again.exit_code == 0
        states_again = {Path(e["source"]).name: e["state"] for e in json.loads(again.stdout)}
        assert states_again == {**{n: "already finished" for n in GOOD}, "bad.md": "queued again"}
        wait_for(lambda: states(redis_url)["bad.md"].status == "failed", 60, "the bad book to fail again")
        assert speech_entries(cache) == before
    finally:
        workers.stop()
    assert all(p.poll() is not None for p in workers.processes)


def _busy_job(url: str, pids: set[int]) -> tuple[int, str] | None:
    """(worker pid, job id) of a worker of ours rendering a good book in its work-horse right now."""
    from rq import Worker
    from rq.job import Job

    connection = catalogue_queue.connect(url)
    for worker in Worker.all(connection=connection):
        job_id = worker.get_current_job_id()
        busy = job_id and worker.pid in pids and children(worker.pid)
        if busy and not str(Job.fetch(job_id, connection=connection).description).endswith("bad.md"):
            return worker.pid, job_id
    return None


# ------------------------------------------------------------------------------------------ S3


def new_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """A fresh bucket on the moto server; dummy credentials in the environment (worker processes inherit them)."""
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    bucket = f"books-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    return bucket, client


@pytest.mark.media
def test_s3_output_is_whole_books_behind_a_pointer(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, client = new_bucket(s3_endpoint, monkeypatch)
    folder = write_catalogue(tmp_path / "books", {n: BOOKS[n] for n in ("harbour.md", "signal.md")})
    destination = f"s3://{bucket}/show"
    args = ["render", str(folder), "--out", destination, "--endpoint-url", s3_endpoint, "--cache",
            str(tmp_path / "cache"), "--no-video", "--jobs", "1", "--json"]  # fmt: skip
    result = CliRunner(mix_stderr=False).invoke(main, args)
    assert result.exit_code == 0, result.output
    books = {Path(b["source"]).name: b for b in json.loads(result.stdout)["books"]}
    assert books["harbour.md"]["out"] == f"s3://{bucket}/show/the-quiet-harbour/current.json"

    pointer = storage.current_render(destination, "the-quiet-harbour", endpoint_url=s3_endpoint)
    assert pointer is not None and pointer["job_id"] == books["harbour.md"]["job_id"]
    listed = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=pointer["prefix"])["Contents"]}
    assert {pointer["prefix"] + name for name in pointer["files"]} == listed
    assert {"narration.mp3", "render.json", "captions.vtt", "timeline.json"} <= set(pointer["files"])
    stored = client.get_object(Bucket=bucket, Key=pointer["prefix"] + "render.json")
    assert stored["ContentEncoding"] == "gzip"  # uploaded as publish uploads a site
    record = json.loads(gzip.decompress(stored["Body"].read()))
    assert record["title"] == "The Quiet Harbour"

    # Enqueued or rendered again: the destination already holds this job's render — nothing is redone.
    again = CliRunner(mix_stderr=False).invoke(main, args)
    assert all(b["reused"] for b in json.loads(again.stdout)["books"])

    # A new version replaces the pointer only when complete; the old version stays for readers mid-download.
    staged = tmp_path / "staged"
    fetched = storage.fetch_renders(destination, staged, endpoint_url=s3_endpoint)
    assert [f.slug for f in fetched] == ["signal-hill", "the-quiet-harbour"]
    assert (staged / "the-quiet-harbour" / "narration.mp3").stat().st_size > 10_000
    # The publisher reads the complete books from the bucket.
    monkeypatch.chdir(tmp_path)
    titles = feed_titles([destination], tmp_path / "site", "--endpoint-url", s3_endpoint)
    assert titles == ["The Quiet Harbour", "Signal Hill"]
    assert (tmp_path / "output/.catalogue" / bucket / "show/signal-hill/narration.mp3").is_file()

    storage.upload_render(staged / "the-quiet-harbour", destination, "the-quiet-harbour", "other-job", 1.0,
                          endpoint_url=s3_endpoint)  # fmt: skip
    moved = storage.current_render(destination, "the-quiet-harbour", endpoint_url=s3_endpoint)
    assert moved is not None and moved["version"] != pointer["version"]
    old = client.list_objects_v2(Bucket=bucket, Prefix=pointer["prefix"])
    assert old.get("KeyCount", 0) == len(pointer["files"])
    storage.upload_render(staged / "the-quiet-harbour", destination, "the-quiet-harbour", "third", 1.0,
                          endpoint_url=s3_endpoint, keep_old_seconds=0)  # fmt: skip
    versions = client.list_objects_v2(Bucket=bucket, Prefix="show/the-quiet-harbour/v/", Delimiter="/")
    assert len(versions["CommonPrefixes"]) == 1


@pytest.mark.media
def test_a_queue_worker_uploads_whole_books_to_s3(
    tmp_path: Path, redis_url: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, _client = new_bucket(s3_endpoint, monkeypatch)
    folder = write_catalogue(tmp_path / "books", {"lantern.md": BOOKS["lantern.md"]})
    destination = f"s3://{bucket}/queued"
    enqueue = ["render", str(folder), "--out", destination, "--no-video", "--queue", redis_url]
    assert CliRunner(mix_stderr=False).invoke(main, enqueue).exit_code == 0
    (tmp_path / "logs").mkdir()
    workers = Workers(redis_url, tmp_path / "cache", tmp_path / "logs")
    try:
        worker = workers.start("s3", "--burst", "--endpoint-url", s3_endpoint, "--staging", str(tmp_path / "staging"))
        assert worker.wait(timeout=240) == 0
    finally:
        workers.stop()
    book = states(redis_url)["lantern.md"]
    assert book.status == "finished" and book.result is not None
    assert book.result["out"] == f"s3://{bucket}/queued/the-lantern-room/current.json"
    pointer = storage.current_render(destination, "the-lantern-room", endpoint_url=s3_endpoint)
    assert pointer is not None and pointer["job_id"] == book.job_id and "narration.mp3" in pointer["files"]
