"""Issue 13, measured from outside: word-highlight captions and cards in frames decoded by PyAV, and the music
bed in a real render of the short summary (stems: the bed sits well under every word and rises in the pauses;
the video's sound: narration and bed mastered together)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from support import ebur128

from pipeline.cache import Cache
from pipeline.cli import main
from pipeline.ffmpeg import locate
from pipeline.narration.captions import Cue
from pipeline.narration.timeline import ChapterMark, Timeline, Word
from pipeline.pictures.drawing import progress_bar_height
from pipeline.pictures.slides import caption_area, plan_shots
from pipeline.video.encode import FORMATS, VideoJob, render_videos

pytestmark = pytest.mark.media

TEXT = "Kathy remembers Hailsham and the long summers there. Ruth and Tommy were her closest friends."


def make_timeline() -> Timeline:
    """Two sentences 1.6 s apart (a pause between cues), 0.3 s a word, one titled chapter."""
    words: list[Word] = []
    t = 0.6
    for index, sentence in enumerate(TEXT.split(". ")):
        if index:
            t += 1.6
        for word in sentence.split():
            words.append(Word(word, round(t, 3), round(t + 0.26, 3), index, 0, 0))
            t += 0.3
    duration = round(t + 2.0, 3)
    return Timeline(
        "The Quiet Harbour", "Ada Example", duration, tuple(words), (ChapterMark("Arrival", 0.0, duration),)
    )


TIMELINE = make_timeline()
FIRST = [w for w in TIMELINE.words if w.sentence == 0]
SECOND = [w for w in TIMELINE.words if w.sentence == 1]
CUES = (
    Cue(FIRST[0].start, FIRST[-1].end, ("Kathy remembers Hailsham", "and the long summers there.")),
    Cue(SECOND[0].start, SECOND[-1].end, ("Ruth and Tommy were", "her closest friends.")),
)
PAUSE = (FIRST[-1].end + SECOND[0].start) / 2


def middle(word: Word) -> float:
    return (word.start + word.end) / 2


@pytest.fixture(scope="module")
def ffmpeg():
    return locate(None)


@pytest.fixture(scope="module")
def narration(tmp_path_factory, ffmpeg) -> Path:
    path = tmp_path_factory.mktemp("narration") / "narration.mp3"
    subprocess.run(
        [ffmpeg.exe, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         f"aevalsrc='0.05*(2*random(0)-1)':s=44100:d={TIMELINE.duration}", "-ac", "1", "-c:a", "libmp3lame",
         "-b:a", "96k", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory, ffmpeg, narration) -> dict:
    """Landscape with each caption style; the highlight style in all three formats."""
    root = tmp_path_factory.mktemp("design")
    cache = Cache(root / "cache")
    made = {}
    for style, formats in (("highlight", ("landscape", "portrait", "square")), ("plain", ("landscape",)),
                           ("none", ("landscape",))):  # fmt: skip
        job = VideoJob(TIMELINE, CUES, narration, root / style, cache, ffmpeg, formats=formats, captions=style)
        made[style] = render_videos(job)
    return made


def frames_at(path: Path, times: list[float]) -> list[np.ndarray]:
    """The picture on screen at each time: the last decoded frame whose presentation time is ≤ t (VFR-safe)."""
    with av.open(str(path)) as container:
        frames = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    return [[image for at, image in frames if at <= t + 1e-6][-1] for t in times]


def band(image: np.ndarray) -> np.ndarray:
    """The caption band without the progress bar along the bottom edge."""
    height, width = image.shape[:2]
    return image[caption_area((width, height)).y : height - 3 * progress_bar_height((width, height))]


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 40).mean())


@pytest.mark.parametrize("name", ["landscape", "portrait", "square"])
def test_the_highlight_moves_from_word_to_word_and_a_pause_shows_no_caption(videos, name):
    path = videos["highlight"][name]
    (none,) = frames_at(videos["none"]["landscape"], [PAUSE]) if name == "landscape" else (None,)
    one, two, pause = frames_at(path, [middle(FIRST[1]), middle(FIRST[2]), PAUSE])
    top = caption_area(FORMATS[name]).y
    assert changed_share(one[:top], two[:top]) < 0.001  # the same slide: only the caption band changes
    assert changed_share(band(one), band(two)) > 0.002  # the pill moved to the next word
    assert changed_share(band(one), band(pause)) > 0.02  # a caption, then none
    if none is not None:  # in the pause the band is exactly what a video without captions shows
        assert changed_share(band(pause), band(none)) < 0.001


def test_plain_captions_hold_still_and_none_shows_nothing(videos):
    plain_one, plain_two = frames_at(videos["plain"]["landscape"], [middle(FIRST[1]), middle(FIRST[2])])
    assert changed_share(band(plain_one), band(plain_two)) < 0.001
    (none_one,) = frames_at(videos["none"]["landscape"], [middle(FIRST[1])])
    (pause,) = frames_at(videos["none"]["landscape"], [PAUSE])
    assert changed_share(band(none_one), band(pause)) < 0.001
    assert changed_share(band(plain_one), band(none_one)) > 0.02


def test_each_highlight_is_a_picture_drawn_once(videos):
    """One caption picture per spoken word (its pill) plus each cue's box and the empty band; nothing drawn twice."""
    shots = plan_shots(TIMELINE, CUES, "highlight")
    looks = {shot.picture.caption for shot in shots}
    assert len(looks) == len(TIMELINE.words) + 1  # every word lit once, and the empty band
    slides = {(shot.picture.backdrop, shot.picture.card) for shot in shots}
    pictures = list((Path(videos["highlight"]["landscape"]).parent.parent / "cache" / "slide").rglob("*.tga"))
    # In three formats: the pills and the empty band, the cues' boxes, the slides. The plain and none videos
    # (one format) show only boxes, slides and the empty band already drawn.
    assert len(pictures) == 3 * (len(looks) + len(CUES) + len(slides))


def test_title_card_body_and_end_card(videos):
    path = videos["highlight"]["landscape"]
    title, body, end = frames_at(path, [0.3, 4.5, TIMELINE.duration - 0.2])
    top = caption_area(FORMATS["landscape"]).y
    assert changed_share(title[:top], body[:top]) > 0.02
    assert changed_share(end[:top], body[:top]) > 0.02
    # The cover art sits on the title card's left (its title in large type): much of that area changes.
    left = (slice(250, 650), slice(300, 750))
    assert changed_share(title[left], body[left]) > 0.05


def test_the_progress_bar_fills_with_time(videos):
    path = videos["highlight"]["landscape"]
    early, late = frames_at(path, [4.0, SECOND[-1].start])
    bar = progress_bar_height(FORMATS["landscape"])

    def filled(image: np.ndarray) -> int:
        row = image[-bar // 2 - 1].astype(np.int16)
        gold = (row[:, 0] > 180) & (row[:, 1] > 150) & (row[:, 2] < 160)
        return int(gold.sum())

    assert 0 < filled(early) < filled(late) < FORMATS["landscape"][0]


# --- the music bed in a real render ----------------------------------------------------------------------------


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as handle:
        width = handle.getsampwidth()
        raw = handle.readframes(handle.getnframes())
        rate = handle.getframerate()
    if width == 3:
        data = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        samples = data[:, 0].astype(np.int32) | data[:, 1].astype(np.int32) << 8 | data[:, 2].astype(np.int32) << 16
        samples = np.where(samples >= 1 << 23, samples - (1 << 24), samples) / float(1 << 23)
    else:
        samples = np.frombuffer(raw, np.int16) / 32768.0
    return samples, rate


def rms_db(samples: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-20))


@pytest.fixture(scope="module")
def with_stems(short_render, short_summary, tmp_path_factory) -> dict:
    """The short summary rendered again on the narration tests' cache (nothing synthesised), with the bed's
    stems and the video."""
    root = tmp_path_factory.mktemp("music")
    args = ["render", str(short_summary), "--out", str(root / "out"), "--cache", str(short_render["cache"]),
            "--stems", str(root / "stems"), "--json", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return {"out": root / "out", "stems": root / "stems", "result": json.loads(result.output)}


def test_stems_the_bed_is_under_every_word_and_rises_in_the_pauses(with_stems):
    timeline = json.loads((with_stems["out"] / "timeline.json").read_text("utf-8"))
    voice, rate = read_wav(with_stems["stems"] / "voice.wav")
    bed, bed_rate = read_wav(with_stems["stems"] / "bed.wav")
    assert rate == bed_rate == 44100 and abs(len(voice) - len(bed)) < rate // 10
    words = [(w["start"], w["end"]) for w in timeline["words"] if w["end"] - w["start"] >= 0.02]
    under = [rms_db(bed[int(a * rate) : int(b * rate)]) for a, b in words]
    margins = [rms_db(voice[int(a * rate) : int(b * rate)]) - level for (a, b), level in zip(words, under, strict=True)]
    assert np.median(margins) >= 18
    pauses = [(a[1], b[0]) for a, b in zip(words, words[1:], strict=False) if b[0] - a[1] >= 1.5]
    assert pauses  # the chapter pauses of the short summary
    for start, end in pauses:
        assert rms_db(bed[int(start * rate) : int(end * rate)]) >= np.median(under) + 10


def test_the_video_sound_is_voice_and_bed_mastered_together(with_stems, ffmpeg_exe):
    video = with_stems["out"] / "video.mp4"
    integrated, peak = ebur128(ffmpeg_exe, video)
    assert abs(integrated + 16) <= 1 and peak <= -1.0
    # narration.mp3 stays clean (no --podcast-music): silent before the first word, the video is not.
    timeline = json.loads((with_stems["out"] / "timeline.json").read_text("utf-8"))
    first = timeline["words"][0]["start"]

    def opening(path: Path) -> float:
        pcm = subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(path), "-t", str(first - 0.05), "-ac", "1",
                              "-ar", "44100", "-f", "f32le", "-"], capture_output=True, check=True).stdout  # fmt: skip
        return rms_db(np.frombuffer(pcm, np.float32)[4410:])

    assert opening(with_stems["out"] / "narration.mp3") < -60
    assert opening(video) > -50


def test_a_missing_music_file_is_one_line(short_summary, tmp_path):
    result = CliRunner().invoke(main, ["render", str(short_summary), "--out", str(tmp_path / "out"),
                                       "--music", str(tmp_path / "nowhere.ogg")])  # fmt: skip
    assert result.exit_code == 1
    assert (
        result.output == f"Error: music file not found: {tmp_path / 'nowhere.ogg'} (give auto, none or an audio file)\n"
    )


def test_a_music_file_that_is_not_audio_stops_the_video_with_one_line(tmp_path, ffmpeg, narration):
    """The music is made while the pictures encode: when it cannot be, the encode stops and nothing is kept."""
    from pipeline.errors import MediaError
    from pipeline.video.music import MusicMix

    bogus = tmp_path / "notes.mp3"
    bogus.write_text("not a sound\n", "utf-8")
    cache = Cache(tmp_path / "cache")
    sound = MusicMix(bogus, narration, TIMELINE, cache, ffmpeg)
    job = VideoJob(TIMELINE, CUES, sound, tmp_path / "out", cache, ffmpeg, formats=("landscape", "square"))
    with pytest.raises(MediaError, match=r"^reading the music file notes\.mp3 failed"):
        render_videos(job)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not list((tmp_path / "cache" / "video").rglob("*.mp4"))


def test_a_music_file_is_looped_faded_and_ducked_from_the_timeline(tmp_path, ffmpeg):
    """--music FILE: a 3 s clip under a longer timeline loops to its end, fades in and out, and is ducked under
    every phrase (before the first word starts) and up in the pause between the sentences."""
    from pipeline.video.music import make_bed

    clip = tmp_path / "clip.ogg"
    subprocess.run([ffmpeg.exe, "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=3", "-c:a", "libvorbis", str(clip)],
                   check=True)  # fmt: skip
    bed, rate = read_wav(make_bed(clip, TIMELINE, Cache(tmp_path / "cache"), ffmpeg))
    assert abs(len(bed) / rate - TIMELINE.duration) < 0.01
    assert rms_db(bed[: rate // 20]) < rms_db(bed[rate // 2 : rate // 2 + rate // 20]) - 6  # fading in
    pause = rms_db(bed[int((FIRST[-1].end + 0.7) * rate) : int((SECOND[0].start - 0.5) * rate)])
    under = [rms_db(bed[int(w.start * rate) : int(w.end * rate)]) for w in TIMELINE.words]
    assert pause >= np.median(under) + 10
    assert max(under) <= pause - 10  # every word, the first one included: the fall ends before it starts
    assert rms_db(bed[-rate // 20 :]) < pause - 12  # fading out
