"""The captioned slideshow video, measured from outside: PyAV and the ffmpeg binary read what was written.

The material is made here: an ~11 s timeline with two chapters, cues placed by hand (so timing assertions do not
depend on the caption rules), and a real MP3 from ffmpeg (a quiet tone with a loud burst at a known time, to
check that the picture's clock and the sound agree).
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import evenly_spoken

from pipeline.cache import Cache
from pipeline.errors import InputError
from pipeline.ffmpeg import locate
from pipeline.narration.captions import Cue
from pipeline.narration.timeline import ChapterMark, Timeline, Word
from pipeline.pictures.drawing import progress_bar_height
from pipeline.pictures.slides import Caption, caption_area, plan_shots
from pipeline.video.encode import FORMATS, OUTPUT_NAMES, VideoJob, render_videos

BURST_AT = 6.0  # seconds: the narration is loud from here for 0.3 s

CHAPTER_ONE = (
    "Kathy recalls her time at Hailsham, a boarding school. She had two best friends, Ruth and Tommy, "
    "and a favourite tape that she later loses."
)
CHAPTER_TWO = "They move into The Cottages and drive cars. Ruth pretends to know all about deferrals."
SECOND_TITLE = "The Cottages; #2 = Norfolk"  # ffmetadata's special characters, escaped on the way in


def make_timeline() -> Timeline:
    """~14.6 s: a short lead-in, two chapters 1.2 s apart, 0.3 s a word."""
    return evenly_spoken((("Hailsham", CHAPTER_ONE), (SECOND_TITLE, CHAPTER_TWO)), gap=1.2, tail=0.9)


TIMELINE = make_timeline()


def _cues(*groups: tuple[int, tuple[str, ...]]) -> tuple[Cue, ...]:
    """Cues over consecutive words: (number of words, lines) each, from the first word on."""
    cues, first = [], 0
    for count, lines in groups:
        words = TIMELINE.words[first : first + count]
        cues.append(Cue(words[0].start, words[-1].end, lines))
        first += count
    return tuple(cues)


CUES = _cues(
    (9, ("Kathy recalls her time at Hailsham,", "a boarding school.")),
    (8, ("She had two best friends,", "Ruth and Tommy,")),
    (8, ("and a favourite tape", "that she later loses.")),
    (8, ("They move into The Cottages", "and drive cars.")),
    (4, ("Ruth pretends to know",)),
    (3, ("all about deferrals.",)),
)
CUE_A, CUE_B = CUES[4], CUES[5]  # both over the body slide of chapter two (its card ends at about 11.2 s)
NO_CUE_AT = TIMELINE.duration - 0.3  # the tail after the last cue, same slide


@pytest.fixture(scope="module")
def ffmpeg():
    return locate(None)


@pytest.fixture(scope="module")
def narration(tmp_path_factory, ffmpeg) -> Path:
    """Mono 44.1 kHz MP3 of the timeline's length: quiet noise (as busy as speech for the encoder), and a loud
    tone for 0.3 s from BURST_AT."""
    path = tmp_path_factory.mktemp("narration") / "narration.mp3"
    loud = f"between(t,{BURST_AT},{BURST_AT + 0.3})"
    subprocess.run(
        [ffmpeg.exe, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         f"aevalsrc='if({loud},0.6*sin(2*PI*440*t),0.05*(2*random(0)-1))':s=44100:d={TIMELINE.duration}",
         "-ac", "1", "-c:a", "libmp3lame", "-b:a", "96k", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, ffmpeg, narration) -> dict:
    """All three formats, rendered once into a fresh cache and shared by the tests below.

    The folders' names have a space and a quote: they end up in ffmpeg's concat listings."""
    root = tmp_path_factory.mktemp("video")
    job = VideoJob(TIMELINE, CUES, narration, root / "out put", Cache(root / "Mara's cache"), ffmpeg,
                   formats=("landscape", "portrait", "square"))  # fmt: skip
    started = time.perf_counter()
    made = render_videos(job)
    return {"job": job, "made": made, "seconds": time.perf_counter() - started, "root": root}


def frames_at(path: Path, times: list[float]) -> list[np.ndarray]:
    """The picture on screen at each time: the last decoded frame whose presentation time is ≤ t (VFR-safe)."""
    with av.open(str(path)) as container:
        frames = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    return [[image for at, image in frames if at <= t + 1e-6][-1] for t in times]


def narration_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / 1_000_000


def top_level_atoms(path: Path) -> list[str]:
    atoms, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size == 0:
            break
        offset += size
    return atoms


# --- the files -----------------------------------------------------------------------------------------------


def test_one_file_per_format_in_the_render_folder(rendered):
    out = rendered["job"].out_dir
    assert rendered["made"] == {name: out / OUTPUT_NAMES[name] for name in ("landscape", "portrait", "square")}
    assert sorted(p.name for p in out.iterdir()) == ["video-portrait.mp4", "video-square.mp4", "video.mp4"]


@pytest.mark.parametrize("name", ["landscape", "portrait", "square"])
def test_streams_codecs_and_sizes(rendered, name):
    path = rendered["made"][name]
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.profile == "High"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == FORMATS[name]
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        subtitles = container.streams.subtitles
        assert [s.codec_context.name for s in subtitles] == ["mov_text"]
        assert subtitles[0].metadata.get("language") == "eng"
        # Off by default: the captions are burned in already; a player would show them twice.
        assert not subtitles[0].disposition & av.stream.Disposition.default
        assert video.disposition & av.stream.Disposition.default
        assert container.metadata.get("title") == "Never Let Me Go"
        assert container.metadata.get("artist") == "Kazuo Ishiguro"
        audio_bytes = sum(packet.size for packet in container.demux(audio) if packet.size)
    assert audio_bytes * 8 / TIMELINE.duration >= 128_000  # measured, not the nominal rate


@pytest.mark.parametrize("name", ["landscape", "portrait", "square"])
def test_duration_equals_the_narration(rendered, narration, name):
    expected = narration_seconds(narration)
    with av.open(str(rendered["made"][name])) as container:
        assert abs(container.duration / 1_000_000 - expected) <= 0.1
        video = container.streams.video[0]
        ends = [float((p.pts + p.duration) * p.time_base) for p in container.demux(video) if p.pts is not None]
    assert abs(max(ends) - expected) <= 0.1


@pytest.mark.parametrize("name", ["landscape", "portrait", "square"])
def test_chapters_and_faststart(rendered, name):
    path = rendered["made"][name]
    with av.open(str(path)) as container:
        chapters = container.chapters()
    assert [c["metadata"]["title"] for c in chapters] == ["Hailsham", SECOND_TITLE]
    assert abs(float(chapters[1]["start"] * chapters[1]["time_base"]) - TIMELINE.chapters[1].start) < 0.01
    atoms = top_level_atoms(path)
    assert atoms.index("moov") < atoms.index("mdat")


def test_ffmpeg_reads_the_file_as_expected(rendered, ffmpeg):
    """The same facts from the ffmpeg binary's own report, for the landscape file."""
    report = subprocess.run(
        [ffmpeg.exe, "-hide_banner", "-i", str(rendered["made"]["landscape"])], capture_output=True, text=True
    ).stderr
    assert "Video: h264 (High)" in report and "yuv420p" in report and "1920x1080" in report
    assert "Audio: aac" in report
    assert "(eng): Subtitle: mov_text" in report
    assert report.count("Chapter #") == 2


def test_sound_is_in_step_with_the_narration(rendered):
    """The burst in narration.mp3 at BURST_AT is at BURST_AT in the video's sound (the AAC delay is handled)."""
    with av.open(str(rendered["made"]["landscape"])) as container:
        chunks = [(frame.time, frame.to_ndarray()[0]) for frame in container.decode(audio=0)]
    rate = 44100
    start = chunks[0][0]
    samples = np.concatenate([c for _, c in chunks])
    loud = np.flatnonzero(np.abs(samples) > 0.3)
    assert abs(start + loud[0] / rate - BURST_AT) < 0.02


# --- the pictures --------------------------------------------------------------------------------------------


def above_bar(image: np.ndarray) -> np.ndarray:
    """The frame without the progress bar along its bottom edge (it fills as time passes)."""
    height, width = image.shape[:2]
    return image[: height - 3 * progress_bar_height((width, height))]


def caption_band(image: np.ndarray) -> np.ndarray:
    height = image.shape[0]
    return above_bar(image)[caption_area((image.shape[1], height)).y :].astype(np.int16)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels that differ clearly (more than 40 levels in some channel)."""
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 40).mean())


@pytest.mark.parametrize("name", ["landscape", "portrait", "square"])
def test_each_cue_shows_its_own_text_in_the_caption_area(rendered, name):
    middle_a = (CUE_A.start + CUE_A.end) / 2
    middle_b = (CUE_B.start + CUE_B.end) / 2
    a, b, none = frames_at(rendered["made"][name], [middle_a, middle_b, NO_CUE_AT])
    width, height = FORMATS[name]
    band_top = caption_area((width, height)).y
    # The same slide above the band: only the caption differs.
    assert changed_share(a[:band_top], b[:band_top]) < 0.001
    assert changed_share(a[:band_top], none[:band_top]) < 0.001
    # In the band: text on a box where a cue plays, different text for another cue, nothing without one.
    assert changed_share(caption_band(a), caption_band(none)) > 0.05
    assert changed_share(caption_band(a), caption_band(b)) > 0.01
    # Everything the caption changes stays in the safe area: bottom 20 %, 5 % side margins (rows and columns
    # where more than a few pixels change: the encoder's noise elsewhere is a pixel here and there).
    changed = np.abs(above_bar(a).astype(np.int16) - above_bar(none).astype(np.int16)).max(axis=2) > 24
    ys = np.flatnonzero(changed.sum(axis=1) > 0.02 * width)
    xs = np.flatnonzero(changed.sum(axis=0) > 0.02 * height)
    assert ys.min() >= 0.8 * height - 1
    assert xs.min() >= 0.05 * width and xs.max() <= 0.95 * width


def test_a_cue_is_on_screen_from_its_start(rendered):
    """From its first frame the cue's box is there, its first word lit; only the highlight moves after that."""
    path = rendered["made"]["landscape"]
    (none,) = frames_at(path, [NO_CUE_AT])
    for cue in CUES:
        at_start, middle = frames_at(path, [cue.start + 0.001, (cue.start + cue.end) / 2])
        assert changed_share(caption_band(at_start), caption_band(none)) > 0.02, cue
        assert changed_share(caption_band(at_start), caption_band(middle)) < 0.1, cue


def test_title_card_then_chapter_card_then_body(rendered):
    """The picture above the caption band changes from title card to chapter card to body slide."""
    path = rendered["made"]["landscape"]
    title, chapter_one, body_one, chapter_two, body_two = frames_at(path, [0.2, 4.0, 7.0, 9.5, 12.5])
    top = caption_area(FORMATS["landscape"]).y
    pictures = [title, chapter_one, body_one, chapter_two, body_two]
    for first, second in zip(pictures, pictures[1:], strict=False):
        assert changed_share(first[:top], second[:top]) > 0.005


def test_few_frames_are_encoded(rendered):
    """Piecewise constant: one frame per picture change (a word lit is a change; the progress bar moves at least
    every half second), not 30 a second."""
    with av.open(str(rendered["made"]["landscape"])) as container:
        frames = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    assert frames < len(TIMELINE.words) + 2 * TIMELINE.duration + 10  # at 30 fps it would be ~440


# --- caching -------------------------------------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unchanged_rerender_encodes_nothing(rendered):
    job = rendered["job"]
    before = {name: digest(path) for name, path in rendered["made"].items()}
    files_before = sorted(p for p in job.cache.root.rglob("*") if p.is_file())
    render_videos(job)
    assert {name: digest(path) for name, path in rendered["made"].items()} == before
    assert sorted(p for p in job.cache.root.rglob("*") if p.is_file()) == files_before


def test_a_caption_edit_redraws_only_that_caption(rendered, tmp_path):
    job = rendered["job"]
    slides = job.cache.root / "slide"
    before = {p for p in slides.rglob("*") if p.is_file()}
    edited = tuple(Cue(c.start, c.end, ("Ruth pretends to know it all",)) if c == CUE_A else c for c in CUES)
    out = tmp_path / "out"
    made = render_videos(VideoJob(TIMELINE, edited, job.narration, out, job.cache, job.ffmpeg,
                                  formats=("landscape",)))  # fmt: skip
    # Its box and its looks only: one pill per word spoken under it (the words added by hand are never lit).
    looks = {s.picture.caption for s in plan_shots(TIMELINE, edited) if s.picture.caption.lines == edited[4].lines}
    assert len(looks) == 4
    assert len({p for p in slides.rglob("*") if p.is_file()} - before) == 1 + len(looks)
    assert digest(made["landscape"]) != digest(rendered["made"]["landscape"])
    middle = (CUE_A.start + CUE_A.end) / 2
    (new_a,) = frames_at(made["landscape"], [middle])
    (old_a,) = frames_at(rendered["made"]["landscape"], [middle])
    assert changed_share(caption_band(new_a), caption_band(old_a)) > 0.005


# --- motion, errors, the picture model ---------------------------------------------------------------------


def test_motion_moves_the_backdrop_under_still_text(tmp_path, ffmpeg, narration):
    """Ken Burns on the body slide (square, 6 s: a real frame-by-frame encode, kept small)."""
    words = tuple(Word(f"word{i}", 0.5 + 0.3 * i, 0.76 + 0.3 * i, 0, 0, 0) for i in range(16))
    # One chapter named after the book: title card, then the body slide from 3 s (no chapter card).
    timeline = Timeline("Never Let Me Go", None, 6.0, words, (ChapterMark("Never Let Me Go", 0.0, 6.0),))
    cues = (Cue(0.5, 5.0, ("Still text over a moving backdrop",)),)
    job = VideoJob(timeline, cues, narration, tmp_path / "out", Cache(tmp_path / "cache"), ffmpeg,
                   formats=("square",), motion=True)  # fmt: skip
    path = render_videos(job)["square"]
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.profile == "High" and video.average_rate == 30
        ends = [float((p.pts + p.duration) * p.time_base) for p in container.demux(video) if p.pts is not None]
    assert abs(max(ends) - timeline.duration) <= 0.1
    early, late = frames_at(path, [3.2, 5.9])
    top = caption_area(FORMATS["square"]).y
    backdrop = (slice(300, top), slice(0, 1080))
    assert np.abs(early[backdrop].astype(np.int16) - late[backdrop].astype(np.int16)).mean() > 0.5
    header = (slice(60, 200), slice(60, 700))  # the book title in the header stays put
    assert changed_share(early[header], late[header]) < 0.02


def test_unknown_format_and_missing_narration_are_input_errors(tmp_path, ffmpeg, narration):
    cache = Cache(tmp_path / "cache")
    with pytest.raises(InputError, match=r"^unknown video format 'vertical' \(choose from landscape, portrait, "
                                         r"square\)$"):  # fmt: skip
        render_videos(VideoJob(TIMELINE, CUES, narration, tmp_path, cache, ffmpeg, formats=("vertical",)))
    missing = tmp_path / "nowhere.mp3"
    with pytest.raises(InputError, match="^narration not found: .*nowhere.mp3"):
        render_videos(VideoJob(TIMELINE, CUES, missing, tmp_path, cache, ffmpeg))
    assert not list(tmp_path.glob("*.mp4"))


def test_the_picture_model():
    shots = plan_shots(TIMELINE, CUES)
    assert shots[0].start == 0 and shots[-1].end == TIMELINE.duration
    assert all(a.end == b.start and a.picture != b.picture for a, b in zip(shots, shots[1:], strict=False))
    kinds = []
    for shot in shots:
        if not kinds or kinds[-1] != shot.picture.card.kind:
            kinds.append(shot.picture.card.kind)
    assert kinds == ["title", "chapter", "body", "chapter", "body"]
    assert shots[0].picture.caption == Caption()  # silence before the first word: no caption


words = st.lists(st.floats(0.05, 0.6), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(gaps=words, split=st.integers(0, 29), cue_size=st.integers(1, 6))
def test_every_moment_shows_the_cue_playing_then(gaps, split, cue_size):
    """For any timeline: the shots tile [0, duration], and the caption at any cue's middle is that cue."""
    t, timeline_words = 0.3, []
    chapters_at = [0.0]
    for i, gap in enumerate(gaps):
        chapter = 1 if i >= split else 0
        if chapter and len(chapters_at) == 1:
            chapters_at.append(t)
        timeline_words.append(Word(f"w{i}", round(t, 3), round(t + 0.2, 3), 0, 0, chapter))
        t += 0.2 + gap
    duration = round(t + 0.5, 3)
    marks = tuple(ChapterMark(f"Part {i}", at, (chapters_at + [duration])[i + 1]) for i, at in enumerate(chapters_at))
    timeline = Timeline("Book", None, duration, tuple(timeline_words), marks)
    cues = [
        Cue(timeline_words[i].start, timeline_words[min(i + cue_size, len(timeline_words)) - 1].end,
            (" ".join(w.text for w in timeline_words[i : i + cue_size]),))
        for i in range(0, len(timeline_words), cue_size)
    ]  # fmt: skip
    shots = plan_shots(timeline, cues)
    assert shots[0].start == 0 and shots[-1].end == duration
    assert all(a.end == b.start and a.end > a.start for a, b in zip(shots, shots[1:], strict=False))
    for cue in cues:
        middle = (cue.start + cue.end) / 2
        shot = next(s for s in shots if s.start <= middle < s.end)
        assert shot.picture.caption.lines == cue.lines
