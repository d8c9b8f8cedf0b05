"""Narration acceptance (issue 2): a real Piper render of a short summary, measured from outside.

Loudness by ffmpeg's ebur128 meter, tags by mutagen, caption timing against the decoded audio's energy.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner
from support import SHORT_SUMMARY, decode_pcm, ebur128

from pipeline.cli import main
from pipeline.narration.document import parse_summary


def parse_srt(text: str) -> list[tuple[float, float, list[str]]]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = (_seconds(t) for t in lines[1].split(" --> "))
        cues.append((start, end, lines[2:]))
    return cues


def _seconds(stamp: str) -> float:
    h, m, s = stamp.strip().replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_narration_is_mastered_mono_44k_cbr(short_render, ffmpeg_exe):
    mp3 = short_render["out"] / "narration.mp3"
    integrated, peak = ebur128(ffmpeg_exe, mp3)
    assert -17.0 <= integrated <= -15.0
    assert peak <= -1.0
    info = subprocess.run([ffmpeg_exe, "-hide_banner", "-i", str(mp3)], capture_output=True, text=True).stderr
    assert re.search(r"Audio: mp3.*44100 Hz, mono", info)
    from mutagen.mp3 import MP3, BitrateMode

    audio = MP3(mp3)
    assert audio.info.sample_rate == 44100 and audio.info.channels == 1
    assert 96_000 <= audio.info.bitrate <= 128_000
    assert audio.info.bitrate_mode in (BitrateMode.CBR, BitrateMode.UNKNOWN)  # LAME's Info tag marks CBR


@pytest.mark.parametrize("signal", ["clicks over noise", "quiet tone with loud bursts"])
def test_mastering_lands_in_contract_when_encoding_adds_peaks(tmp_path, ffmpeg_exe, signal):
    """Signals whose peaks MP3 encoding inflates past the headroom: the mastering must re-solve, not give up."""
    import wave

    from pipeline.ffmpeg import locate
    from pipeline.narration.audio import master

    rate = 22050
    t = np.arange(rate * 6) / rate
    if signal == "clicks over noise":
        x = np.random.default_rng(1).normal(0, 0.02, t.size) + (np.arange(t.size) % 2205 == 0) * 0.9
    else:
        x = 0.02 * np.sin(2 * np.pi * 300 * t) + 0.9 * np.sign(np.sin(2 * np.pi * 220 * t)) * (t % 2 < 0.05)
    wav = tmp_path / "in.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    master(locate(ffmpeg_exe), wav, tmp_path / "out.mp3")
    integrated, peak = ebur128(ffmpeg_exe, tmp_path / "out.mp3")
    assert -17.0 <= integrated <= -15.0 and peak <= -1.0
    assert {p.name for p in tmp_path.iterdir()} == {"in.wav", "out.mp3"}


def test_tags_cover_and_chapters(short_render):
    from io import BytesIO

    from mutagen.id3 import ID3
    from PIL import Image

    tags = ID3(short_render["out"] / "narration.mp3")
    assert tags.version[:2] == (2, 4)
    assert str(tags["TIT2"]) == "The Quiet Harbour"
    assert str(tags["TPE1"]) == "Ada Example"
    assert "The Quiet Harbour" in str(tags["TALB"])
    assert str(tags["TDRC"]) == "1999"
    assert str(tags["TCON"])
    assert tags.getall("COMM")[0].text[0]
    cover = tags.getall("APIC")[0]
    assert cover.mime == "image/jpeg" and cover.type == 3
    image = Image.open(BytesIO(cover.data))
    assert image.format == "JPEG" and image.width == image.height >= 1400

    chapters = tags.getall("CHAP")
    duration_ms = short_render["result"].duration * 1000
    assert [str(c.sub_frames["TIT2"]) for c in chapters] == ["Arrival", "The Letter", "Departure"]
    starts = [c.start_time for c in chapters]
    assert starts == sorted(starts) and len(set(starts)) == 3 and starts[0] == 0
    assert all(c.end_time <= duration_ms + 1 for c in chapters)
    toc = tags.getall("CTOC")[0]
    assert list(toc.child_element_ids) == [c.element_id for c in chapters]


def test_sidecars_and_render_record(short_render):
    out = short_render["out"]
    for name in ("narration.mp3", "captions.srt", "captions.vtt", "chapters.json", "transcript.json", "render.json"):
        assert (out / name).stat().st_size > 0, name
    record = json.loads((out / "render.json").read_text())
    assert record["engine"] == "hibari" and record["voice"] == "heart"
    assert record["files"]["narration"]["bytes"] == (out / "narration.mp3").stat().st_size
    assert len(record["chapters"]) == 3
    assert record["versions"]["nlmg-media"]
    chapters = json.loads((out / "chapters.json").read_text())
    assert chapters["version"].startswith("1.2")
    assert [c["title"] for c in chapters["chapters"]] == ["Arrival", "The Letter", "Departure"]
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["segments"] and all(s["endTime"] > s["startTime"] for s in transcript["segments"])
    assert not list(out.glob(".nlmg-tmp-*"))


def test_caption_words_are_the_summary_words_and_obey_the_rules(short_render):
    cues = parse_srt((short_render["out"] / "captions.srt").read_text("utf-8"))
    words = [w for _, _, lines in cues for line in lines for w in line.split()]
    assert words == list(parse_summary(SHORT_SUMMARY).words)
    previous_end = 0.0
    for start, end, lines in cues:
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        assert 5 / 6 - 0.001 <= end - start <= 7.0 + 0.001
        assert start - previous_end >= 0.083 - 0.001 or previous_end == 0.0
        previous_end = end
    vtt = (short_render["out"] / "captions.vtt").read_text("utf-8")
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == len(cues)


def test_captions_start_when_the_voice_starts(short_render, ffmpeg_exe):
    """Cues that open a sentence begin after a pause: silence just before the cue, speech just after it."""
    rate = 8000
    pcm = decode_pcm(ffmpeg_exe, short_render["out"] / "narration.mp3", rate)
    cues = parse_srt((short_render["out"] / "captions.srt").read_text("utf-8"))

    def level(a: float, b: float) -> float:
        window = pcm[int(a * rate) : int(b * rate)]
        return 20 * np.log10(np.sqrt(np.mean(window**2)) + 1e-9)

    openers = [c for i, c in enumerate(cues) if i == 0 or cues[i - 1][2][-1].rstrip('”"’').endswith((".", "?", "!"))]
    assert len(openers) >= 4
    for start, _, lines in openers:
        assert level(max(0, start - 0.25), start - 0.1) < -40, lines  # still quiet 0.1 s before the cue
        assert level(start, start + 0.3) > -35, lines  # speaking within 0.3 s of the cue start


def test_second_render_synthesises_nothing_and_an_edit_only_one_sentence(short_render, tmp_path):
    from pipeline.render import RenderJob, render

    job: RenderJob = short_render["job"]
    mp3_before = (short_render["out"] / "narration.mp3").read_bytes()
    again = render(job)
    assert again.synthesized == 0
    assert (short_render["out"] / "narration.mp3").read_bytes() == mp3_before

    edited = tmp_path / "summary.md"
    edited.write_text(SHORT_SUMMARY.replace("She follows anyway.", "She follows him anyway."), "utf-8")
    changed = render(RenderJob(edited, tmp_path / "out", job.cache_dir, job.ffmpeg, job.settings))
    assert changed.synthesized == 1
    assert changed.sentences == again.sentences


def test_an_edit_into_the_same_folder_starts_mastering_from_the_last_solution(short_render, tmp_path, ffmpeg_exe):
    """After a one-sentence edit the previous limiter and gain are tried first; the MP3 is still measured."""
    from pipeline.render import RenderJob, render

    job: RenderJob = short_render["job"]
    out = tmp_path / "out"
    shutil.copytree(short_render["out"], out)
    before = json.loads((out / "render.json").read_text("utf-8"))["mastering"]
    edited = tmp_path / "summary.md"
    edited.write_text(SHORT_SUMMARY.replace("She follows anyway.", "She follows them anyway."), "utf-8")
    changed = render(RenderJob(edited, out, job.cache_dir, job.ffmpeg, job.settings))
    assert changed.synthesized == 1
    assert json.loads((out / "render.json").read_text("utf-8"))["mastering"] == before
    integrated, peak = ebur128(ffmpeg_exe, out / "narration.mp3")
    assert abs(integrated + 16) <= 0.5 and peak <= -1.0


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "summary not found"),
        (lambda p: p.mkdir(), "summary is a folder with no summaries (*.md) in it"),  # a folder is a catalogue
        (lambda p: p.write_text(""), "summary is empty"),
        (lambda p: p.write_text("  \n\t\n"), "summary is empty"),
        (lambda p: p.write_bytes(b"# T\n\nabc\x00def"), "summary is a binary file (NUL byte at offset 8)"),
        (lambda p: p.write_bytes(b"# T\n\ncaf\xe9 au lait"), "summary is not UTF-8 text (invalid byte at offset 8)"),
        (lambda p: p.write_text("# Only A Title\n\n## Heading\n\n— … —\n"), "summary has no speakable text"),
    ],
)
def test_bad_summary_is_one_line_error(tmp_path, setup, message):
    path = tmp_path / "summary.md"
    setup(path)
    result = CliRunner().invoke(main, ["render", str(path), "--out", str(tmp_path / "out"), "--no-video"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_unknown_engine_is_one_line_error(short_summary, tmp_path):
    result = CliRunner().invoke(main, ["render", str(short_summary), "--engine", "espeak", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Invalid value for '--engine'") and result.output.count("\n") == 1


def test_a_file_that_is_not_a_piper_voice(short_summary, tmp_path):
    fake = tmp_path / "voice.onnx"
    fake.write_bytes(b"not a model")
    (tmp_path / "voice.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}, "phoneme_id_map": {}}))
    args = ["render", str(short_summary), "--engine", "piper", "--voice", str(fake), "--out", str(tmp_path / "o"),
            "--cache", str(tmp_path / "c"), "--no-video"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {fake} is not a usable Piper voice")
    (tmp_path / "voice.onnx.json").unlink()
    result = CliRunner().invoke(main, args)
    assert result.output.startswith("Error: voice config not found")


@pytest.mark.timeout(60)  # fails fast: no hang on a network that is not there
def test_gtts_offline_fails_fast_with_a_hint(short_summary, tmp_path):
    result = CliRunner().invoke(
        main,
        ["render", str(short_summary), "--engine", "gtts", "--out", str(tmp_path / "o"),
         "--cache", str(tmp_path / "c"), "--no-video"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert re.fullmatch(r"Error: gTTS needs internet access \(.+\); use --engine hibari\n", result.output)


@pytest.fixture
def fake_translate(ffmpeg_exe):
    """A loopback stand-in for Google's batchexecute endpoint that answers with a real MP3 (a 1 s tone)."""
    mp3 = subprocess.run(
        [ffmpeg_exe, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=1",
         "-af", "apad=pad_dur=0.3,adelay=200", "-ar", "24000", "-ac", "1", "-f", "mp3", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    payload = base64.b64encode(mp3).decode()
    requests_seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            requests_seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            body = f')]}}\'\n\n[["wrb.fr","jQ1olc","[\\"{payload}\\"]",null,null,null,"generic"]]'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/batchexecute", requests_seen
    server.shutdown()


def test_gtts_engine_against_loopback_server(fake_translate):
    from pipeline.ffmpeg import locate
    from pipeline.narration.tts.gtts import GttsEngine

    url, seen = fake_translate
    tokens = [
        "Kathy",
        "talks",
        "about",
        "Ruth's",
        "lying.",
        "She",
        "explains",
        "that",
        "Ruth",
        "pretended",
        "to",
        "be",
        "good",
        "at",
        "chess.",
    ]
    synthesis = GttsEngine(ffmpeg=locate(), endpoint=url).synthesize(tokens)
    assert len(seen) >= 2  # one request per caption-sized chunk
    assert synthesis.sample_rate == 24000
    assert abs(synthesis.duration - 1.5 * len(seen)) < 0.2  # each answer is ~1.5 s of real decoded audio
    times = synthesis.token_times
    assert len(times) == len(tokens)
    assert all(a <= b for a, b in times) and all(times[i][1] <= times[i + 1][0] + 1e-6 for i in range(len(times) - 1))
    assert times[0][0] == pytest.approx(0.2, abs=0.05)  # the tone starts after 0.2 s of silence


def test_gtts_unreachable_server_fails_fast():
    import socket

    from pipeline.errors import EngineOfflineError
    from pipeline.ffmpeg import locate
    from pipeline.narration.tts.gtts import GttsEngine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(EngineOfflineError, match=r"gTTS needs internet access .*; use --engine hibari"):
        GttsEngine(ffmpeg=locate(), endpoint=f"http://127.0.0.1:{port}/x", timeout=2).synthesize(["Hello."])


@pytest.mark.media
def test_render_defaults_from_the_project_file_and_options_win(short_summary, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nlmg-media.toml").write_text(
        f'[render]\nsummary = "{short_summary}"\nout = "made"\ncache = "{tmp_path / "c"}"\nvideo = false\n', "utf-8"
    )
    result = CliRunner().invoke(main, ["render", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["out_dir"] == "made"
    assert (tmp_path / "made" / "narration.mp3").is_file() and not (tmp_path / "made" / "video.mp4").exists()
    assert (tmp_path / "c" / "speech").is_dir()
    result = CliRunner().invoke(main, ["render", "--out", "other", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["synthesized"] == 0 and (tmp_path / "other" / "narration.mp3").is_file()


@pytest.mark.media
def test_cli_render_with_relative_default_paths(short_summary, tmp_path, monkeypatch):
    """The quick start: relative default output and cache folders, video included."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.md").write_text(SHORT_SUMMARY.split("## The Letter")[0], "utf-8")
    result = CliRunner().invoke(main, ["render", "s.md"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "output" / "the-quiet-harbour"
    assert (out / "narration.mp3").is_file() and (out / "video.mp4").stat().st_size > 0
    assert (tmp_path / "output" / ".cache").is_dir()
