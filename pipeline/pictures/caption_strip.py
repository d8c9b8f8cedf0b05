"""Caption strips: a cue's lines in a rounded box at the bottom of the frame, with the word being spoken on a pill
(each cue's box drawn once; each highlight is only its pill, painted over the box)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from pipeline.pictures.slides import SIDE_MARGIN, Caption, caption_area
from pipeline.pictures.text import balanced_wrap, face, set_text, text_length

_CAPTION_TEXT = (255, 255, 255)
_CAPTION_BOX = (10, 12, 20, 188)
_CAPTION_PAD_Y = 0.36  # box padding above and below the lines (share of the type size): room for the pill
_HIGHLIGHT = (233, 196, 122)  # the pill behind the word being spoken (the slides' gold accent)…
_HIGHLIGHT_TEXT = (16, 22, 34)  # …and its letters


@dataclass(frozen=True)
class _CaptionStyle:
    largest: int  # font size tried first (px)
    smallest: int
    max_lines: int
    centred: bool  # box centred vertically in the band (portrait) rather than resting near its bottom


def _caption_style(size: tuple[int, int]) -> _CaptionStyle:
    width, height = size
    if height > width:  # portrait (Shorts/Reels): larger type, re-wrapped to the narrow frame, centred
        return _CaptionStyle(largest=round(height * 0.034), smallest=round(height * 0.022), max_lines=4,
                             centred=True)  # fmt: skip
    return _CaptionStyle(largest=round(height * 0.048), smallest=round(height * 0.03), max_lines=3, centred=False)


_WORD_GAP = 0.12  # extra space between caption words (share of the type size): room for the highlight pill


@dataclass(frozen=True)
class _CaptionLayout:
    """Where a cue's words sit in its box (box coordinates), computed once per cue and size."""

    font_size: int
    box: tuple[int, int, int, int]  # left, top, width, height within the strip
    words: tuple[tuple[int, float, float, str], ...]  # (line, x start, x end, text) of each word drawn
    baselines: tuple[float, ...]
    shown: tuple[tuple[int, ...], ...]  # for each token of the caption's own lines, the drawn words showing it


def draw_caption(caption: Caption, size: tuple[int, int]) -> Image.Image:
    """The caption strip (full width × the caption band): centred lines on a rounded translucent box, the word
    being spoken (if any) on a pill in the accent colour.

    The cue's own line breaks are kept when they fit; otherwise (narrow formats) the text is re-wrapped, and the
    type steps down until it fits the band. The box with its lines is drawn once per cue and size; each
    highlight only paints its pill over a copy.
    """
    width, _ = size
    strip = Image.new("RGBA", (width, caption_area(size).height), (0, 0, 0, 0))
    box, offset = caption_box_image(caption, size)
    if box is not None:
        strip.paste(box, offset)
    return strip


@dataclass(frozen=True)
class CaptionLook:
    """A caption as a still video composites it: the cue's box with its lines and no word lit, where the box sits
    in the strip, and the pill of the word being spoken (the word over it) with its place in the box. The box is
    the same for every look of a cue, so each look adds only its small pill picture."""

    box: Image.Image | None  # None: no caption
    offset: tuple[int, int]
    lit: Image.Image | None = None  # None: no word lit
    lit_at: tuple[int, int] = (0, 0)


def caption_look(caption: Caption, size: tuple[int, int]) -> CaptionLook:
    """The caption's box (FreeType's work, once per cue and size) and its lit word's pill (once per look)."""
    if not caption.lines:
        return CaptionLook(None, (0, 0))
    layout = _caption_layout(caption.lines, caption.text, size)
    box, letters = _caption_box(caption.lines, caption.text, size)
    drawn = sorted(
        {word for token in caption.highlight if 0 <= token < len(layout.shown) for word in layout.shown[token]}
    )
    pills = [_pill(letters, layout, index) for index in drawn]
    if not pills:
        return CaptionLook(box, layout.box[:2])
    if len(pills) == 1:
        (lit_at, lit), *_ = pills
        return CaptionLook(box, layout.box[:2], lit, lit_at)
    # A word cut across lines (re-wrapped narrow formats): both pieces' pills in one picture.
    left, top = min(at[0] for at, _ in pills), min(at[1] for at, _ in pills)
    right = max(at[0] + pill.width for at, pill in pills)
    bottom = max(at[1] + pill.height for at, pill in pills)
    lit = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    for (x, y), pill in pills:
        lit.alpha_composite(pill, dest=(x - left, y - top))
    return CaptionLook(box, layout.box[:2], lit, (left, top))


def caption_box_image(caption: Caption, size: tuple[int, int]) -> tuple[Image.Image | None, tuple[int, int]]:
    """The caption's box with its lit word painted in (None for no caption) and where it goes in the strip."""
    look = caption_look(caption, size)
    if look.box is None or look.lit is None:
        return look.box, look.offset
    box = look.box.copy()
    box.alpha_composite(look.lit, dest=look.lit_at)
    return box, look.offset


def _pill(letters: Image.Image, layout: _CaptionLayout, index: int) -> tuple[tuple[int, int], Image.Image]:
    """The pill behind word ``index`` with the word over it in the dark colour, and its place in the box. The
    letters are the ones already drawn in the box (FreeType renders slowly; a cue's highlights share one
    rendering)."""
    line, x0, x1, _ = layout.words[index]
    size = layout.font_size
    baseline = layout.baselines[line]
    pad = size * 0.13
    _, _, box_w, box_h = layout.box
    left, right = max(0, math.floor(x0 - pad)), min(box_w, math.ceil(x1 + pad))
    top, bottom = max(0, math.floor(baseline - size * 0.84)), min(box_h, math.ceil(baseline + size * 0.24))
    pill_size = (right - left, bottom - top)
    pill = Image.new("RGBA", pill_size, (*_HIGHLIGHT, 0))
    pill.putalpha(_rounded_mask(pill_size, round(size * 0.22), 255))
    ink = Image.new("RGBA", pill_size, (*_HIGHLIGHT_TEXT, 0))
    ink.putalpha(letters.crop((left, top, right, bottom)))
    pill.alpha_composite(ink)
    return (left, top), pill


def _spaced_width(words: Sequence[str], font: ImageFont.FreeTypeFont) -> float:
    space = font.getlength(" ") + _WORD_GAP * font.size
    letters = sum(text_length(word, "LatoBold", int(font.size)) for word in words)
    return letters + space * max(0, len(words) - 1)


@functools.lru_cache(maxsize=64)
def _caption_layout(lines: tuple[str, ...], text: str, size: tuple[int, int]) -> _CaptionLayout:
    width, _ = size
    area = caption_area(size)
    style = _caption_style(size)
    font, fitted = _fit_caption(Caption(lines, text), width - 2 * width * SIDE_MARGIN, area.height, style)
    pad_x, pad_y = font.size * 0.55, font.size * _CAPTION_PAD_Y
    line_height = font.size * 1.22
    box_w = math.ceil(max(_spaced_width(line.split(), font) for line in fitted) + 2 * pad_x)
    box_h = math.ceil(line_height * len(fitted) + 2 * pad_y)
    # Portrait: centred in the band. Otherwise resting near the bottom, inside the 5 % title-safe edge.
    top = (area.height - box_h) / 2 if style.centred else area.height - box_h - size[1] * 0.05
    top, left = round(max(0.0, top)), round((width - box_w) / 2)
    words: list[tuple[int, float, float, str]] = []
    baselines: list[float] = []
    baseline = pad_y + (line_height + font.size * 0.72) / 2
    space = font.getlength(" ") + _WORD_GAP * font.size
    for number, line in enumerate(fitted):
        baselines.append(baseline)
        parts = line.split()
        x = box_w / 2 - _spaced_width(parts, font) / 2
        for part in parts:
            end = x + text_length(part, "LatoBold", int(font.size))
            words.append((number, x, end, part))
            x = end + space
        baseline += line_height
    own = [part for line in lines for part in line.split()]
    # Re-wrapped from ``text``: its words are the cue's words with words cut across lines joined again.
    shown = tuple((i,) for i in range(len(own))) if fitted == list(lines) else _tokens_in_text(lines, text)
    return _CaptionLayout(int(font.size), (left, top, box_w, box_h), tuple(words), tuple(baselines), shown)


def _tokens_in_text(lines: tuple[str, ...], text: str) -> tuple[tuple[int, ...], ...]:
    """For each token of ``lines``, the index of the word of ``text`` that contains it (in order)."""
    words = text.split()
    out: list[tuple[int, ...]] = []
    index, used = 0, ""
    for part in (part for line in lines for part in line.split()):
        if index < len(words) and used and not words[index].startswith(used + part):
            index, used = index + 1, ""
        out.append((min(index, len(words) - 1),) if words else ())
        used += part
        if index < len(words) and used == words[index]:
            index, used = index + 1, ""
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _caption_box(lines: tuple[str, ...], text: str, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """The cue's box with all its words in the caption colour, and the mask of its letters (shared by the
    cue's highlights)."""
    layout = _caption_layout(lines, text, size)
    font = face("LatoBold", layout.font_size)
    _, _, box_w, box_h = layout.box
    box = Image.new("RGBA", (box_w, box_h), (*_CAPTION_BOX[:3], 0))
    box.putalpha(_rounded_mask((box_w, box_h), round(font.size * 0.32), _CAPTION_BOX[3]))
    mask = Image.new("L", (box_w, box_h), 0)
    for line, x, _, word in layout.words:
        set_text(mask, (x, layout.baselines[line]), word, font, "LatoBold")
    ink = Image.new("RGBA", (box_w, box_h), (*_CAPTION_TEXT, 0))
    ink.putalpha(mask)
    return Image.alpha_composite(box, ink), mask


def _rounded_mask(size: tuple[int, int], radius: int, opacity: int) -> Image.Image:
    """An anti-aliased rounded rectangle as an alpha mask (corners supersampled once per radius)."""
    width, height = size
    radius = max(1, min(radius, width // 2, height // 2))
    mask = Image.new("L", size, opacity)
    corner = _corner(radius, opacity)
    mask.paste(corner, (0, 0))
    mask.paste(corner.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (width - radius, 0))
    mask.paste(corner.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, height - radius))
    mask.paste(corner.transpose(Image.Transpose.ROTATE_180), (width - radius, height - radius))
    return mask


@functools.lru_cache(maxsize=16)
def _corner(radius: int, opacity: int) -> Image.Image:
    """The top-left quarter of a rounded box: a quarter disc drawn at 4× and scaled down (anti-aliased)."""
    scale = 4
    big = Image.new("L", (radius * scale, radius * scale), 0)
    ImageDraw.Draw(big).ellipse((0, 0, 2 * radius * scale - 1, 2 * radius * scale - 1), fill=opacity)
    return big.resize((radius, radius), Image.Resampling.LANCZOS)


def _fit_caption(caption: Caption, width: float, band_height: int,
                 style: _CaptionStyle) -> tuple[ImageFont.FreeTypeFont, list[str]]:  # fmt: skip
    """The largest type at which the caption fits the band: the cue's own lines if they fit the width, else
    its text re-wrapped into even lines; at the smallest size, the cue's lines whatever happens."""
    text = caption.text or " ".join(caption.lines)
    for size in range(style.largest, style.smallest - 1, -2):
        font = face("LatoBold", size)
        available = width - 2 * font.size * 0.55
        for lines in (list(caption.lines), balanced_wrap(text, font, available * 0.97)):
            height = font.size * 1.22 * len(lines) + 2 * font.size * _CAPTION_PAD_Y
            if (
                len(lines) <= style.max_lines
                and height <= band_height * 0.92
                and all(_spaced_width(line.split(), font) <= available for line in lines)
            ):
                return font, lines
    return face("LatoBold", style.smallest), list(caption.lines)
