"""Text on pictures: the bundled Lato faces (the ``font-lato`` package, never a system font) and wrapping by
measured width."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import ImageFont


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
