"""The frames of a still video, composited in numpy and streamed to the encoder as raw YUV 4:2:0.

A still video changes little from one frame to the next: the highlight moves to the next word, the progress bar
grows by a few pixels. So the frame is kept as one buffer and each new frame repaints only what changed: a new
slide is copied in whole (converted to YUV once), a new cue's box is composited over the slide where it sits, a
highlight moving within a cue puts back the box where its pill was and paints the pill's small picture where it
goes, and the progress bar's fill is painted along the bottom edge. Nothing is decoded, scaled or blended per
frame by ffmpeg, and each frame costs the encoder alone.

Colour: BT.709, limited range (what HD players assume); chroma is the mean of each 2×2 block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.pictures.drawing import Placed
from pipeline.pictures.slides import Caption, Slide
from pipeline.video import matroska

_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
# RGB → BT.709 limited-range Y, Cb, Cr as a colour matrix (Pillow's: three rows of r, g, b weights and an offset).
_TO_YCBCR = (
    *(k * 219 / 255 for k in (_KR, _KG, _KB)), 16.0,
    *(k / (2 * (1 - _KB)) * 224 / 255 for k in (-_KR, -_KG, 1 - _KB)), 128.0,
    *(k / (2 * (1 - _KR)) * 224 / 255 for k in (1 - _KR, -_KG, -_KB)), 128.0,
)  # fmt: skip


def yuv420(picture: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An RGB or RGBA picture (both sides even; alpha ignored) as BT.709 limited-range Y, Cb and Cr planes.

    Pillow's matrix conversion (one rounded pass in C) and its 2×2 box reduction for the chroma: 2–3× faster than
    the same arithmetic in numpy (float32, a pass per term), within a level of it.
    """
    ycbcr = (picture if picture.mode == "RGB" else picture.convert("RGB")).convert("RGB", _TO_YCBCR)
    chroma = ycbcr.reduce(2)
    return np.asarray(ycbcr.getchannel(0)), np.asarray(chroma.getchannel(1)), np.asarray(chroma.getchannel(2))


@dataclass(frozen=True)
class FrameSource:
    """Where the pictures come from: a slide as an RGB image; a caption's box (no word lit) with its place in the
    caption band; its lit word's pill with its place in the box. Each may draw (and store) the picture on first
    use."""

    slide: Callable[[Slide], Image.Image]
    caption: Callable[[Caption], Placed]
    lit: Callable[[Caption], Placed]


@dataclass(frozen=True)
class ProgressFill:
    """The progress bar's fill: shown on frames ``first`` ≤ n < ``last``, ``n / total`` of the width."""

    first: int
    last: int
    total: int
    height: int
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class Frame:
    """One frame to encode: its number on the frame grid and what it shows."""

    number: int
    slide: Slide
    caption: Caption


class _Buffer:
    """A YUV 4:2:0 frame as one contiguous buffer (the Matroska block's payload) with views of its planes."""

    def __init__(self, width: int, height: int) -> None:
        self.data = np.zeros(width * height * 3 // 2, np.uint8)
        luma, chroma = width * height, width * height // 4
        self.planes = (
            self.data[:luma].reshape(height, width),
            self.data[luma : luma + chroma].reshape(height // 2, width // 2),
            self.data[luma + chroma :].reshape(height // 2, width // 2),
        )

    def copy_rect(self, source: _Buffer, left: int, top: int, right: int, bottom: int) -> None:
        """Copy a rectangle (even corners, luma pixels) from another frame."""
        for index, (mine, theirs) in enumerate(zip(self.planes, source.planes, strict=True)):
            scale = 1 if index == 0 else 2
            rows, cols = slice(top // scale, bottom // scale), slice(left // scale, right // scale)
            mine[rows, cols] = theirs[rows, cols]

    def paint_rect(self, picture: Image.Image, left: int, top: int) -> None:
        """Write an RGB(A) picture (even size) at an even corner."""
        width, height = picture.size
        for index, (plane, values) in enumerate(zip(self.planes, yuv420(picture), strict=True)):
            scale = 1 if index == 0 else 2
            plane[top // scale : (top + height) // scale, left // scale : (left + width) // scale] = values


class FrameCompositor:
    """Composites the frames of one still video of ``size`` (width and height even); the caption band starts at
    row ``band_top``."""

    def __init__(self, size: tuple[int, int], band_top: int, source: FrameSource, fill: ProgressFill | None,
                 pool: ThreadPoolExecutor) -> None:  # fmt: skip
        self.width, self.height = size
        self.band_top = band_top
        self.source = source
        self.fill = fill
        self.pool = pool
        self.fill_yuv = [int(p[0, 0]) for p in yuv420(Image.new("RGB", (2, 2), fill.colour))] if fill else []

    def stream(self, frames: Sequence[Frame], fps: int) -> Iterator[bytes | memoryview]:
        """The Matroska stream of the frames (``frames`` in order, each number on the ``fps`` grid)."""
        yield matroska.header(self.width, self.height, round(1e9 / fps))
        for number, data in self.composite(frames):
            yield matroska.frame(round(number * 1000 / fps), data.nbytes)
            yield data.data  # the buffer itself: the pipe copies it before the next frame is painted

    def composite(self, frames: Sequence[Frame]) -> Iterator[tuple[int, np.ndarray]]:
        """Each frame's number and its YUV buffer (the same buffer each time, repainted: use it before the next).

        Three buffers: the slide alone (where a cue's box is taken off again), the slide with the cue's box (where
        a lit word's pill is taken off again) and the frame.
        """
        frame, boxed = _Buffer(self.width, self.height), _Buffer(self.width, self.height)
        slides = _Prefetch(self.pool, self.source.slide, [f.slide for f in frames])
        slide: Slide | None = None
        base: _Buffer | None = None  # the current slide in YUV
        picture: Image.Image | None = None  # …and in RGBA
        cue: Caption | None = None  # the cue whose box is shown (no word lit)
        shown: Caption | None = None  # the look shown
        box, lit = _Placed(), _Placed()
        filled = 0  # the width of progress fill painted in ``frame``
        for item in frames:
            if item.slide != slide:
                slide, picture = item.slide, slides.get(item.slide).convert("RGBA")
                base = _Buffer(self.width, self.height)
                base.paint_rect(picture, 0, 0)
                frame.data[:] = base.data
                cue, shown, box, lit, filled = None, None, _Placed(), _Placed(), 0
            assert base is not None and picture is not None
            if item.caption != shown:
                unlit = Caption(item.caption.lines, item.caption.text)
                if unlit != cue:  # another cue: its box replaces the last one's
                    if box.image is not None:
                        frame.copy_rect(base, *box.rect)
                    box = self._place(*self.source.caption(unlit), (0, self.band_top))
                    if box.image is not None:
                        self._paint(frame, picture, [box], box.rect)
                        boxed.copy_rect(frame, *box.rect)
                    cue = unlit
                elif lit.image is not None:  # the same cue: the pill leaves the word it was on
                    frame.copy_rect(boxed, *lit.rect)
                lit = _Placed()
                if item.caption.highlight and box.image is not None:
                    lit = self._place(*self.source.lit(item.caption), box.at)
                    if lit.image is not None:
                        self._paint(frame, picture, [box, lit], lit.rect)
                shown = item.caption
            filled = self._paint_fill(frame, base, item.number, filled)
            yield item.number, frame.data

    def _place(self, image: Image.Image | None, offset: tuple[int, int], origin: tuple[int, int]) -> _Placed:
        """A picture placed at ``origin`` + ``offset`` in the frame, with the rectangle it repaints: its own,
        widened to even corners (chroma is sampled in 2×2 blocks)."""
        if image is None:
            return _Placed()
        left, top = origin[0] + offset[0], origin[1] + offset[1]
        rect = (max(0, left & ~1), max(0, top & ~1), min(self.width, (left + image.width + 1) & ~1),
                min(self.height, (top + image.height + 1) & ~1))  # fmt: skip
        return _Placed(image, (left, top), rect)

    def _paint(self, frame: _Buffer, picture: Image.Image, layers: Sequence[_Placed],
               rect: tuple[int, int, int, int]) -> None:  # fmt: skip
        """The layers over the slide inside ``rect`` (frame coordinates, even corners), written into the frame."""
        left, top, right, bottom = rect
        if right <= left or bottom <= top:
            return
        under = picture.crop(rect)
        for layer in layers:
            assert layer.image is not None
            x, y = layer.at[0] - left, layer.at[1] - top  # the layer's corner in ``under``
            source = (max(0, -x), max(0, -y), min(layer.image.width, under.width - x),
                      min(layer.image.height, under.height - y))  # fmt: skip
            if source[2] > source[0] and source[3] > source[1]:
                under.alpha_composite(layer.image, dest=(max(0, x), max(0, y)), source=source)
        frame.paint_rect(under, left, top)

    def _paint_fill(self, frame: _Buffer, base: _Buffer, number: int, filled: int) -> int:
        """Paint the progress bar's fill for frame ``number``; return its width."""
        fill = self.fill
        if fill is None:
            return 0
        width = (self.width * number // fill.total) & ~1 if fill.first <= number < fill.last else 0
        top = self.height - fill.height
        if width < filled:  # never within one slide, but a fill is never left behind
            frame.copy_rect(base, width, top & ~1, filled, self.height)
        if width:
            for index, (plane, value) in enumerate(zip(frame.planes, self.fill_yuv, strict=True)):
                scale = 1 if index == 0 else 2
                plane[top // scale :, : width // scale] = value
        return width


@dataclass(frozen=True)
class _Placed:
    """A picture where it sits in the frame: its corner and the rectangle it repaints (even corners)."""

    image: Image.Image | None = None
    at: tuple[int, int] = (0, 0)
    rect: tuple[int, int, int, int] = (0, 0, 0, 0)


class _Prefetch:
    """Slides are drawn (or read from the cache) ahead of need, a few at a time, in the pool's threads."""

    AHEAD = 2

    def __init__(self, pool: ThreadPoolExecutor, load: Callable[[Slide], Image.Image], order: Sequence[Slide]) -> None:
        self.pool = pool
        self.load = load
        self.order = list(dict.fromkeys(order))
        self.futures: dict[Slide, Future[Image.Image]] = {}
        self._submit(0)

    def _submit(self, start: int) -> None:
        for slide in self.order[start : start + 1 + self.AHEAD]:
            if slide not in self.futures:
                self.futures[slide] = self.pool.submit(self.load, slide)

    def get(self, slide: Slide) -> Image.Image:
        index = self.order.index(slide)
        self._submit(index)
        if slide not in self.futures:  # shown before and shown again: drawn (or read) once more
            self.futures[slide] = self.pool.submit(self.load, slide)
        image = self.futures[slide].result()
        for earlier in self.order[:index]:  # shown already (a slide comes back only as a drawn-again picture)
            self.futures.pop(earlier, None)
        return image
