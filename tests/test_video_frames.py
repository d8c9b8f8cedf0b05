"""The still video's frames: composited incrementally, they equal frames composited from scratch; their colours are
what ffmpeg's BT.709 conversion gives; the Matroska stream carries each frame's time into the encode."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from support import evenly_spoken

from pipeline.cache import Cache
from pipeline.ffmpeg import locate
from pipeline.narration.captions import build_cues
from pipeline.narration.timeline import Timeline
from pipeline.pictures.drawing import SlideStore
from pipeline.pictures.slides import caption_area, plan_shots
from pipeline.video import matroska
from pipeline.video.encode import _LayerPlan, _progress_fill, _snap, _still_frames
from pipeline.video.frames import FrameCompositor, FrameSource, yuv420

TEXT = (
    "Kathy recalls her time at Hailsham, a boarding school with a secret. She had two best friends, Ruth and "
    "Tommy, and a favourite tape that she later loses in a sale.",
    "They move into The Cottages and drive cars along the coast. Ruth pretends to know all about deferrals.",
)


def make_timeline() -> Timeline:
    return evenly_spoken((("Hailsham", TEXT[0]), ("The Cottages", TEXT[1])), gap=1.6, tail=1.5)


@pytest.mark.parametrize("size", [(640, 360), (360, 640)])
def test_frames_painted_incrementally_equal_frames_painted_from_scratch(tmp_path, size):
    """Every frame of a short video (cards, many highlights, cue changes, pauses, the fill) is exactly what a
    compositor starting from nothing paints for it: a moved highlight leaves nothing behind."""
    timeline = make_timeline()
    shots = _snap(plan_shots(timeline, build_cues(timeline), "highlight"), 30, timeline.duration)
    frames = _still_frames(shots, 30)
    fill = _progress_fill(_LayerPlan.build(shots, motion=False), size)
    store = SlideStore(Cache(tmp_path / "cache"), size)
    source = FrameSource(slide=store.slide_image, caption=store.caption_box, lit=store.caption_lit)
    with ThreadPoolExecutor(1) as pool:
        incremental = FrameCompositor(size, caption_area(size).y, source, fill, pool)
        painted = 0
        for frame, (number, data) in zip(frames, incremental.composite(frames), strict=True):
            assert number == frame.number
            fresh = FrameCompositor(size, caption_area(size).y, source, fill, pool)
            (_, expected), *_ = fresh.composite([frame])
            assert np.array_equal(data, expected), f"frame {number}"
            painted += 1
    assert painted == len(frames) > 60
    assert len({f.caption for f in frames}) > 40  # many looks went by: the highlight moved word by word


def test_colours_match_ffmpeg_bt709_limited_range(tmp_path):
    """Solid 8×8 blocks convert as ffmpeg's BT.709 limited-range scaler does: luma within 1, chroma within 2
    (swscale's fixed-point chroma; compared inside the blocks, where its wider chroma filter sees one colour)."""
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    blocks[0, :4] = [(0, 0, 0), (255, 255, 255), (233, 196, 122), (10, 12, 20)]
    rgb = blocks.repeat(8, axis=0).repeat(8, axis=1)  # 48×48
    luma, cb, cr = yuv420(Image.fromarray(rgb))
    raw = locate(None).pipe(
        ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x48", "-i", "pipe:0",
         "-vf", "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,format=yuv420p",
         "-f", "rawvideo", "pipe:1"],
        rgb.tobytes(), what="converting test colours",
    )  # fmt: skip
    theirs = np.frombuffer(raw, np.uint8)
    their_luma = theirs[: 48 * 48].reshape(48, 48)
    their_cb, their_cr = theirs[48 * 48 :].reshape(2, 24, 24)
    assert [int(luma[0, 8 * i]) for i in range(2)] == [16, 235]  # black, white
    assert np.abs(luma.astype(int) - their_luma.astype(int)).max() <= 1
    inside = (slice(1, None, 4), slice(1, None, 4))  # a chroma sample in the middle of each block
    for ours, reference in ((cb, their_cb), (cr, their_cr)):
        assert np.abs(ours[inside].astype(int) - reference[inside].astype(int)).max() <= 2


def test_the_matroska_stream_carries_each_frame_time(tmp_path):
    """Frames at uneven times on a 30 fps grid come out of the encode at exactly those times."""
    width, height, numbers = 64, 48, [0, 5, 6, 30, 59]

    def stream():
        yield matroska.header(width, height, round(1e9 / 30))
        for index, number in enumerate(numbers):
            frame = np.full(width * height * 3 // 2, 16 + 40 * index, np.uint8)
            yield matroska.frame(round(number * 1000 / 30), frame.nbytes)
            yield frame.data

    out = tmp_path / "out.mp4"
    locate(None).run(["-f", "matroska", "-i", "pipe:0", "-c:v", "libx264", "-fps_mode", "passthrough",
                      "-enc_time_base", "1/30", "-bf", "0", out], input_chunks=stream())  # fmt: skip
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        times = [round(float(frame.pts * video.time_base) * 30) for frame in container.decode(video)]
    assert times == numbers


def test_an_error_while_making_frames_stops_ffmpeg_and_reaches_the_caller(tmp_path):
    def stream():
        yield matroska.header(64, 48, round(1e9 / 30))
        for number in itertools.count():
            if number == 3:
                raise ValueError("drawing failed")
            yield matroska.frame(round(number * 1000 / 30), 64 * 48 * 3 // 2)
            yield bytes(64 * 48 * 3 // 2)

    with pytest.raises(ValueError, match="drawing failed"):
        locate(None).run(["-f", "matroska", "-i", "pipe:0", "-c:v", "libx264", tmp_path / "out.mp4"],
                         input_chunks=stream())  # fmt: skip


def test_cached_caption_pictures_read_back_as_drawn(tmp_path):
    """A cue's box is stored once for all its looks; each look adds its lit word's pill alone."""
    timeline = make_timeline()
    size = (640, 360)
    captions = list(dict.fromkeys(s.picture.caption for s in plan_shots(timeline, build_cues(timeline))))[:6]
    drawing = SlideStore(Cache(tmp_path / "cache"), size)
    drawn = [(drawing.caption_box(c), drawing.caption_lit(c)) for c in captions]  # drawn, and stored
    reading = SlideStore(Cache(tmp_path / "cache"), size)
    read = [(reading.caption_box(c), reading.caption_lit(c)) for c in captions]
    for pair, again in zip(drawn, read, strict=True):
        for (picture, place), (read_picture, read_place) in zip(pair, again, strict=True):
            assert place == read_place
            assert (picture is None) == (read_picture is None)
            if picture is not None and read_picture is not None:
                assert np.array_equal(np.asarray(picture), np.asarray(read_picture))
    lit = [c for c in captions if c.highlight]
    boxes = {(c.lines, c.text) for c in captions}
    assert len(lit) >= 4 and all(pill is not None and pill.height < box.height for (box, _), (pill, _) in
                                 (pair for pair, c in zip(drawn, captions, strict=True) if c.highlight))  # fmt: skip
    assert sum(1 for _ in Path(tmp_path / "cache" / "slide").rglob("*.tga")) == len(boxes) + len(lit)
