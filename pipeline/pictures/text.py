"""Text on pictures: the bundled faces (never a system font), which of them draws a given text, setting
caption text from a glyph cache, and wrapping by measured width.

Lato (``font-lato``) is the house face; it covers Latin only. Noto Sans (``fontpkg-noto-sans``, a variable font
set to the same weight) draws the Greek and Cyrillic letters Lato lacks. Scripts neither covers (CJK, Arabic,
Devanagari…) show Lato's missing-glyph box: no bundled face has them, and a system font would make the output
depend on the machine. Titles and cards take one face for a whole text (``face``); captions take it letter by
letter (``set_text``, ``text_length``).

FreeType renders a glyph in about half a millisecond here, and a video's captions set thousands of letters from
a few dozen glyphs: captions are set glyph by glyph from a cache.
"""

from __future__ import annotations

import functools
import textwrap
import threading
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont


def font_path(weight: str = "Regular") -> Path:
    """A Lato face shipped by the ``font-lato`` package (weights: Regular, Bold, Light, Black, Italic…)."""
    import font_lato

    return Path(font_lato.font_directory) / f"Lato-{weight}.ttf"


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, *, cut_long_words: bool = False) -> list[str]:
    """Greedy word wrap by measured width. A single word wider than ``width`` gets a line of its own, or is cut
    into pieces that fit with ``cut_long_words`` (where overflowing the picture is worse than a cut word)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if not cut_long_words:
        return lines
    fitted: list[str] = []
    for line in lines:
        if font.getlength(line) <= width:
            fitted.append(line)
        else:
            step = max(1, int(len(line) * width / font.getlength(line)))
            fitted.extend(textwrap.wrap(line, step) or [line])
    return fitted


def face(weight: str, size: int, text: str = "") -> ImageFont.FreeTypeFont:
    """A Lato face from the ``font-lato`` package, or Noto Sans (``fontpkg-noto-sans``, same weight) when
    ``text`` has letters Lato lacks (Lato covers Latin only; Noto Sans adds Greek and Cyrillic). Scripts neither
    covers (CJK, Arabic…) keep Lato and show its missing-glyph box. One face per drawing thread: a FreeType face
    must not be used by two threads at once."""
    return _thread_font(threading.get_ident(), family_of(text), weight, max(1, size))


def family_of(text: str) -> str:
    return "noto" if text and not _covered("lato", text) and _covered("noto", text) else "lato"


_WEIGHTS = {"LatoLight": 300, "Lato": 400, "LatoBold": 700, "LatoBlack": 900}


@functools.lru_cache(maxsize=256)
def _thread_font(thread: int, family: str, weight: str, size: int) -> ImageFont.FreeTypeFont:
    if family == "lato":
        import font_lato

        return ImageFont.truetype(font_lato.font_files[weight], size)
    import fontpkg_noto_sans

    font = ImageFont.truetype(str(fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"), size)
    axes = font.get_variation_axes()
    weights = [
        float(_WEIGHTS.get(weight, 400)) if axis["name"] in (b"Weight", "Weight") else float(axis["default"] or 0)
        for axis in axes
    ]
    font.set_variation_by_axes(weights)
    return font


def _covered(family: str, text: str) -> bool:
    return all(ch.isspace() or has_glyph(family, ch) for ch in text)


@functools.lru_cache(maxsize=8192)
def has_glyph(family: str, char: str) -> bool:
    """Whether the family draws ``char`` (its mask differs from the missing-glyph box's)."""
    with _GLYPH_LOCK:
        font = _thread_font(-1, family, "Lato", 24)
        missing = font.getbbox("\U0010fffd"), bytes(font.getmask("\U0010fffd"))
        return (font.getbbox(char), bytes(font.getmask(char))) != missing


@functools.lru_cache(maxsize=4096)
def _glyph(family: str, weight: str, size: int, char: str) -> tuple[Image.Image | None, tuple[int, int]]:
    """One glyph's coverage and its offset from the pen position on the baseline."""
    with _GLYPH_LOCK:  # one face for the glyph cache, shared by the drawing threads
        font = _thread_font(-1, family, weight, size)
        left, top, right, bottom = (int(v) for v in font.getbbox(char, anchor="ls"))
        if right <= left or bottom <= top:
            return None, (0, 0)
        glyph = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(glyph).text((-left, -top), char, font=font, fill=255, anchor="ls")
    return glyph, (left, top)


_GLYPH_LOCK = threading.Lock()


def char_family(char: str) -> str:
    return "noto" if not has_glyph("lato", char) and has_glyph("noto", char) else "lato"


def text_length(text: str, weight: str, size: int) -> float:
    """The advance of ``text`` set as ``_set_text`` sets it (each letter in the family that has it)."""
    total, run, family = 0.0, "", ""
    for char in text + "\0":
        current = char_family(char) if char != "\0" else ""
        if run and current != family:
            total += _thread_font(threading.get_ident(), family, weight, size).getlength(run)
            run = ""
        run, family = run + char, current
    return total


def set_text(mask: Image.Image, origin: tuple[float, float], text: str, font: ImageFont.FreeTypeFont,
              weight: str) -> None:  # fmt: skip
    """Draw ``text`` into ``mask`` from ``origin`` (left, baseline) glyph by glyph from a glyph cache; a letter
    Lato lacks comes from Noto Sans (Greek, Cyrillic), one neither has shows Lato's missing-glyph box.

    FreeType renders a glyph in about half a millisecond here, and a video's captions have thousands of letters
    from a few dozen distinct glyphs; positions come from measured prefixes, so kerning is kept."""
    x, baseline = origin
    for index, char in enumerate(text):
        if char.isspace():
            continue
        glyph, (dx, dy) = _glyph(char_family(char), weight, int(font.size), char)
        if glyph is None:
            continue
        left, top = round(x + text_length(text[:index], weight, int(font.size))) + dx, round(baseline) + dy
        area = (left, top, left + glyph.width, top + glyph.height)
        mask.paste(ImageChops.lighter(mask.crop(area), glyph), area[:2])


def balanced_wrap(text: str, font: ImageFont.FreeTypeFont, width: float, cut_long_words: bool = False) -> list[str]:
    """Wrap into as few lines as greedy wrapping needs, but with lines of even length (no lone last word).
    ``cut_long_words``: a word wider than the line (a long name, a title in a script without spaces) is cut."""
    lines = wrap(text, font, width, cut_long_words=cut_long_words)
    if len(lines) < 2:
        return lines
    narrow, wide = max(font.getlength(word) for word in text.split()), width
    for _ in range(14):  # bisect the narrowest width that still needs no more lines
        middle = (narrow + wide) / 2
        if len(wrap(text, font, middle)) <= len(lines):
            wide = middle
        else:
            narrow = middle
    return wrap(text, font, wide, cut_long_words=cut_long_words)
