"""One line, always: a full disk during render and publish, Ctrl-C during start-up.

Disk-full cases run on a small tmpfs mounted for the test (root needed; skipped where mounting is impossible).
After each failure, what was there before is still there and still consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import interpreter_start_seconds, make_render

from pipeline.cli import main
from pipeline.record import RECORD_NAME

SUMMARY = "# The Quiet Harbour\n*by Ada Example*\n\nMara arrives at the harbour town. She rents a room.\n"
OTHER = "# The Long Orchard\n*by Ben Sample*\n\nTomas plants forty apple trees. The valley eats well for years.\n"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount tmpfs folders of a given size (``"2m"``); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until only ``leave`` bytes are free."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def _consistent(folder: Path) -> str:
    record = json.loads((folder / RECORD_NAME).read_text("utf-8"))
    for entry in record["files"].values():
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    return str(record["title"])


def _render(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["render", *args, "--no-video", "--no-progress"])
    return result.exit_code, result.output


@pytest.mark.media
def test_disk_full_during_render_is_one_line_and_keeps_the_last_set(
    tmp_path: Path, small_disk: Callable[[str], Path]
) -> None:
    first, second = tmp_path / "first.md", tmp_path / "second.md"
    first.write_text(SUMMARY, "utf-8")
    second.write_text(OTHER, "utf-8")
    cache = tmp_path / "cache"
    assert _render(str(second), "--out", str(tmp_path / "warm"), "--cache", str(cache))[0] == 0  # cache warm
    out = small_disk("4m") / "out"
    code, output = _render(str(first), "--out", str(out), "--cache", str(cache))
    assert code == 0, output
    fill(out.parent, leave=16 * 1024)
    code, output = _render(str(second), "--out", str(out), "--cache", str(cache), "--force")
    assert code == 1 and output.startswith("Error: ") and output.count("\n") == 1, output
    assert "No space left on device" in output
    assert _consistent(out) == "The Quiet Harbour"  # the last good set, whole; no MP3 without its render.json
    assert not [p for p in out.iterdir() if p.name.startswith(".nlmg-tmp-")]


@pytest.mark.media
def test_disk_full_in_the_cache_is_one_line(tmp_path: Path, small_disk: Callable[[str], Path]) -> None:
    summary = tmp_path / "s.md"
    summary.write_text(SUMMARY, "utf-8")
    cache = small_disk("64k") / "cache"
    code, output = _render(str(summary), "--out", str(tmp_path / "out"), "--cache", str(cache))
    assert code == 1 and output.startswith("Error: ") and output.count("\n") == 1, output
    assert "No space left on device" in output
    assert not (tmp_path / "out" / "narration.mp3").exists()


def test_disk_full_during_publish_is_one_line_and_keeps_the_site(
    tmp_path: Path, ffmpeg_exe: str, small_disk: Callable[[str], Path]
) -> None:
    first = make_render(tmp_path / "a", ffmpeg_exe)
    second = make_render(tmp_path / "b", ffmpeg_exe, title="Another Book", frequency=660)
    site = small_disk("2m") / "site"
    args = ["publish", "--site", str(site), "--base-url", "https://example.org/p", "--title", "T", "--email", "a@b.org"]
    assert CliRunner().invoke(main, [*args, str(first)]).exit_code == 0
    feed = (site / "feed.xml").read_bytes()
    fill(site.parent, leave=8 * 1024)
    result = CliRunner().invoke(main, [*args, str(first), str(second)])
    lines = [line for line in result.output.splitlines() if not line.startswith("  ")]  # progress is indented
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "No space left on device" in result.output
    assert (site / "feed.xml").read_bytes() == feed
    (site.parent / "filler").unlink()
    assert CliRunner().invoke(main, [*args, str(first), str(second)]).exit_code == 0
    assert not [p for p in site.rglob("*") if p.name.startswith(".nlmg-tmp-")]


def test_ctrl_c_in_the_first_half_second_is_one_line(tmp_path: Path) -> None:
    """SIGINT at random moments of the first half second after the interpreter is up (loading the command line).

    Before that, CPython itself is still starting (importing ``site``: ~0.1-0.2 s here, most of it the editable
    install's finder); an interrupt there ends in CPython's own fatal error before any of our code runs, so the
    moments start after a bare interpreter's start-up time, measured here.
    """
    summary = tmp_path / "s.md"
    summary.write_text(SUMMARY, "utf-8")
    interpreter_up = interpreter_start_seconds()
    script = shutil.which("nlmg-media", path=str(Path(sys.executable).parent))
    commands = [[script] if script else [sys.executable, "-m", "pipeline"], [sys.executable, "-m", "pipeline"]]
    rng = random.Random(5)
    for attempt in range(12):
        command = commands[attempt % 2]
        process = subprocess.Popen(
            [*command, "render", str(summary), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(interpreter_up + rng.uniform(0, 0.5))
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 130, (process.returncode, stderr)
        assert stderr == b"Interrupted.\n", stderr
