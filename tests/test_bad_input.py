"""Issue 6: anything thrown at the tool gives one clear line and loses nothing; odd but valid input still works.

Every bad input runs against the output folder (and cache) of an earlier good render, and the test checks that
each of its files is byte-identical afterwards. Inputs that only look hostile — a run-on sentence, emoji and
names in other scripts, a 1 MB summary — must render, within bounded memory. (The property test of arbitrary
Unicode through parse → speech text → cues is in test_captions.py.)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import SHORT_SUMMARY, check_cues, make_timeline

from pipeline.cache import Cache
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.narration.captions import build_cues, to_srt
from pipeline.narration.document import load_summary, parse_summary
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.speech import speech_words
from pipeline.narration.timeline import Timeline

NLMG = [sys.executable, "-m", "pipeline"]


# --------------------------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_one_line_error(result: Result | subprocess.CompletedProcess, *fragments: str) -> str:
    output = result.output if isinstance(result, Result) else result.stdout + result.stderr
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code == 1, output
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, output
    return output


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A complete render (narration, sidecars, video) whose files every bad input must leave alone."""
    root = tmp_path_factory.mktemp("good")
    summary = root / "summary.md"
    summary.write_text(SHORT_SUMMARY, "utf-8")
    out, cache = root / "out", root / "cache"
    result = CliRunner().invoke(main, ["render", str(summary), "--out", str(out), "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    assert (out / "video.mp4").is_file() and (out / "render.json").is_file()
    return {"root": root, "summary": summary, "out": out, "cache": cache}


@pytest.fixture
def untouched(good: dict[str, Path]):
    """Yield the good render's folders; afterwards assert none of their files changed."""
    before = snapshot(good["out"])
    yield good
    assert snapshot(good["out"]) == before


def render_into(good: dict[str, Path], *args: str) -> Result:
    return CliRunner().invoke(main, ["render", *args, "--out", str(good["out"]), "--cache", str(good["cache"])])


# ------------------------------------------------------------------------------------- bad summaries

BAD_SUMMARIES: list[tuple[str, Callable[[Path], object], tuple[str, ...]]] = [
    ("missing", lambda p: None, ("summary not found",)),
    ("directory", lambda p: p.mkdir(), ("summary is a folder with no summaries (*.md) in it",)),  # a catalogue
    ("empty", lambda p: p.write_text(""), ("summary is empty",)),
    ("whitespace", lambda p: p.write_text(" \n\t\n\n"), ("summary is empty",)),
    ("binary", lambda p: p.write_bytes(b"# T\n\nabc\x00\x01\x02"), ("binary file (NUL byte at offset 8)",)),
    ("not UTF-8", lambda p: p.write_bytes(b"# T\n\ncaf\xe9 au lait."), ("not UTF-8 text (invalid byte at offset 8)",)),
    ("no speakable words", lambda p: p.write_text("# T\n\n— … — ... 🎉 !!\n"), ("no speakable text",)),
    (
        "control characters",
        lambda p: p.write_text("# T\n\nShe said \x1b[31mhello\x1b[0m.\n"),
        ("control character (U+001B) at line 3, column 10",),
    ),
    ("too large", lambda p: p.write_text("Words. " * 1_300_000), ("summary is too large",)),
]


@pytest.mark.parametrize(("setup", "fragments"), [c[1:] for c in BAD_SUMMARIES], ids=[c[0] for c in BAD_SUMMARIES])
def test_bad_summary(untouched, tmp_path: Path, setup, fragments) -> None:
    path = tmp_path / "summary.md"
    setup(path)
    line = assert_one_line_error(render_into(untouched, str(path)), *fragments)
    assert str(path) in line  # names the file


# ------------------------------------------------------------------------------- bad settings and files


def test_malformed_lexicon_names_line_and_column(untouched, tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text('[words]\nHailsham = "HAIL-sham\n', "utf-8")
    result = render_into(untouched, str(untouched["summary"]), "--lexicon", str(lexicon))
    assert_one_line_error(result, "malformed lexicon", str(lexicon), "line 2, column")


def test_lexicon_with_the_wrong_shape(untouched, tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text("[words]\nHailsham = 3\n", "utf-8")
    result = render_into(untouched, str(untouched["summary"]), "--lexicon", str(lexicon))
    assert_one_line_error(result, "'Hailsham' must be a string respelling")


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        ("[render]\nvideo = fals\n", ("malformed project config", "line 2, column 9")),
        ("[render]\nvidoe = false\n", ("unknown key 'vidoe'",)),
        ("[render]\nengine = 3\n", ("[render] engine must be a string",)),
        ('[render]\nformats = ["wide"]\n', ("unknown video format 'wide'",)),
    ],
)
def test_bad_project_config(untouched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml, fragments) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nlmg-media.toml").write_text(toml, "utf-8")
    assert_one_line_error(render_into(untouched, str(untouched["summary"])), *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--engine", "espeak"], ("Invalid value for '--engine'",)),
        (["--format", "wide"], ("Invalid value for '--format'",)),
        (["--voice", "/nonexistent/voice.onnx"], ("voice", "/nonexistent/voice.onnx")),
        (["--engine", "gtts", "--voice", "x.onnx"], ("--voice applies to the hibari and piper engines only",)),
        (["--lexicon", "/nonexistent/lexicon.toml"], ("lexicon not found",)),
        (["--speed", "2"], ("No such option: --speed",)),
    ],
)
def test_bad_options(untouched, args: list[str], fragments) -> None:
    assert_one_line_error(render_into(untouched, str(untouched["summary"]), *args), *fragments)


@pytest.mark.parametrize(
    "content",
    [b"not a model", b"\x08\x07" + os.urandom(2000)],
    ids=["text", "random bytes"],
)
@pytest.mark.parametrize(("engine", "kind"), [("hibari", "hibari"), ("piper", "Piper")])
def test_a_file_that_is_not_a_voice(untouched, tmp_path: Path, content: bytes, engine: str, kind: str) -> None:
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(content)
    (tmp_path / "voice.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}, "phoneme_id_map": {}}))
    # The voice is only opened when a sentence needs synthesis: edit the summary so one does.
    edited = tmp_path / "summary.md"
    edited.write_text(SHORT_SUMMARY.replace("She follows anyway.", "She follows at dawn."), "utf-8")
    result = render_into(untouched, str(edited), "--engine", engine, "--voice", str(voice))
    assert_one_line_error(result, f"{voice} is not a usable {kind} voice")


def test_a_voice_config_that_is_not_json(untouched, tmp_path: Path) -> None:
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"x")
    (tmp_path / "voice.onnx.json").write_text("{not json", "utf-8")
    result = render_into(untouched, str(untouched["summary"]), "--engine", "piper", "--voice", str(voice))
    assert_one_line_error(result, "voice")


def test_output_path_that_is_a_file(good, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("mine", "utf-8")
    for out in (target, target / "sub"):
        result = CliRunner().invoke(
            main, ["render", str(good["summary"]), "--out", str(out), "--cache", str(good["cache"])]
        )
        assert_one_line_error(result, str(out))
    assert target.read_text("utf-8") == "mine"


def _unprivileged(command: list[str]) -> list[str]:
    """Run ``command`` without root's power to ignore permissions (a user namespace), when we are root."""
    if os.geteuid() != 0:
        return command
    if not shutil.which("unshare") or subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode:
        pytest.skip("running as root and cannot drop privileges (no user namespaces)")
    return ["unshare", "-U", *command]


def test_unwritable_output_folder(untouched) -> None:
    out = untouched["out"]
    os.chmod(out, 0o555)
    try:
        command = [*NLMG, "render", str(untouched["summary"]), "--out", str(out), "--cache", str(untouched["cache"])]
        result = subprocess.run(_unprivileged(command), capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(out, 0o755)
    assert_one_line_error(result, f"output folder is not writable: {out}")


def test_output_folder_that_cannot_be_created(good, tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    command = [*NLMG, "render", str(good["summary"]), "--out", str(parent / "new"), "--cache", str(good["cache"])]
    try:
        result = subprocess.run(_unprivileged(command), capture_output=True, text=True, timeout=120)
    finally:
        parent.chmod(0o755)
    assert_one_line_error(result, f"cannot create output folder {parent / 'new'}")


def test_malformed_curated_list_keeps_the_last_manifest(tmp_path: Path) -> None:
    out = tmp_path / "videos"
    out.mkdir()
    (out / "manifest.json").write_text('{"schema": 1, "entries": []}', "utf-8")
    before = snapshot(out)
    listing = tmp_path / "curated.toml"
    listing.write_text('[[video]]\nurl = "https://www.youtube.com/watch?v=abc\n', "utf-8")
    result = CliRunner().invoke(main, ["videos", "refresh", "--list", str(listing), "--out", str(out)])
    assert_one_line_error(result, "malformed curated video list", "line 2, column")
    assert snapshot(out) == before


def test_bad_publish_input_keeps_the_last_site(good, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    base = ["publish", str(good["out"]), "--site", str(site)]
    result = CliRunner().invoke(main, [*base, "--base-url", "https://example.org/pod"])
    assert result.exit_code == 0, result.output
    before = snapshot(site)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nlmg-media.toml").write_text("[publish]\nbase_url = https://x\n", "utf-8")
    assert_one_line_error(CliRunner().invoke(main, base), "malformed project config", "line 2, column 12")
    (tmp_path / "nlmg-media.toml").unlink()
    assert_one_line_error(CliRunner().invoke(main, base), "no base URL")
    not_a_render = tmp_path / "notes"
    not_a_render.mkdir()
    result = CliRunner().invoke(
        main, ["publish", str(not_a_render), "--site", str(site), "--base-url", "https://e.org"]
    )
    assert_one_line_error(result, str(not_a_render))
    assert snapshot(site) == before


# --------------------------------------------------------------------------- odd input that must work


def _run_measured(command: list[str], folder: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run a command to the end; return it and its own peak resident memory in MB (from wait4)."""
    with open(folder / "stdout", "w+") as out, open(folder / "stderr", "w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read()), usage.ru_maxrss / 1024


@pytest.mark.media
def test_400_word_sentence_without_punctuation(tmp_path: Path) -> None:
    rng = random.Random(6)
    vocabulary = [
        "the",
        "children",
        "grew",
        "up",
        "together",
        "in",
        "a",
        "quiet",
        "school",
        "where",
        "guardians",
        "taught",
        "art",
        "and",
        "poetry",
    ]
    sentence = " ".join(rng.choice(vocabulary) for _ in range(400)).capitalize()
    summary = tmp_path / "long.md"
    summary.write_text(f"# One Long Sentence\n\n{sentence}\n", "utf-8")
    command = [*NLMG, "render", str(summary), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c"),
               "--no-video", "--json"]  # fmt: skip
    done, peak_mb = _run_measured(command, tmp_path)
    assert done.returncode == 0, done.stderr
    assert peak_mb < 1200, f"peak memory {peak_mb:.0f} MB"  # was 3.2 GB before long sentences were split
    timeline = Timeline.load(tmp_path / "o" / "timeline.json")
    assert [w.text for w in timeline.words] == sentence.split()
    assert all(w.end > w.start for w in timeline.words)  # every word is really spoken and timed
    cues = build_cues(timeline)
    assert (tmp_path / "o" / "captions.srt").read_text("utf-8") == to_srt(cues)  # the file holds these cues
    check_cues(cues, timeline, sentences=False)


@pytest.mark.media
def test_emoji_right_to_left_and_cjk_names(tmp_path: Path) -> None:
    text = (
        "# Names From Everywhere\n\nKathy met 村上春樹 and محمود درويش at the café 😀 near Hailsham. "
        "The poem 🌊 was read by Ольга and by יהודה עמיחי in 2005.\n"
    )
    summary = tmp_path / "intl.md"
    summary.write_text(text, "utf-8")
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main, ["render", str(summary), "--out", str(out), "--cache", str(tmp_path / "c"), "--no-video"]
    )
    assert result.exit_code == 0, result.output
    captions = (out / "captions.vtt").read_text("utf-8")
    for name in ("村上春樹", "محمود درويش", "😀", "Ольга", "יהודה עמיחי"):
        assert name in captions  # shown as written ...
    timeline = json.loads((out / "timeline.json").read_text("utf-8"))
    said = {w["text"]: w["end"] - w["start"] for w in timeline["words"]}
    assert said["Kathy"] > 0.1 and said["Hailsham."] > 0.1 and said["café"] > 0.1  # ... the rest is spoken
    assert said["Ольга"] > 0.1  # Cyrillic is romanised and said
    assert said["😀"] == 0 and said["村上春樹"] == 0  # emoji and CJK are not read out


@pytest.mark.media
def test_a_one_megabyte_summary_plans_in_linear_time_and_bounded_memory() -> None:
    """Parsing, speech text and caption planning of ~170,000 words (about 18 hours of narration)."""
    rng = random.Random(1)
    words = "Kathy Ruth Tommy walked to the sea and spoke about Hailsham, the gallery, and what they owed".split()  # noqa: SIM905
    paragraphs: list[str] = []
    while sum(len(p) for p in paragraphs) < 1_000_000:
        paragraphs.append(" ".join(" ".join(rng.choices(words, k=rng.randint(6, 30))) + "." for _ in range(6)))
    text = "# A Very Long Summary\n\n" + "\n\n".join(paragraphs)
    baseline_kb = _reset_peak_rss()
    document = parse_summary(text)
    lexicon = Lexicon.empty()
    spoken = [speech_words(s.words, lexicon) for s in document.sentences]
    chapters = [[[s.text for s in p.sentences] for p in c.paragraphs] for c in document.chapters]
    timeline = make_timeline(chapters, rng=random.Random(2))
    cues = build_cues(timeline)
    grown_mb = (_peak_rss_kb() - baseline_kb) / 1024
    assert len(document.words) > 150_000 and len(spoken) == len(document.sentences)
    assert grown_mb < 600, f"{grown_mb:.0f} MB"
    check_cues(cues, timeline, sentences=False)


def _reset_peak_rss() -> int:
    """Reset this process's peak-RSS mark (Linux) and return the current RSS in kB."""
    clear = Path("/proc/self/clear_refs")
    if not clear.exists():
        pytest.skip("needs Linux /proc to measure peak memory")
    clear.write_text("5")
    return _peak_rss_kb()


def _peak_rss_kb() -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


@pytest.mark.media
def test_a_one_megabyte_summary_renders_with_progress_and_bounded_memory(tmp_path: Path) -> None:
    """The real command on 1 MB of text: it starts synthesising at once, reports progress on a pipe, holds
    its memory flat, and Ctrl-C stops it with one line. (All of it would be ~18 hours of narration.)"""
    rng = random.Random(3)
    words = [
        "Kathy",
        "Ruth",
        "Tommy",
        "walked",
        "to",
        "the",
        "sea",
        "and",
        "spoke",
        "about",
        "Hailsham",
        "the",
        "gallery",
        "and",
        "what",
        "they",
        "owed",
    ]
    sentences = [" ".join(rng.choices(words, k=rng.randint(8, 20))).capitalize() + "." for _ in range(60_000)]
    text = "# A Very Long Summary\n\n" + "\n\n".join(" ".join(sentences[i : i + 6]) for i in range(0, 60_000, 6))
    summary = tmp_path / "big.md"
    summary.write_text(text[:1_048_576].rsplit("\n\n", 1)[0] + "\n", "utf-8")
    assert summary.stat().st_size > 1_000_000
    command = [*NLMG, "render", str(summary), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c"),
               "--progress", "--no-video"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Progress lines go to a pipe only because of --progress; the first comes before any synthesis.
    try:
        lines: list[str] = []
        peak_kb = 0
        deadline = time.monotonic() + 120
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.strip())
            peak_kb = max(peak_kb, _rss_kb(proc.pid))
            if len([x for x in lines if x.startswith("Synthesising speech:")]) >= 3:
                break
        progress = [x for x in lines if x.startswith("Synthesising speech:")]
        assert len(progress) >= 3, lines
        percents = [float(re.search(r"([\d.]+)%", x).group(1)) for x in progress]
        assert percents == sorted(percents) and percents[-1] < 100
        assert peak_kb < 1_000_000, f"{peak_kb / 1024:.0f} MB"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err == "Interrupted.\n"
    assert not (tmp_path / "o" / "narration.mp3").exists()


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


# ---------------------------------------------------------------------------------- leftovers of kills


def test_the_next_run_clears_leftovers_of_killed_runs(good) -> None:
    out, cache = good["out"], good["cache"]
    leftovers = [
        out / ".nlmg-tmp-abc123.mp3",
        cache / "speech" / "ab" / ".nlmg-tmp-def456.npz",
        cache / "tmp" / ".nlmg-tmp-scratch1" / "narration.wav",
        cache / "video" / "cd" / ".nlmg-tmp-789.mp4",
    ]
    # While another run holds the cache, its temp files may be live: they are left alone.
    with Cache(cache).in_use():
        for path in leftovers:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"half")
        result = CliRunner().invoke(main, ["render", str(good["summary"]), "--out", str(out), "--cache", str(cache)])
        assert result.exit_code == 0, result.output
        assert not leftovers[0].exists()  # the out folder is ours alone (locked): cleared at once
        assert all(p.exists() for p in leftovers[1:])
    result = CliRunner().invoke(main, ["render", str(good["summary"]), "--out", str(out), "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in leftovers)
    assert not (cache / "tmp" / ".nlmg-tmp-scratch1").exists()
    assert not [p for p in cache.rglob("*") if p.name.startswith(".nlmg-tmp-")]


def test_the_cache_keeps_under_its_limit_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", limit_mb=1)
    quarter_megabyte = b"x" * (256 * 1024)
    keys = [f"{i:02d}" + "0" * 62 for i in range(8)]  # 8 × 256 KB = 2 MB: twice the limit
    with Cache(cache.root, limit_mb=1).in_use():  # another run holds the cache: nothing may go meanwhile
        for age, key in enumerate(keys):
            path = cache.put_bytes("video", key, ".mp4", quarter_megabyte)
            os.utime(path, (1_000_000 + age, 1_000_000 + age))  # keys[0] is the oldest
        assert cache.get("video", keys[1], ".mp4") is not None  # reading an entry marks it used: it stays
        with cache.in_use() as removed:
            assert removed == 0
    with cache.in_use() as removed:
        assert removed == 5  # down to 3 entries (768 KB), under 80 % of the limit
    left = {p.stem for p in (tmp_path / "cache" / "video").rglob("*.mp4")}
    assert left == {keys[1], keys[6], keys[7]}
    with Cache(cache.root, limit_mb=None).in_use() as removed:
        assert removed == 0


def test_load_summary_accepts_format_characters_but_not_controls(tmp_path: Path) -> None:
    path = tmp_path / "s.md"
    path.write_text("# T\n\nKathy\u200b met \u202bRuth\u202c.\ufeff\n", "utf-8")
    assert load_summary(path).words == ("Kathy", "met", "Ruth.")
    path.write_text("# T\n\nKathy met\x07 Ruth.\n", "utf-8")
    with pytest.raises(InputError, match=r"U\+0007\) at line 3, column 10"):
        load_summary(path)
