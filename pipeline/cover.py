"""Cover art: a square JPEG drawn in code (gradient, quiet texture, title and author in Lato).

Used as the MP3's embedded picture and as the podcast episode image (Apple wants 1400–3000 px, square).
Deterministic for the same inputs, so its hash is stable and it is cached.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COVER_SIZE = 1600
_PALETTE = ((18, 38, 58), (58, 92, 104), (226, 214, 190))  # dusk navy → sea grey, warm paper text


def font_path(weight: str = "Regular") -> Path:
    """A Lato face shipped by the ``font-lato`` package (weights: Regular, Bold, Light, Black, Italic…)."""
    import font_lato

    return Path(font_lato.font_directory) / f"Lato-{weight}.ttf"


@dataclass(frozen=True)
class CoverText:
    title: str
    author: str | None
    tagline: str = "a one-page summary"


def draw_cover(text: CoverText, size: int = COVER_SIZE) -> bytes:
    """Return the cover as JPEG bytes."""
    top, bottom, ink = _PALETTE
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    pixels = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    pixels = np.broadcast_to(pixels, (size, size, 3)).copy()
    grain = np.random.default_rng(7).normal(0.0, 3.0, (size, size, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)

    margin = size // 10
    title_font = _fit(text.title, "Bold", size - 2 * margin, size // 8, size // 22)
    lines = _wrap(text.title, title_font, size - 2 * margin)
    line_height = int(title_font.size * 1.15)
    tagline_font = ImageFont.truetype(str(font_path("Light")), size // 30)
    author_height = size // 15 + size // 22 if text.author else size // 15
    # Start at 30 % down, or higher when a long title would otherwise reach the tagline.
    room = size - margin - tagline_font.size - size // 20
    y = min(int(size * 0.30), room - len(lines) * line_height - author_height)
    for line in lines:
        draw.text((margin, y), line, font=title_font, fill=ink)
        y += line_height
    draw.line([(margin, y + size // 40), (margin + size // 6, y + size // 40)], fill=ink, width=max(2, size // 300))
    y += size // 15
    if text.author:
        author_font = ImageFont.truetype(str(font_path("Regular")), size // 22)
        draw.text((margin, y), text.author, font=author_font, fill=ink)
    draw.text((margin, size - margin - tagline_font.size), text.tagline.upper(), font=tagline_font, fill=ink)

    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, optimize=True, progressive=False)
    return out.getvalue()


def _fit(title: str, weight: str, width: int, largest: int, smallest: int) -> ImageFont.FreeTypeFont:
    """The largest font size at which the title wraps into at most four lines."""
    for font_size in range(largest, smallest - 1, -4):
        font = ImageFont.truetype(str(font_path(weight)), font_size)
        if len(_wrap(title, font, width)) <= 4:
            return font
    return ImageFont.truetype(str(font_path(weight)), smallest)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    for word in words:
        if lines and font.getlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    # A single word wider than the cover is cut into pieces rather than overflow.
    fitted: list[str] = []
    for line in lines:
        if font.getlength(line) <= width:
            fitted.append(line)
        else:
            step = max(1, int(len(line) * width / font.getlength(line)))
            fitted.extend(textwrap.wrap(line, step) or [line])
    return fitted
