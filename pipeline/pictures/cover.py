"""Cover art: a square JPEG drawn in code (gradient, quiet texture, title and author in Lato).

Used as the MP3's embedded picture and as the podcast episode image (Apple wants 1400–3000 px, square).
Deterministic for the same inputs, so its hash is stable and it is cached.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.cache import Cache, content_key
from pipeline.pictures.text import face, font_path, wrap

COVER_SIZE = 1600
_FACES = {"Regular": "Lato", "Bold": "LatoBold", "Light": "LatoLight", "Black": "LatoBlack"}
STAGE = "cover/2"  # bump when the drawing changes, so old cache entries are not reused
_PALETTE = ((18, 38, 58), (58, 92, 104), (226, 214, 190))  # dusk navy → sea grey, warm paper text


@dataclass(frozen=True)
class CoverText:
    title: str
    author: str | None
    tagline: str = "a one-page summary"


def cached_cover(text: CoverText, cache: Cache) -> bytes:
    """The cover JPEG for ``text``, drawn once and then read from the cache."""
    key = content_key(STAGE, text)
    path = cache.get("cover", key, ".jpg")
    if path is not None:
        return path.read_bytes()
    data = draw_cover(text)
    cache.put_bytes("cover", key, ".jpg", data)
    return data


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
    lines = _wrap_cut(text.title, title_font, size - 2 * margin)
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
        author_font = face("Lato", size // 22, text.author)
        draw.text((margin, y), text.author, font=author_font, fill=ink)
    draw.text((margin, size - margin - tagline_font.size), text.tagline.upper(), font=tagline_font, fill=ink)

    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, optimize=True, progressive=False)
    return out.getvalue()


def _fit(title: str, weight: str, width: int, largest: int, smallest: int) -> ImageFont.FreeTypeFont:
    """The largest font size at which the title wraps into at most four lines."""
    for font_size in range(largest, smallest - 1, -4):
        font = face(_FACES[weight], font_size, title)
        if len(_wrap_cut(title, font, width)) <= 4:
            return font
    return face(_FACES[weight], smallest, title)


def _wrap_cut(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    return wrap(text, font, width, cut_long_words=True)  # a single word wider than the cover is cut, not overflown
