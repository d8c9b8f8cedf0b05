"""Trustworthy under interruption and concurrency (issue 6): real renders killed and raced in real processes.

Each render here is the installed ``nlmg-media render`` command in its own process session, so a kill takes the
render and its ffmpeg children together, as closing a terminal or a container stop does, and a Ctrl-C reaches the
whole foreground group, as a terminal's does. Kill points are found by watching the cache from outside (a new
sentence entry, a growing temp MP3 or MP4), never by sleeping blindly, and every result is measured from outside:
bytes compared with earlier complete renders, media decoded to the end by the ffmpeg binary and PyAV, cache
entries loaded with numpy, leftovers listed on disk.

The contract checked:

* SIGKILL mid-synthesis, mid-mastering and mid-video-encode leaves every output either the previous complete
  version or the complete new one, and only complete cache entries; the next render completes, reuses what was
  done before the kill, and leaves no temp file behind.
* Ctrl-C prints exactly one line, exits 130, and leaves the previous outputs untouched.
* Two (or four) renders into one folder take turns (the later ones say they are waiting); renders of different
  summaries, or of the same summary into different folders, run side by side on one cache; all outputs valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import av
import numpy as np
import pytest
from support import SHORT_SUMMARY

TEMP_PREFIX = ".nlmg-tmp-"  # the contract's name for temp files (pipeline.atomic.TEMP_PREFIX), restated here
POLL_SECONDS = 0.02
KILL_POINT_TIMEOUT = 120.0  # generous: the machine is shared, and a missed kill point fails loudly anyway
RENDER_TIMEOUT = 240.0
# onnxruntime (inside Piper) keeps a session id in TMPDIR: not ours, and it is not a temp file of a render.
THIRD_PARTY_TEMP_FILES = {".ses"}
WAITING = "Waiting for another render into {out} to finish…"

pytestmark = pytest.mark.media

# The paragraphs of conftest's SHORT_SUMMARY as written (its headings and author line are not spoken).
SHORT_SUMMARY_PARAGRAPHS = [line for line in SHORT_SUMMARY.splitlines() if line and not line.startswith(("#", "*"))]


# --- summaries ---------------------------------------------------------------------------------------------

_WHO = ["The keeper", "A young sailor", "The old baker", "Her brother", "The mayor", "A quiet child", "The doctor"]
_DOES = ["walks to", "writes about", "remembers", "paints", "repairs", "watches", "sings beside", "sweeps"]
_WHAT = ["the lighthouse", "the northern pier", "a broken boat", "the winter market", "the grey church"]
_WHEN = ["at dawn", "every Sunday", "in the rain", "before supper", "after the storm", "for many years"]


def story_sentences(count: int, offset: int = 0) -> list[str]:
    """``count`` distinct, plainly speakable sentences (so each one is its own cache entry)."""
    sentences = []
    for n in range(offset, offset + count):
        sentence = f"{_WHO[n % len(_WHO)]} {_DOES[n % len(_DOES)]} {_WHAT[n % len(_WHAT)]} {_WHEN[n % len(_WHEN)]}."
        sentences.append(sentence)
    assert len(set(sentences)) == count
    return sentences


def summary_text(title: str, author: str, sentences: list[str], chapters: int = 3) -> str:
    """A summary in the input format: title, author line, then the sentences spread over ``chapters``."""
    lines = [f"# {title}", f"*by {author} (2001)*", ""]
    per_chapter = -(-len(sentences) // chapters)
    for number in range(chapters):
        part = sentences[number * per_chapter : (number + 1) * per_chapter]
        if part:
            lines += [f"## Part {number + 1}", "", " ".join(part), ""]
    return "\n".join(lines)


def write_summary(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


# --- running renders ---------------------------------------------------------------------------------------


def render_command(summary: Path, out: Path, cache: Path, *options: str) -> list[str]:
    script = Path(sys.executable).with_name("nlmg-media")
    if script.is_file():
        launcher = [str(script)]
    else:  # a Python without the console script: run the same entry point
        launcher = [sys.executable, "-c", "from pipeline.cli import main; main(prog_name='nlmg-media')"]
    # --force: these tests put renders of several books (other titles or authors) into one folder on purpose.
    return [*launcher, "render", str(summary), "--out", str(out), "--cache", str(cache), "--json", "--force", *options]


def start_render(summary: Path, out: Path, cache: Path, scratch: Path, *options: str) -> subprocess.Popen[str]:
    """Start a render in a new session (its own process group) with a private TMPDIR, output captured."""
    scratch.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        render_command(summary, out, cache, *options),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=scratch.parent,
        env={**os.environ, "TMPDIR": str(scratch)},
        start_new_session=True,
    )


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str

    def report(self) -> dict:
        assert self.code == 0, f"render failed (exit {self.code}): {self.stderr.strip()}"
        return json.loads(self.stdout)


def finish(process: subprocess.Popen[str]) -> Finished:
    try:
        stdout, stderr = process.communicate(timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"render did not finish within {RENDER_TIMEOUT:.0f} s")
    return Finished(process.returncode, stdout, stderr)


def run_render(summary: Path, out: Path, cache: Path, scratch: Path, *options: str) -> dict:
    """Render to completion; return the ``--json`` report."""
    return finish(start_render(summary, out, cache, scratch, *options)).report()


def wait_until(process: subprocess.Popen[str], reached: Callable[[], bool], what: str) -> None:
    """Poll until ``reached()``; fail if the render ends first (the kill point was missed) or it takes too long."""
    deadline = time.monotonic() + KILL_POINT_TIMEOUT
    while not reached():
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"the render ended (exit {process.returncode}) before {what}: {stderr.strip()[-300:]}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"no {what} within {KILL_POINT_TIMEOUT:.0f} s")
        time.sleep(POLL_SECONDS)


def interrupt(process: subprocess.Popen[str], sig: signal.Signals) -> Finished:
    """Send ``sig`` to the render's whole process group (the render and its ffmpeg children), then reap it."""
    os.killpg(process.pid, sig)
    result = finish(process)
    if sig == signal.SIGKILL:
        assert result.code == -signal.SIGKILL, f"the render was not killed (exit {result.code})"
    return result


def still_running_in_group(process: subprocess.Popen[str], grace: float = 2.0) -> list[str]:
    """Processes of the render's group still alive ``grace`` seconds after it ended (an ffmpeg left encoding).

    Read from Linux's /proc. Zombies do not count: a child that died with the render but was not reaped by it
    is gone for every purpose.
    """
    deadline = time.monotonic() + grace
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue  # it ended while we looked
            name, _, rest = text.rpartition(")")
            state, _parent, group = rest.split()[:3]
            if int(group) == process.pid and state not in ("Z", "X"):
                alive.append(name.partition("(")[2])
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(POLL_SECONDS)


# --- looking at folders from outside -----------------------------------------------------------------------


def walk_files(root: Path) -> list[Path]:
    """Every file under ``root``; tolerant of folders that vanish while a live render tidies up."""
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [Path(folder) / name for name in files]
    return found


def speech_entries(cache: Path) -> dict[Path, int]:
    """Complete sentence entries (visible ``.npz`` names; temp files are hidden) → inode."""
    entries = {}
    for path in walk_files(cache / "speech"):
        if path.suffix == ".npz" and not path.name.startswith("."):
            try:
                entries[path] = path.stat().st_ino
            except FileNotFoundError:
                continue
    return entries


def visible_entries(cache: Path, kind: str) -> dict[Path, int]:
    """Complete entries of one cache kind (visible names) → inode: an unchanged inode was not rewritten."""
    return {p: p.stat().st_ino for p in walk_files(cache / kind) if not p.name.startswith(".")}


def cache_entries(cache: Path) -> dict[str, dict[Path, int]]:
    """The complete sentence and narration entries of the cache, with their inodes."""
    return {"speech": speech_entries(cache), "narration": visible_entries(cache, "narration")}


def growing_temp(cache: Path, kind: str, suffix: str) -> bool:
    """A temp file of ``kind`` being written right now (hidden name, some bytes in it): an encode is under way."""
    return _written_to(
        walk_files(cache / kind), lambda path: path.name.startswith(TEMP_PREFIX) and path.suffix == suffix
    )


def encoding_segment(cache: Path) -> bool:
    """A segment of the narration's MP3 being encoded right now (in a run's scratch folder, some bytes in it)."""
    return _written_to(walk_files(cache / "tmp"), lambda path: path.suffix == ".mp3")


def _written_to(paths: list[Path], wanted: Callable[[Path], bool]) -> bool:
    """Whether any of ``paths`` that is ``wanted`` has bytes in it (files may vanish while a render tidies up)."""
    for path in paths:
        if wanted(path):
            try:
                if path.stat().st_size > 0:
                    return True
            except FileNotFoundError:
                continue
    return False


def temp_leftovers(root: Path) -> list[str]:
    """Paths under ``root`` that are (or sit inside) temp files or scratch folders."""
    leftovers = []
    for path in walk_files(root):
        relative = path.relative_to(root)
        if any(part.startswith(TEMP_PREFIX) for part in relative.parts):
            leftovers.append(str(relative))
    return sorted(leftovers)


def snapshot(out: Path) -> dict[str, bytes]:
    """The outputs (visible files) of a render folder, byte for byte. Dot-files (the lock, temps) are not outputs."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")}


def unreadable_speech_entries(cache: Path) -> list[str]:
    """Sentence entries numpy cannot load completely (a half-written entry would be one)."""
    bad = []
    for path in speech_entries(cache):
        try:
            with np.load(path) as data:
                samples, rate, times = data["samples"], int(data["rate"]), data["times"]
            assert samples.size > 0 and rate > 0 and times.size > 0
        except Exception as exc:  # any failure to read back is the finding
            bad.append(f"{path.name}: {exc!r}")
    return bad


# --- measuring outputs -------------------------------------------------------------------------------------


def decoded_audio_seconds(ffmpeg_exe: str, path: Path) -> float:
    """Decode the first audio stream to the end with the ffmpeg binary; fail on any decoder complaint."""
    rate = 44100
    decoded = subprocess.run(
        [ffmpeg_exe, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1"]
        + ["-ar", str(rate), "-"],
        capture_output=True,
        check=False,
    )
    complaint = decoded.stderr.decode("utf-8", "replace").strip()
    assert decoded.returncode == 0 and not complaint, f"{path.name} does not decode cleanly: {complaint[-300:]}"
    return len(decoded.stdout) / 2 / rate


def decoded_video_seconds(path: Path) -> float:
    """Decode every video frame with PyAV; return where the video stream ends (seconds)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert frames > 0 and stream.duration is not None
        return float(stream.duration * stream.time_base)


def srt_cues(text: str) -> list[tuple[str, list[str]]]:
    """(timing line, text lines) of each SRT cue; asserts the block structure."""
    cues = []
    for number, block in enumerate(text.strip().split("\n\n"), start=1):
        lines = block.splitlines()
        assert lines[0] == str(number) and " --> " in lines[1] and lines[2:], block
        cues.append((lines[1], lines[2:]))
    return cues


def media_problems(out: Path, ffmpeg_exe: str) -> list[str]:
    """Media files in ``out`` that do not decode to the end (a truncated or half-written file would not)."""
    problems = []
    checks: list[tuple[str, Callable[[Path], float]]] = [("narration.mp3", partial(decoded_audio_seconds, ffmpeg_exe))]
    if (out / "video.mp4").exists():
        checks += [("video.mp4", decoded_video_seconds), ("video.mp4", partial(decoded_audio_seconds, ffmpeg_exe))]
    for name, decode in checks:
        try:
            assert decode(out / name) > 1, "shorter than a second"
        except (AssertionError, av.FFmpegError) as exc:
            problems.append(f"{name}: {exc}")
    return problems


def assert_complete_render(out: Path, ffmpeg_exe: str, sentences: list[str] | None = None) -> dict:
    """A finished render folder: render.json names every output with its exact bytes, media decode fully to
    the recorded duration, sidecars parse, the captions say the summary's words, no temp file is left."""
    record = json.loads((out / "render.json").read_text("utf-8"))
    for role, entry in record["files"].items():
        data = (out / entry["path"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], role
    duration = record["duration"]
    assert abs(decoded_audio_seconds(ffmpeg_exe, out / "narration.mp3") - duration) < 0.1
    if "video_landscape" in record["files"]:
        video = out / record["files"]["video_landscape"]["path"]
        assert abs(decoded_video_seconds(video) - duration) < 0.2
        assert abs(decoded_audio_seconds(ffmpeg_exe, video) - duration) < 0.2
    for name in ("chapters.json", "transcript.json", "timeline.json"):
        json.loads((out / name).read_text("utf-8"))
    cues = srt_cues((out / "captions.srt").read_text("utf-8"))
    assert (out / "captions.vtt").read_text("utf-8").startswith("WEBVTT")
    if sentences is not None:
        spoken = [word for _, lines in cues for line in lines for word in line.split()]
        assert spoken == " ".join(sentences).split()
        transcript = json.loads((out / "transcript.json").read_text("utf-8"))
        assert " ".join(s["body"] for s in transcript["segments"]).split() == " ".join(sentences).split()
    assert not [p.name for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
    return record


def assert_each_output_old_or_new(after: dict[str, bytes], old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """Per file: byte-identical to the previous complete render or to the complete new one; none missing."""
    assert set(after) == set(old) | set(new), "an output is missing or unexpected after the kill"
    for name, data in after.items():
        assert data in (old.get(name), new.get(name)), f"{name} is neither the previous nor the new version"


# --- SIGKILL at three points of one render history ---------------------------------------------------------


@dataclass
class KilledHistory:
    """What was observed around each SIGKILL, in one out folder and one cache (see ``killed_history``)."""

    out: Path
    cache: Path
    scratch: Path
    sentences: list[str]
    after: dict[str, dict[str, bytes]] = field(default_factory=dict)  # moment → outputs
    reports: dict[str, dict] = field(default_factory=dict)  # completed render → its --json report
    speech_before: dict[Path, int] = field(default_factory=dict)
    # moment ("synthesis", "mastering", "video") → kind ("speech", "narration") → entry → inode
    cache_at_kill: dict[str, dict[str, dict[Path, int]]] = field(default_factory=dict)
    cache_after_resume: dict[str, dict[str, dict[Path, int]]] = field(default_factory=dict)
    unreadable_after_kill: dict[str, list[str]] = field(default_factory=dict)
    media_after_kill: dict[str, list[str]] = field(default_factory=dict)  # moment → media that do not decode
    leftovers: dict[str, list[str]] = field(default_factory=dict)  # after the last render: out / cache / TMPDIR


@pytest.fixture(scope="module")
def killed_history(tmp_path_factory: pytest.TempPathFactory, ffmpeg_exe: str) -> KilledHistory:
    """One out folder, one cache, a story told by real processes:

    0. a short summary is rendered (with video): the previous good outputs;
    1. an 18-sentence summary is killed once two of its sentences are in the cache, then rendered to the end;
    2. the same text under another author (new tags and cover, so new mastering; no new synthesis) is killed
       while the mastered MP3 is being written, then rendered to the end;
    3. a third author: killed while the video is being encoded, then rendered to the end.
    """
    base = tmp_path_factory.mktemp("killed")
    history = KilledHistory(base / "out", base / "cache", base / "tmp", story_sentences(18))
    out, cache, scratch = history.out, history.cache, history.scratch

    short = write_summary(base, "short.md", SHORT_SUMMARY)
    history.reports["previous"] = run_render(short, out, cache, scratch)
    assert_complete_render(out, ffmpeg_exe)
    history.after["previous"] = snapshot(out)

    def kill_then_resume(moment: str, summary: Path, reached: Callable[[], bool], what: str) -> None:
        """Start a render, SIGKILL it at ``reached``, look at everything, then render the summary to the end."""
        render = start_render(summary, out, cache, scratch)
        wait_until(render, reached, what)
        interrupt(render, signal.SIGKILL)
        history.after[f"{moment} kill"] = snapshot(out)
        history.cache_at_kill[moment] = cache_entries(cache)
        history.unreadable_after_kill[f"{moment} kill"] = unreadable_speech_entries(cache)
        history.media_after_kill[f"{moment} kill"] = media_problems(out, ffmpeg_exe)
        history.reports[f"after {moment} kill"] = run_render(summary, out, cache, scratch)
        history.cache_after_resume[moment] = cache_entries(cache)
        assert_complete_render(out, ffmpeg_exe, history.sentences)
        history.after[f"after {moment} kill"] = snapshot(out)

    # 1. mid-synthesis
    long_summary = write_summary(base, "long.md", summary_text("The Long Harbour", "Test Writer", history.sentences))
    history.speech_before = speech_entries(cache)
    new_sentences = lambda: len(speech_entries(cache).keys() - history.speech_before.keys())  # noqa: E731
    kill_then_resume("synthesis", long_summary, lambda: new_sentences() >= 2, "synthesis")

    # 2. mid-mastering: every sentence is cached, the narration is not (two chapters instead of three: the same
    # sentences laid out in other paragraphs, so the MP3's segments are encoded again)
    text = summary_text("The Long Harbour", "Ann Other", history.sentences, chapters=2)
    retagged = write_summary(base, "retagged.md", text)
    kill_then_resume(
        "mastering",
        retagged,
        lambda: growing_temp(cache, "narration", ".mp3") or encoding_segment(cache),
        "the mastered MP3 being written",
    )

    # 3. mid-video-encode: the narration of this version gets mastered, then the encode is killed
    third = write_summary(base, "third.md", summary_text("The Long Harbour", "Third Hand", history.sentences))
    kill_then_resume("video", third, lambda: growing_temp(cache, "video", ".mp4"), "the video being encoded")

    history.leftovers = {
        "out": temp_leftovers(out),
        "cache": temp_leftovers(cache),
        "TMPDIR": sorted(p.name for p in scratch.iterdir() if p.name not in THIRD_PARTY_TEMP_FILES),
    }
    return history


def test_sigkill_mid_synthesis_leaves_the_previous_outputs(killed_history: KilledHistory):
    new = len(killed_history.cache_at_kill["synthesis"]["speech"].keys() - killed_history.speech_before.keys())
    assert 2 <= new < len(killed_history.sentences), "the kill did not land mid-synthesis"
    assert killed_history.after["synthesis kill"] == killed_history.after["previous"]


def test_sigkill_never_leaves_a_half_written_cache_entry(killed_history: KilledHistory):
    assert killed_history.unreadable_after_kill == {"synthesis kill": [], "mastering kill": [], "video kill": []}


def test_outputs_left_by_every_kill_decode_to_the_end(killed_history: KilledHistory):
    assert killed_history.media_after_kill == {"synthesis kill": [], "mastering kill": [], "video kill": []}


def test_render_after_a_synthesis_kill_completes_and_reuses_the_sentences(killed_history: KilledHistory):
    before, at_kill = killed_history.speech_before, killed_history.cache_at_kill["synthesis"]["speech"]
    done_before_kill = at_kill.keys() - before.keys()
    report = killed_history.reports["after synthesis kill"]
    assert report["sentences"] == len(killed_history.sentences)
    assert report["synthesized"] == len(killed_history.sentences) - len(done_before_kill)
    # The entries written before the kill were read back, not written again (same inode).
    assert {p: killed_history.cache_after_resume["synthesis"]["speech"][p] for p in done_before_kill} == {
        p: at_kill[p] for p in done_before_kill
    }


def test_sigkill_mid_mastering_leaves_the_previous_outputs(killed_history: KilledHistory):
    assert killed_history.after["mastering kill"] == killed_history.after["after synthesis kill"]


def test_render_after_a_mastering_kill_synthesises_nothing(killed_history: KilledHistory):
    report = killed_history.reports["after mastering kill"]
    assert report["synthesized"] == 0 and report["sentences"] == len(killed_history.sentences)
    # New tags: the narration really is a new version, not the previous file left in place.
    after = killed_history.after["after mastering kill"]
    assert after["narration.mp3"] != killed_history.after["after synthesis kill"]["narration.mp3"]


def test_sigkill_mid_video_encode_leaves_each_output_old_or_new(killed_history: KilledHistory):
    assert_each_output_old_or_new(
        killed_history.after["video kill"],
        old=killed_history.after["after mastering kill"],
        new=killed_history.after["after video kill"],
    )
    # The video and the record of the previous render survive whole: the kill came before they were replaced.
    for name in ("video.mp4", "render.json"):
        assert killed_history.after["video kill"][name] == killed_history.after["after mastering kill"][name]


def test_render_after_a_video_kill_reuses_the_mastered_narration(killed_history: KilledHistory):
    report = killed_history.reports["after video kill"]
    assert report["synthesized"] == 0
    narration = killed_history.cache_at_kill["video"]["narration"]
    assert killed_history.cache_after_resume["video"]["narration"] == narration  # not mastered again


def test_killed_renders_leave_no_temp_files_after_the_next_render(killed_history: KilledHistory):
    assert killed_history.leftovers == {"out": [], "cache": [], "TMPDIR": []}


# --- Ctrl-C --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctrl_c_folder(tmp_path_factory: pytest.TempPathFactory, ffmpeg_exe: str) -> dict[str, Path]:
    """A folder holding a complete render of a two-sentence summary (no video), and its cache."""
    base = tmp_path_factory.mktemp("ctrl-c")
    tiny = write_summary(base, "tiny.md", summary_text("Two Lines", "Ada Example", story_sentences(2, 100), 1))
    run_render(tiny, base / "out", base / "cache", base / "tmp", "--no-video")
    assert_complete_render(base / "out", ffmpeg_exe)
    return {"base": base, "out": base / "out", "cache": base / "cache", "tmp": base / "tmp"}


def assert_interrupted_cleanly(result: Finished, process: subprocess.Popen[str], out: Path, before: dict) -> None:
    """Exit 130, nothing on stdout, no child left running, the previous outputs untouched, no temp left (an
    orderly exit tidies up after itself), and exactly one line on stderr (checked last, so the checks before it
    report on their own)."""
    assert result.code == 130, f"exit {result.code}: {result.stderr!r}"
    assert result.stdout == ""
    assert still_running_in_group(process) == []
    assert snapshot(out) == before
    assert not temp_leftovers(out)
    assert result.stderr == "Interrupted.\n"


def test_ctrl_c_mid_synthesis_prints_one_line_and_keeps_the_outputs(ctrl_c_folder):
    out, cache = ctrl_c_folder["out"], ctrl_c_folder["cache"]
    before = snapshot(out)
    summary = write_summary(
        ctrl_c_folder["base"], "twelve.md", summary_text("Twelve Lines", "Ada Example", story_sentences(12, 200))
    )
    known = speech_entries(cache)
    render = start_render(summary, out, cache, ctrl_c_folder["tmp"], "--no-video")
    wait_until(render, lambda: len(speech_entries(cache).keys() - known.keys()) >= 2, "synthesis")
    result = interrupt(render, signal.SIGINT)
    assert unreadable_speech_entries(cache) == [] and not temp_leftovers(cache)
    assert_interrupted_cleanly(result, render, out, before)


def test_ctrl_c_mid_mastering_prints_one_line_and_keeps_the_outputs(ctrl_c_folder):
    """ffmpeg is running and gets the Ctrl-C too: still one line, exit 130, nothing half-written."""
    out, cache = ctrl_c_folder["out"], ctrl_c_folder["cache"]
    before = snapshot(out)
    summary = write_summary(
        ctrl_c_folder["base"], "six.md", summary_text("Six Lines", "Ada Example", story_sentences(6, 300))
    )
    render = start_render(summary, out, cache, ctrl_c_folder["tmp"], "--no-video")
    mastering = lambda: growing_temp(cache, "narration", ".mp3") or encoding_segment(cache)  # noqa: E731
    wait_until(render, mastering, "the MP3 being encoded")
    result = interrupt(render, signal.SIGINT)
    assert not temp_leftovers(cache)
    assert_interrupted_cleanly(result, render, out, before)


def test_sigint_to_the_render_alone_mid_video_encode_stops_its_ffmpeg_at_once(ctrl_c_folder):
    """``kill -INT`` on the render only (not its group): the encodes in worker threads do not get the signal, so
    the render must stop them itself rather than wait for them to finish."""
    out, cache = ctrl_c_folder["out"], ctrl_c_folder["cache"]
    before = snapshot(out)
    summary = write_summary(
        ctrl_c_folder["base"], "video.md", summary_text("Video Lines", "Ada Example", story_sentences(8, 400), 1)
    )
    render = start_render(
        summary, out, cache, ctrl_c_folder["tmp"], "--format", "portrait", "--motion"
    )  # a slow encode
    wait_until(render, lambda: growing_temp(cache, "video", ".mp4"), "the video being encoded")
    render.send_signal(signal.SIGINT)
    result = finish(render)
    assert not ffmpeg_writing_into(cache)  # stopped, not left encoding on its own
    assert not temp_leftovers(cache)
    assert_interrupted_cleanly(result, render, out, before)


def ffmpeg_writing_into(folder: Path) -> list[int]:
    """Pids of running ffmpeg processes whose command line names ``folder`` (an orphaned encode would show)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"ffmpeg" in argv[0] and any(str(folder).encode() in arg for arg in argv):
            found.append(int(proc.name))
    return found


# --- concurrency ---------------------------------------------------------------------------------------------


def start_together(*jobs: tuple[Path, Path, Path, Path, tuple[str, ...]]) -> list[Finished]:
    processes = [start_render(summary, out, cache, scratch, *options) for summary, out, cache, scratch, options in jobs]
    return [finish(process) for process in processes]


def test_two_renders_into_one_folder_take_turns(tmp_path, ffmpeg_exe):
    summary = write_summary(tmp_path, "short.md", SHORT_SUMMARY)
    out, cache, scratch = tmp_path / "out", tmp_path / "cache", tmp_path / "tmp"
    first, second = start_together(*[(summary, out, cache, scratch, ("--no-video",))] * 2)
    reports = [first.report(), second.report()]
    waited = [WAITING.format(out=out) in result.stderr for result in (first, second)]
    assert sorted(waited) == [False, True], (first.stderr, second.stderr)
    # One after the other: the one that waited found every sentence already synthesised by the other.
    assert sorted(r["synthesized"] for r in reports) == [0, reports[0]["sentences"]]
    record = assert_complete_render(out, ffmpeg_exe, SHORT_SUMMARY_PARAGRAPHS)
    assert set(record["files"]) | {"render"} == set(reports[0]["files"])
    assert not temp_leftovers(cache)


def test_renders_piling_into_one_folder_all_wait_their_turn(tmp_path, ffmpeg_exe):
    """Four renders started at once into one new folder: each one that does not hold the lock waits for it.

    Renders arriving together is when whatever they do before taking the lock (creating and probing the folder)
    can collide with each other, or with the lock holder clearing stale temp files.
    """
    sentences = story_sentences(2, 600)
    summary = write_summary(tmp_path, "tiny.md", summary_text("Pile Up", "Ada Example", sentences, 1))
    out, cache, scratch = tmp_path / "out", tmp_path / "cache", tmp_path / "tmp"
    results = start_together(*[(summary, out, cache, scratch, ("--no-video",))] * 4)
    reports = [result.report() for result in results]
    assert sum(WAITING.format(out=out) in result.stderr for result in results) == 3
    assert sorted(r["synthesized"] for r in reports) == [0, 0, 0, len(sentences)]
    assert_complete_render(out, ffmpeg_exe, sentences)


def test_renders_of_different_summaries_share_one_cache(tmp_path, ffmpeg_exe):
    one, two = story_sentences(4, 400), story_sentences(7, 500)
    summaries = [
        write_summary(tmp_path, "one.md", summary_text("First Book", "Ada Example", one)),
        write_summary(tmp_path, "two.md", summary_text("Second Book", "Ben Example", two)),
    ]
    outs, cache, scratch = [tmp_path / "out-one", tmp_path / "out-two"], tmp_path / "cache", tmp_path / "tmp"
    results = start_together(*[(s, o, cache, scratch, ("--no-video",)) for s, o in zip(summaries, outs, strict=True)])
    reports = [result.report() for result in results]
    assert not any("Waiting" in result.stderr for result in results)  # different folders never wait on each other
    assert [r["synthesized"] for r in reports] == [len(one), len(two)]
    records = [assert_complete_render(out, ffmpeg_exe, text) for out, text in zip(outs, (one, two), strict=True)]
    assert records[0]["title"] == "First Book" and records[1]["title"] == "Second Book"
    assert records[1]["duration"] > records[0]["duration"] + 5  # seven sentences against four
    assert len(speech_entries(cache)) == len(one) + len(two)
    assert unreadable_speech_entries(cache) == [] and not temp_leftovers(cache)


def test_same_summary_into_two_folders_races_safely_on_one_cache(tmp_path, ffmpeg_exe):
    """Both renders want the same cache keys (sentences, narration, AAC, video) at the same moment."""
    summary = write_summary(tmp_path, "short.md", SHORT_SUMMARY)
    outs, cache, scratch = [tmp_path / "out-a", tmp_path / "out-b"], tmp_path / "cache", tmp_path / "tmp"
    results = start_together(*[(summary, out, cache, scratch, ()) for out in outs])
    reports = [result.report() for result in results]
    # Piper's voice is not bit-reproducible (its noise): the two renders may each synthesise a sentence and end
    # up with different audio. Each folder must still agree with itself: narration, video, captions and
    # render.json of one render, never a mix of both.
    records = [assert_complete_render(out, ffmpeg_exe, SHORT_SUMMARY_PARAGRAPHS) for out in outs]
    assert all("video_landscape" in record["files"] for record in records)
    assert [r["duration"] for r in records] == [r["duration"] for r in reports]
    assert len(speech_entries(cache)) == reports[0]["sentences"]
    assert unreadable_speech_entries(cache) == [] and not temp_leftovers(cache)
