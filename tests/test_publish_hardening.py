"""``publish`` with hostile render folders, registries and options: one line each, and nothing private leaks.

Also: publish waits for a render of the same folder (readers and writers share the folder's lock), and a
killed publish's temp files anywhere in the site are cleared by the next one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import make_render

from pipeline import atomic
from pipeline.cli import main
from pipeline.publishing import site
from pipeline.record import RECORD_NAME, RENDER_LOCK, file_entry

BASE = "https://example.org/podcast"


def publish(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["publish", *args, "--title", "Show", "--email", "me@example.org"])
    return result.exit_code, result.output


def one_line_error(code: int, output: str) -> bool:
    """Exit 1 and one ``Error:`` line (after any indented progress lines of what publish did first)."""
    lines = [line for line in output.splitlines() if not line.startswith("  ")]
    return code == 1 and len(lines) == 1 and lines[0].startswith("Error: ") and output.endswith("\n")


def _edit_record(folder: Path, change) -> None:  # noqa: ANN001
    path = folder / RECORD_NAME
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data), "utf-8")


@pytest.mark.parametrize("named", ["/etc/passwd", "../../secret.txt", "../b/narration.mp3", "sub/../../x", ".."])
def test_render_json_can_only_name_files_of_its_own_folder(tmp_path: Path, ffmpeg_exe: str, named: str) -> None:
    folder = make_render(tmp_path / "renders" / "a", ffmpeg_exe)
    (tmp_path / "secret.txt").write_text("private", "utf-8")
    _edit_record(folder, lambda d: d["files"]["transcript"].update(path=named))
    code, output = publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)
    assert one_line_error(code, output), output
    assert "not a file of the render folder" in output
    assert not any(p.read_bytes() == b"private" for p in (tmp_path / "site").rglob("*") if p.is_file())


def test_a_symlink_out_of_the_render_folder_is_refused(tmp_path: Path, ffmpeg_exe: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    (folder / "transcript.json").unlink()
    os.symlink("/etc/passwd", folder / "transcript.json")
    code, output = publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)
    assert one_line_error(code, output), output


def test_a_file_changed_since_render_json_is_an_error(tmp_path: Path, ffmpeg_exe: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    (folder / "captions.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nAnother render's line.\n", "utf-8")
    code, output = publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)
    assert one_line_error(code, output) and "captions.vtt" in output, output


def test_a_deleted_episode_file_is_an_error_not_a_dead_link(tmp_path: Path, ffmpeg_exe: str) -> None:
    first = make_render(tmp_path / "a", ffmpeg_exe)
    second = make_render(tmp_path / "b", ffmpeg_exe, title="Another Book", frequency=660)
    assert publish(str(first), "--site", str(tmp_path / "site"), "--base-url", BASE)[0] == 0
    (tmp_path / "site" / "episodes" / "a" / "a.mp3").unlink()
    feed_before = (tmp_path / "site" / "feed.xml").read_bytes()
    code, output = publish(str(second), "--site", str(tmp_path / "site"), "--base-url", BASE)
    assert one_line_error(code, output) and "a.mp3" in output, output
    assert (tmp_path / "site" / "feed.xml").read_bytes() == feed_before


def test_a_killed_publishs_temp_files_are_cleared_anywhere_in_the_site(tmp_path: Path, ffmpeg_exe: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    assert publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)[0] == 0
    leftovers = [
        tmp_path / "site" / ".nlmg-tmp-feed.xml",
        tmp_path / "site" / "episodes" / "a" / ".nlmg-tmp-abc.mp3",
        tmp_path / "site" / "episodes" / ".nlmg-tmp-x" / "half.mp3",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    assert publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)[0] == 0
    assert not [p for p in (tmp_path / "site").rglob("*") if p.name.startswith(".nlmg-tmp-")]


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/my podcast",
        'https://example.org/"x"',
        "https://example.org/p'x",
        "https://example.org/<script>",
        "https://example.org:99999/p",
        "https://example.org:0/p",
        "https://example.org:http/p",
        "https://user:password@example.org/p",
        "https://user@example.org/p",
        "https://[::1/p",
        "https://[not-an-ip]/p",
        "https://exa_mple.org/p",
        "https://example.org/p%zz",
        "https://example.org/p\\x",
        "https:///p",
        "ftp://example.org/p",
        "https://example.org/p?x=1",
    ],
)
def test_bad_base_urls_are_one_line(tmp_path: Path, ffmpeg_exe: str, url: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    code, output = publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", url)
    assert one_line_error(code, output) and "--base-url" in output, output
    assert not (tmp_path / "site" / "feed.xml").exists()


@pytest.mark.parametrize(
    "url",
    ["https://example.org/p", "http://127.0.0.1:8000", "https://[::1]:8443/a/b", "https://xn--bcher-kva.example/p"],
)
def test_good_base_urls_still_work(tmp_path: Path, ffmpeg_exe: str, url: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    code, output = publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", url)
    assert code == 0, output


@pytest.mark.parametrize(
    "email",
    [
        "<b>me</b>@example.org",
        "me@example.org<script>",
        'me"@example.org',
        "me",
        "me@",
        "a b@example.org",
        "me@exa&mple.org",
    ],
)
def test_email_without_markup(tmp_path: Path, ffmpeg_exe: str, email: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    result = CliRunner().invoke(
        main, ["publish", str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE, "--email", email]
    )
    assert one_line_error(result.exit_code, result.output) and "--email" in result.output, result.output


def test_non_utf8_title_is_one_line(tmp_path: Path, ffmpeg_exe: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    process = subprocess.run(
        [sys.executable, "-m", "pipeline", "publish", str(folder), "--site", str(tmp_path / "site"), "--base-url",
         BASE, "--title", b"Caf\xe9 \xff"],
        capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"},
    )  # fmt: skip
    assert process.returncode == 1, process.stderr
    assert process.stderr.startswith(b"Error: ") and process.stderr.count(b"\n") == 1, process.stderr
    assert b"--title" in process.stderr


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e["files"].pop("audio"),
        lambda e: e["files"]["audio"].pop("path"),
        lambda e: e["files"]["audio"].pop("bytes"),
        lambda e: e["files"]["cover"].update(path="/etc/passwd"),
        lambda e: e.pop("guid"),
        lambda e: e.pop("first_published"),
        lambda e: e.update(chapters=["not a chapter"]),
        lambda e: e.update(files=[]),
    ],
)
def test_an_episode_registry_missing_a_field_is_one_line(tmp_path: Path, ffmpeg_exe: str, damage) -> None:  # noqa: ANN001
    folder = make_render(tmp_path / "a", ffmpeg_exe)
    other = make_render(tmp_path / "b", ffmpeg_exe, title="Another Book")
    assert publish(str(folder), "--site", str(tmp_path / "site"), "--base-url", BASE)[0] == 0
    registry = tmp_path / "site" / "episodes.json"
    data = json.loads(registry.read_text("utf-8"))
    damage(data["episodes"][0])
    registry.write_text(json.dumps(data), "utf-8")
    before = registry.read_bytes()
    code, output = publish(str(other), "--site", str(tmp_path / "site"), "--base-url", BASE)
    assert one_line_error(code, output), output
    assert registry.read_bytes() == before


def test_publish_waits_for_a_render_of_the_same_folder(tmp_path: Path, ffmpeg_exe: str) -> None:
    folder = make_render(tmp_path / "a", ffmpeg_exe, description="The first summary.")
    newer = make_render(tmp_path / "newer", ffmpeg_exe, description="The second summary.", frequency=880)
    done = threading.Event()
    lines: list[str] = []

    def run_publish() -> None:
        settings = site.SiteSettings(base_url=BASE, title="T", email="me@example.org")
        site.build_site([folder], tmp_path / "site", settings, progress=lambda event: lines.append(event.detail or ""))
        done.set()

    with atomic.folder_lock(folder, RENDER_LOCK):  # a render holds the folder
        thread = threading.Thread(target=run_publish, daemon=True)
        thread.start()
        time.sleep(1.0)
        assert not done.is_set() and not (tmp_path / "site" / "feed.xml").exists()
        assert any("waiting" in line for line in lines), lines
        # The render replaces the whole set while publish waits.
        with atomic.file_set(folder) as files:
            for name in ("narration.mp3", "transcript.json", "captions.vtt", "captions.srt", "chapters.json"):
                files.copy(name, newer / name)
            record = json.loads((newer / RECORD_NAME).read_text("utf-8"))
            record["slug"] = "a"
            for role, entry in record["files"].items():
                record["files"][role] = file_entry(newer, entry["path"])
            files.write_bytes(RECORD_NAME, json.dumps({**record}).encode())
    thread.join(30)
    assert done.is_set()
    registry = json.loads((tmp_path / "site" / "episodes.json").read_text("utf-8"))
    episode = registry["episodes"][0]
    assert episode["description"] == "The second summary."
    mp3 = tmp_path / "site" / episode["files"]["audio"]["path"]
    assert mp3.read_bytes() == (newer / "narration.mp3").read_bytes()
