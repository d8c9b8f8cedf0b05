"""The frames of a still video, composited in numpy and streamed to the encoder as raw YUV 4:2:0.

A still video changes little from one frame to the next: the highlight moves to the next word, the progress bar
grows by a few pixels. So the frame is kept as one buffer and each new frame repaints only what changed: a new
slide is copied in whole (converted to YUV once), a new cue's box is composited over the slide where it sits, a
highlight moving within a cue repaints only the rectangle where the two looks differ, and the progress bar's fill
is painted along the bottom edge. Nothing is decoded, scaled or blended per frame by ffmpeg, and each frame costs
the encoder alone.

Colour: BT.709, limited range (what HD players assume); chroma is the mean of each 2×2 block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.pictures.slides import Caption, Slide
from pipeline.video import matroska

_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
_LUMA = np.array([_KR, _KG, _KB], np.float32) * np.float32(219 / 255)
_CB = np.array([-_KR, -_KG, 1 - _KB], np.float32) / np.float32(2 * (1 - _KB)) * np.float32(224 / 255)
_CR = np.array([1 - _KR, -_KG, -_KB], np.float32) / np.float32(2 * (1 - _KR)) * np.float32(224 / 255)


def yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An RGB picture (height × width × 3, both even) as BT.709 limited-range Y, Cb and Cr planes.

    Element-wise arithmetic rather than a matrix product: BLAS would spin up threads that keep spinning between
    the many small pictures, taking the cores the encoder needs.
    """
    pixels = rgb.astype(np.float32)
    block = pixels[0::2, 0::2] + pixels[1::2, 0::2]
    block += pixels[0::2, 1::2]
    block += pixels[1::2, 1::2]
    return _weighted(pixels, _LUMA, 16.5), _weighted(block, _CB / 4, 128.5), _weighted(block, _CR / 4, 128.5)


def _weighted(pixels: np.ndarray, weights: np.ndarray, offset: float) -> np.ndarray:
    """``pixels · weights + offset`` per pixel, as 8 bits (the offset includes +0.5 to round)."""
    out = pixels[..., 0] * weights[0]
    out += pixels[..., 1] * weights[1]
    out += pixels[..., 2] * weights[2]
    out += np.float32(offset)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


@dataclass(frozen=True)
class FrameSource:
    """Where the pictures come from: a slide as an RGB image, a caption as its box and the box's place in the
    caption band (None for no caption). Both may draw (and store) the picture on first use."""

    slide: Callable[[Slide], Image.Image]
    caption: Callable[[Caption], tuple[Image.Image | None, tuple[int, int]]]


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

    def paint_rect(self, rgb: np.ndarray, left: int, top: int) -> None:
        """Write an RGB picture (even size) at an even corner."""
        height, width = rgb.shape[:2]
        for index, (plane, values) in enumerate(zip(self.planes, yuv420(rgb), strict=True)):
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
        self.fill_yuv = [int(p[0, 0]) for p in yuv420(np.full((2, 2, 3), fill.colour, np.uint8))] if fill else []
        self._memo: tuple[Image.Image, np.ndarray] | None = None  # the last caption box and its pixels

    def stream(self, frames: Sequence[Frame], fps: int) -> Iterator[bytes | memoryview]:
        """The Matroska stream of the frames (``frames`` in order, each number on the ``fps`` grid)."""
        yield matroska.header(self.width, self.height, round(1e9 / fps))
        for number, data in self.composite(frames):
            yield matroska.frame(round(number * 1000 / fps), data.nbytes)
            yield data.data  # the buffer itself: the pipe copies it before the next frame is painted

    def composite(self, frames: Sequence[Frame]) -> Iterator[tuple[int, np.ndarray]]:
        """Each frame's number and its YUV buffer (the same buffer each time, repainted: use it before the next)."""
        frame = _Buffer(self.width, self.height)
        slides = _Prefetch(self.pool, self.source.slide, [f.slide for f in frames])
        slide: Slide | None = None
        base: _Buffer | None = None  # the current slide in YUV
        picture: Image.Image | None = None  # …and in RGB
        shown: Caption | None = None
        shown_box: tuple[Image.Image | None, tuple[int, int]] = (None, (0, 0))
        filled = 0  # the width of progress fill painted in ``frame``
        for item in frames:
            if item.slide != slide:
                slide, picture = item.slide, slides.get(item.slide)
                base = _Buffer(self.width, self.height)
                base.paint_rect(np.asarray(picture.convert("RGB")), 0, 0)
                frame.data[:] = base.data
                shown, shown_box, filled = None, (None, (0, 0)), 0
            assert base is not None and picture is not None
            if item.caption != shown:
                box = self.source.caption(item.caption)
                self._repaint_caption(frame, base, picture, shown_box, box, same_cue=_same_cue(shown, item.caption))
                shown, shown_box = item.caption, box
            filled = self._paint_fill(frame, base, item.number, filled)
            yield item.number, frame.data

    def _box_rect(self, box: Image.Image, offset: tuple[int, int]) -> tuple[int, int, int, int]:
        """The box's rectangle in the frame, widened to even corners."""
        left, top = offset[0], offset[1] + self.band_top
        right, bottom = left + box.width, top + box.height
        return (max(0, left & ~1), max(0, top & ~1), min(self.width, (right + 1) & ~1),
                min(self.height, (bottom + 1) & ~1))  # fmt: skip

    def _repaint_caption(self, frame: _Buffer, base: _Buffer, picture: Image.Image,
                         old: tuple[Image.Image | None, tuple[int, int]],
                         new: tuple[Image.Image | None, tuple[int, int]], same_cue: bool) -> None:  # fmt: skip
        old_box, old_offset = old
        new_box, new_offset = new
        if same_cue and old_box is not None and new_box is not None and old_box.size == new_box.size \
                and old_offset == new_offset:  # fmt: skip
            old_pixels = self._memo[1] if self._memo and self._memo[0] is old_box else _pixels(old_box)
            new_pixels = _pixels(new_box)
            self._memo = (new_box, new_pixels)  # the old box of the next look of this cue
            for rect in _changed_rects(old_pixels, new_pixels):  # the two pills: all that moved
                left, top, right, bottom = rect
                x, y = new_offset[0], new_offset[1] + self.band_top
                even = ((x + left) & ~1, (y + top) & ~1, min(self.width, (x + right + 1) & ~1),
                        min(self.height, (y + bottom + 1) & ~1))  # fmt: skip
                self._composite(frame, picture, new_box, new_offset, even)
            return
        if old_box is not None:
            frame.copy_rect(base, *self._box_rect(old_box, old_offset))
        if new_box is not None:
            self._composite(frame, picture, new_box, new_offset, self._box_rect(new_box, new_offset))

    def _composite(self, frame: _Buffer, picture: Image.Image, box: Image.Image, offset: tuple[int, int],
                   rect: tuple[int, int, int, int]) -> None:  # fmt: skip
        """The box over the slide inside ``rect`` (frame coordinates, even corners), written into the frame."""
        left, top, right, bottom = rect
        if right <= left or bottom <= top:
            return
        under = picture.crop(rect).convert("RGBA")
        over = Image.new("RGBA", under.size, (0, 0, 0, 0))
        over.paste(box, (offset[0] - left, offset[1] + self.band_top - top))
        under.alpha_composite(over)
        frame.paint_rect(np.asarray(under.convert("RGB")), left, top)

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


def _changed_rects(old: np.ndarray, new: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Where two pictures of one size differ (``_pixels``): a rectangle (left, top, right, bottom) per run of
    changed rows, so a highlight moving to the next line repaints two small rectangles rather than the whole box."""
    changed = old != new
    rows = np.flatnonzero(changed.any(axis=1))
    rects: list[tuple[int, int, int, int]] = []
    for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1) if rows.size else []:
        columns = np.flatnonzero(changed[run[0] : run[-1] + 1].any(axis=0))
        rects.append((int(columns[0]), int(run[0]), int(columns[-1]) + 1, int(run[-1]) + 1))
    return rects


def _pixels(image: Image.Image) -> np.ndarray:
    """An RGBA picture's pixels as one 32-bit number each (height × width)."""
    return np.frombuffer(image.tobytes(), np.uint32).reshape(image.height, image.width)


def _same_cue(a: Caption | None, b: Caption) -> bool:
    """Two looks of one cue (the same lines, laid out the same way): only their highlights differ."""
    return a is not None and bool(a.lines) and a.lines == b.lines and a.text == b.text


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
