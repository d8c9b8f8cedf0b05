"""Drawing the slides' pictures with Pillow: backdrops, cards (title, chapter, end, progress track), caption
strips with the spoken word highlighted, each drawn once and stored in the cache by what it shows."""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pipeline import atomic
from pipeline.cache import Cache, content_key
from pipeline.pictures.caption_strip import caption_box_image, caption_look, draw_caption
from pipeline.pictures.slides import PALETTE_COUNT, SIDE_MARGIN, Backdrop, Caption, Card, Layer, Slide, caption_area
from pipeline.pictures.text import balanced_wrap, face

# Bump when the drawing of any layer changes for the same content, so old cached pictures are not reused.
SLIDE_VERSION = 7

Placed = tuple[Image.Image | None, tuple[int, int]]  # a picture (None: nothing) and where it goes
Store = Callable[[Callable[[], None]], object]  # runs a job now or later (e.g. a thread pool's ``submit``)


KICKER = "a one-page summary"

# Colours: warm paper-white text, a muted secondary, a soft gold accent; captions sit on a near-black box.
_TEXT = (247, 244, 236)
_MUTED = (196, 204, 212)
_ACCENT = (233, 196, 122)


# Backdrop palettes: (dark corner, light corner, glow). Calm, dark enough for white text everywhere.
# The first matches the cover art (dusk navy → sea grey), so the title card and the cover feel like one piece.
_PALETTES: tuple[tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((14, 28, 44), (52, 84, 98), (150, 180, 190)),  # dusk navy → sea grey
    ((13, 24, 38), (24, 70, 84), (90, 160, 170)),  # night → teal
    ((22, 18, 40), (62, 42, 88), (160, 120, 200)),  # indigo → plum
    ((14, 30, 28), (36, 80, 68), (120, 176, 146)),  # pine → sage
    ((34, 22, 20), (88, 58, 42), (206, 150, 100)),  # espresso → amber
    ((16, 24, 44), (46, 66, 112), (130, 156, 226)),  # navy → slate
    ((34, 20, 34), (86, 46, 68), (206, 126, 156)),  # aubergine → rose
)
assert len(_PALETTES) == PALETTE_COUNT


class SlideStore:
    """Draws picture layers on demand, each once, and keeps them in the cache (kind ``slide``): a motion video's
    backdrops and cards as PNG; caption strips (motion), slides, caption boxes and lit words' pills (still videos)
    as run-length TGA.

    The key of a layer is the hash of what is drawn on it (its content, the frame size and ``SLIDE_VERSION``),
    so an unchanged picture is never drawn again and a caption edit draws only the captions it touches.
    """

    def __init__(self, cache: Cache, size: tuple[int, int]) -> None:
        self.cache = cache
        self.size = size

    def key(self, layer: Layer) -> str:
        return content_key("slide", SLIDE_VERSION, type(layer).__name__, list(self.size), asdict(layer))

    def path(self, layer: Layer) -> Path:
        """Where the layer's picture is (or will be, once drawn) in the cache."""
        return self.cache.path("slide", self.key(layer), _suffix(layer))

    def paths(self, layers: Iterable[Layer], progress: Callable[[float], None] | None = None) -> dict[Layer, Path]:
        """The cached PNG of each layer, drawing the missing ones (two at a time: Pillow's heavy C work, PNG
        compression included, releases the GIL)."""
        wanted = list(dict.fromkeys(layers))
        found: dict[Layer, Path] = {}
        missing: list[Layer] = []
        for layer in wanted:
            path = self.cache.get("slide", self.key(layer), _suffix(layer))
            if path is None:
                missing.append(layer)
            else:
                found[layer] = path
        if missing:
            # Full-frame pictures first: they are the slowest, then both threads share the many small strips.
            missing.sort(key=lambda layer: isinstance(layer, Caption))
            with ThreadPoolExecutor(max_workers=2) as pool:
                for done, (layer, path) in enumerate(
                    zip(missing, pool.map(self._draw_and_store, missing), strict=True), 1
                ):
                    found[layer] = path
                    if progress is not None:
                        progress(done / len(missing))
        return {layer: found[layer] for layer in wanted}

    def slide_image(self, slide: Slide, store: Store | None = None) -> Image.Image:
        """The slide's picture (RGB): read from the cache, or drawn and stored there (by ``store``, which runs a
        job now or later: e.g. a thread pool's ``submit``; by default now)."""
        path = self.cache.get("slide", self.key(slide), _suffix(slide))
        if path is not None:
            with Image.open(path) as image:
                return image.convert("RGB")
        image = draw_slide(slide, self.size)

        def keep() -> None:
            with atomic.atomic_path(self.path(slide)) as tmp:
                image.save(tmp, "TGA", compression="tga_rle")

        (store or _now)(keep)
        return image

    def box_key(self, caption: Caption) -> str:
        """The key of a caption's box alone (no word lit: what a still video composites), apart from its full
        strip's."""
        return content_key("slide", SLIDE_VERSION, "CaptionBox", list(self.size), asdict(_unlit(caption)))

    def lit_key(self, caption: Caption) -> str:
        """The key of a caption's lit word alone: its pill, painted over the box."""
        return content_key("slide", SLIDE_VERSION, "CaptionLit", list(self.size), asdict(caption))

    def caption_box(self, caption: Caption, store: Store | None = None) -> Placed:
        """The box of the caption's cue with its lines, no word lit (None: no caption), and its place in the
        caption strip: read from the cache or drawn (and stored by ``store``, as for ``slide_image``)."""

        def draw() -> Placed:
            look = caption_look(_unlit(caption), self.size)
            return look.box, look.offset

        return self._placed(self.box_key(caption), draw, store)

    def caption_lit(self, caption: Caption, store: Store | None = None) -> Placed:
        """The pill of the caption's lit word (None: no word lit) and its place in the box, read or drawn."""
        if not caption.highlight:
            return None, (0, 0)

        def draw() -> Placed:
            look = caption_look(caption, self.size)
            return look.lit, look.lit_at

        return self._placed(self.lit_key(caption), draw, store)

    def _placed(self, key: str, draw: Callable[[], Placed], store: Store | None) -> Placed:
        path = self.cache.get("slide", key, ".tga")
        if path is not None:
            return read_box_tga(path.read_bytes())
        image, place = draw()

        def keep() -> None:
            with atomic.atomic_path(self.cache.path("slide", key, ".tga")) as tmp:
                tmp.write_bytes(box_tga(image, place))

        (store or _now)(keep)
        return image, place

    def _draw_and_store(self, layer: Layer) -> Path:
        path = self.path(layer)
        if isinstance(layer, Caption):
            data = caption_tga(layer, self.size)
            with atomic.atomic_path(path) as tmp:
                tmp.write_bytes(data)
            return path
        image = draw_layer(layer, self.size)
        with atomic.atomic_path(path) as tmp:
            # Level 1: these are read once per encode; fast compression beats small files here.
            image.save(tmp, "PNG", compress_level=1)
        return path


def _now(job: Callable[[], None]) -> None:
    job()


def _unlit(caption: Caption) -> Caption:
    return Caption(caption.lines, caption.text)


def _suffix(layer: Layer) -> str:
    # Caption strips are many (one per spoken word) and mostly transparent: run-length TGA, written fast. A still
    # video's slides too: 15 ms a 1080p slide against PNG's 80 ms (at ~1 MB rather than 0.3). The layers of a
    # motion video (backdrops and cards, read by ffmpeg) stay PNG.
    return ".tga" if isinstance(layer, Caption | Slide) else ".png"


def box_tga(box: Image.Image | None, offset: tuple[int, int]) -> bytes:
    """A caption's box (or a lit word's pill) as a run-length encoded 32-bit TGA whose origin fields say where it
    sits in the caption strip (in the box) — what TGA's origin is for: where an image goes on a screen. None:
    one transparent pixel."""
    encoded = io.BytesIO()
    (box or Image.new("RGBA", (1, 1), (0, 0, 0, 0))).save(encoded, "TGA", compression="tga_rle", orientation=1)
    data = bytearray(encoded.getvalue())
    data[8:12] = struct.pack("<HH", *(offset if box is not None else (0, 0)))
    return bytes(data)


def read_box_tga(data: bytes) -> Placed:
    """The picture and its place, from ``box_tga``'s bytes."""
    x, y = struct.unpack("<HH", data[8:12])
    with Image.open(io.BytesIO(data)) as image:
        box = image.convert("RGBA")
    return (None, (0, 0)) if box.getbbox() is None else (box, (x, y))


def caption_tga(caption: Caption, size: tuple[int, int]) -> bytes:
    """The caption strip as a run-length encoded 32-bit TGA (top-left origin)."""
    return _strip_tga(*caption_box_image(caption, size), size)


def _strip_tga(box: Image.Image | None, offset: tuple[int, int], size: tuple[int, int]) -> bytes:
    """The strip of a caption box placed at ``offset`` as a run-length encoded 32-bit TGA (top-left origin).

    Only the rows the box spans are encoded by Pillow; the transparent rows above and below it are written as
    ready-made runs (TGA runs never cross a row). Several times faster than a PNG of the strip, and ffmpeg
    reads it as fast.
    """
    width, _ = size
    height = caption_area(size).height
    left, top = offset
    if box is None:
        rows = [_clear_run(width)] * height
    else:  # the rows the box spans, full width; the rows above and below it are single transparent runs
        band = Image.new("RGBA", (width, box.height), (0, 0, 0, 0))
        band.paste(box, (left, 0))
        encoded = io.BytesIO()
        band.save(encoded, "TGA", compression="tga_rle", orientation=1)
        rows = [_clear_run(width)] * top + [encoded.getvalue()[18:-26]]  # header and footer off
        rows += [_clear_run(width)] * (height - top - box.height)
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 10, 0, 0, 0, 0, 0, width, height, 32, 0x28)
    return header + b"".join(rows) + b"\0" * 8 + b"TRUEVISION-XFILE.\0"


@functools.lru_cache(maxsize=64)
def _clear_run(count: int) -> bytes:
    """Run-length packets for ``count`` transparent pixels (at most 128 per packet)."""
    out = bytearray()
    while count > 0:
        run = min(128, count)
        out += bytes((0x80 | (run - 1), 0, 0, 0, 0))
        count -= run
    return bytes(out)


def draw_layer(layer: Layer, size: tuple[int, int]) -> Image.Image:
    """Draw one layer: RGB for a backdrop or a slide; RGBA (transparent around the text) for a card or a caption."""
    if isinstance(layer, Backdrop):
        return draw_backdrop(layer, size)
    if isinstance(layer, Slide):
        return draw_slide(layer, size)
    if isinstance(layer, Card):
        return draw_card(layer, size)
    return draw_caption(layer, size)


def draw_backdrop(backdrop: Backdrop, size: tuple[int, int]) -> Image.Image:
    """A calm generated background: a diagonal two-tone gradient, a few large soft glows and a vignette.

    Computed at 1/8 resolution and scaled up: everything in it is smooth. (No grain: the encoder would smooth it
    away, and it makes every picture slower to store and to decode.)
    """
    return _backdrop(backdrop, size).copy()


@functools.lru_cache(maxsize=8)
def _backdrop(backdrop: Backdrop, size: tuple[int, int]) -> Image.Image:
    # Memoised: the chapter card and the body slide of a chapter share their backdrop.
    width, height = size
    dark, light, glow = (np.asarray(c, np.float32) for c in _PALETTES[backdrop.palette % len(_PALETTES)])
    small_w, small_h = max(2, width // 8), max(2, height // 8)
    rng = np.random.default_rng(backdrop.seed)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    u, v = xs / (small_w - 1), ys / (small_h - 1)
    aspect = width / height
    # Diagonal ramp from the dark top-left to the lighter bottom-right, eased so the middle stays calm.
    ramp = np.clip((u * aspect * 0.55 + v * 0.45) / (aspect * 0.55 + 0.45), 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    pixels = dark + (light - dark) * ramp[..., None] * 0.85
    for _ in range(4):
        cx, cy = rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.7)
        radius = rng.uniform(0.18, 0.42)
        strength = rng.uniform(0.10, 0.22)
        d2 = ((u - cx) * aspect) ** 2 + (v - cy) ** 2
        weight = strength * np.exp(-d2 / (2 * radius * radius * max(aspect, 1 / aspect)))
        pixels = pixels + (glow - pixels) * weight[..., None]
    vignette = 1.0 - 0.38 * np.clip(((u - 0.5) ** 2 + (v - 0.5) ** 2) / 0.5, 0, 1)
    pixels = pixels * vignette[..., None]
    small = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
    return small.resize((width, height), Image.Resampling.BILINEAR)  # smooth either way; bilinear is faster


def draw_slide(slide: Slide, size: tuple[int, int]) -> Image.Image:
    """The backdrop with its card text composited on it (RGB)."""
    ink, shadow, blur = _card_ink(slide.card, size)
    painted, offset = ink.render(shadow, blur)
    picture = _backdrop(slide.backdrop, size).convert("RGBA")
    _place_cover(picture, slide.card)
    picture.alpha_composite(painted, dest=offset)
    return picture.convert("RGB")


class _Ink:
    """Text and shapes painted as one alpha mask per colour, then merged into a straight-alpha RGBA layer.

    Drawing anti-aliased text straight onto a transparent RGBA image darkens its edges (the colour is blended
    with transparent black); masks per colour composited with ``alpha_composite`` keep edges clean.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.masks: dict[tuple[int, int, int], Image.Image] = {}

    def draw(self, colour: tuple[int, int, int]) -> ImageDraw.ImageDraw:
        if colour not in self.masks:
            self.masks[colour] = Image.new("L", self.size, 0)
        return ImageDraw.Draw(self.masks[colour])

    def render(self, shadow: float = 0.0, blur: float = 0.0) -> tuple[Image.Image, tuple[int, int]]:
        """The painted part only (with a soft drop shadow): an RGBA image and where it goes in the frame.

        Work happens inside the bounding box of the ink: most of a card is empty.
        """
        combined = Image.new("L", self.size, 0)
        for mask in self.masks.values():
            combined.paste(255, (0, 0), mask)
        box = combined.getbbox()
        if box is None:
            return Image.new("RGBA", (1, 1), (0, 0, 0, 0)), (0, 0)
        pad = int(blur * 3) + 2 if shadow > 0 else 0
        box = (max(0, box[0] - pad), max(0, box[1] - pad),
               min(self.size[0], box[2] + pad), min(self.size[1], box[3] + pad))  # fmt: skip
        crop_size = (box[2] - box[0], box[3] - box[1])
        layer = Image.new("RGBA", crop_size, (0, 0, 0, 0))
        if shadow > 0:
            soft = combined.crop(box).filter(ImageFilter.GaussianBlur(blur))
            layer.putalpha(soft.point(lambda a: int(a * shadow)))
        for colour, mask in self.masks.items():
            solid = Image.new("RGBA", crop_size, (*colour, 0))
            solid.putalpha(mask.crop(box))
            layer.alpha_composite(solid)
        return layer, box[:2]

    def image(self, shadow: float = 0.0, blur: float = 0.0) -> Image.Image:
        """The full-frame transparent layer."""
        painted, offset = self.render(shadow, blur)
        layer = Image.new("RGBA", self.size, (0, 0, 0, 0))
        layer.paste(painted, offset)
        return layer


def _fit_lines(
    text: str, weight: str, width: float, largest: int, smallest: int, max_lines: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest size (stepping down) at which ``text`` wraps into ``max_lines`` lines of ``width``."""
    size = largest
    while True:
        font = face(weight, size, text)
        lines = balanced_wrap(text, font, width, cut_long_words=True)
        if (len(lines) <= max_lines and all(font.getlength(line) <= width for line in lines)) or size <= smallest:
            return font, lines
        size = max(smallest, size - max(2, size // 16))


def _fit_one_line(text: str, weight: str, size: int, width: float, tracking: float = 0.0,
                  suffix: str = "") -> tuple[ImageFont.FreeTypeFont, str]:  # fmt: skip
    """``text + suffix`` on one line of ``width``: the type steps down to 70 %, then ``text`` (never the suffix)
    is cut with an ellipsis. ``tracking`` is letter-spacing as a share of the size (small caps lines)."""

    def measure(font: ImageFont.FreeTypeFont, line: str) -> float:
        return font.getlength(line) + tracking * font.size * max(0, len(line) - 1)

    smallest = max(1, round(size * 0.7))
    for step in range(size, smallest - 1, -1):
        font = face(weight, step, text + suffix)
        if measure(font, text + suffix) <= width:
            return font, text + suffix
    font = face(weight, smallest, text + suffix)
    while len(text) > 1 and measure(font, text.rstrip() + "…" + suffix) > width:
        text = text[:-1]
    return font, text.rstrip() + "…" + suffix


def _tracked(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: ImageFont.FreeTypeFont,
             tracking: float, anchor: str = "l") -> float:  # fmt: skip
    """Letter-spaced small caps line (Pillow has no tracking). ``anchor`` 'l', 'm' or 'r'; returns its width."""
    advances = [font.getlength(ch) + tracking for ch in text]
    total = sum(advances) - tracking if advances else 0.0
    x = xy[0] - {"l": 0.0, "m": total / 2, "r": total}[anchor]
    for ch, advance in zip(text, advances, strict=True):
        draw.text((x, xy[1]), ch, font=font, fill=255, anchor="ls")
        x += advance
    return total


def draw_card(card: Card, size: tuple[int, int]) -> Image.Image:
    """The text of a title card, chapter card or body slide on a transparent layer."""
    ink, shadow, blur = _card_ink(card, size)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    _place_cover(layer, card)
    painted, offset = ink.render(shadow, blur)
    layer.alpha_composite(painted, dest=offset)
    return layer


def _card_ink(card: Card, size: tuple[int, int]) -> tuple[_Ink, float, float]:
    """Paint the card's text; return the painter and its shadow strength and blur radius."""
    width, height = size
    unit = min(width, height) / 1080  # type scales with the short side; all formats are 1080 on it
    ink = _Ink(size)
    portrait = height > width
    _draw_progress_track(ink, card, size, unit)
    if card.kind == "body":
        _draw_body_header(ink, card, size, unit, portrait)
        return ink, 0.45, 6 * unit
    if card.kind in COVER_CARDS:
        _draw_cover_card_text(ink, card, size, unit)
        return ink, 0.5, 10 * unit

    # Title and chapter cards: a centred stack above the caption band — kicker, headline, rule, byline.
    max_width = width * (0.84 if portrait or width == height else 0.76)
    if card.kind == "title":
        kicker = KICKER.upper()
        headline_font, headline = _fit_lines(card.title, "LatoBlack", max_width, round(124 * unit),
                                             round(64 * unit), 3)  # fmt: skip
        byline_font, byline = _fit_one_line(card.author or "", "LatoLight", round(54 * unit), max_width)
    else:
        kicker = (f"Chapter {card.chapter_number} of {card.chapter_count}" if card.chapter_count else "").upper()
        headline_font, headline = _fit_lines(card.chapter_title or "", "LatoBold", max_width, round(96 * unit),
                                             round(56 * unit), 3)  # fmt: skip
        byline_font, byline = _fit_one_line(card.title + (f"  ·  {card.author}" if card.author else ""), "Lato",
                                            round(34 * unit), max_width)  # fmt: skip
    kicker_font = face("LatoBold", round(28 * unit))
    line_height = headline_font.size * 1.12
    gap = 34 * unit
    rule_height = max(2, round(4 * unit))
    blocks = [
        kicker_font.size if kicker else 0,
        gap if kicker else 0,
        line_height * len(headline),
        gap,
        rule_height,
        gap * 1.2,
        byline_font.size if byline else 0,
    ]
    stack = sum(blocks)
    centre_y = height * (0.42 if portrait else 0.43)
    y = centre_y - stack / 2
    cx = width / 2
    if kicker:
        _tracked(ink.draw(_ACCENT), (cx, y + kicker_font.size * 0.8), kicker, kicker_font, 0.22 * kicker_font.size,
                 "m")  # fmt: skip
        y += kicker_font.size + gap
    draw = ink.draw(_TEXT)
    for line in headline:
        draw.text((cx, y + headline_font.size * 0.85), line, font=headline_font, fill=255, anchor="ms")
        y += line_height
    y += gap
    rule_width = 110 * unit
    ink.draw(_ACCENT).rectangle((cx - rule_width / 2, y, cx + rule_width / 2, y + rule_height - 1), fill=255)
    y += rule_height + gap * 1.2
    if byline:
        colour = _TEXT if card.kind == "title" else _MUTED
        ink.draw(colour).text((cx, y + byline_font.size * 0.8), byline, font=byline_font, fill=255, anchor="ms")
    return ink, 0.5, 10 * unit


COVER_CARDS = ("title", "end")
END_KICKER = "the end"


@dataclass(frozen=True)
class _CoverLayout:
    """Title and end cards, laid out for the shape: cover beside the text (landscape) or above it."""

    cover: tuple[int, int, int]  # left, top, side
    text: tuple[float, float, float]  # x (left edge, or centre when centred), centre y, column width
    centred: bool
    headline: tuple[int, int]  # largest and smallest type of the title
    byline: int


@functools.lru_cache(maxsize=16)
def _cover_layout(size: tuple[int, int], card: Card) -> _CoverLayout:
    width, height = size
    unit = min(width, height) / 1080
    if width > height * 1.2:  # landscape: the cover on the left, the text in a column beside it
        side, gap, column = round(height * 0.5), width * 0.05, width * 0.40
        type_sizes = (round(112 * unit), round(56 * unit)), round(50 * unit)
        # Cover and text are centred as a pair on the text's real width (a short title leaves the column half
        # empty, and centring the column would push the pair to the left).
        used = _cover_text_width(card, column, *type_sizes, unit)
        left = round((width - side - gap - used) / 2)
        top = round(height * 0.42 - side / 2)
        return _CoverLayout((left, top, side), (left + side + gap, height * 0.42, column), False, *type_sizes)
    if height > width * 1.2:  # portrait: a large cover high up, the text centred under it
        return _cover_above(size, round(width * 0.58), round(height * 0.12), height * 0.035, 0.97, width * 0.84,
                            (round(104 * unit), round(56 * unit)), round(50 * unit))  # fmt: skip
    # square: a smaller cover, the text under it
    return _cover_above(size, round(height * 0.36), round(height * 0.07), height * 0.03, 0.98, width * 0.86,
                        (round(84 * unit), round(46 * unit)), round(40 * unit))  # fmt: skip


def _cover_above(
    size: tuple[int, int], side: int, top: int, gap: float, reach: float, column: float, headline: tuple[int, int],
    byline: int,
) -> _CoverLayout:  # fmt: skip
    """A cover of ``side`` centred across at ``top``, the text centred across and centred down between ``gap``
    under the cover and ``reach`` of the way to the caption band."""
    text_top = top + side + gap
    band = caption_area(size).y
    return _CoverLayout(((size[0] - side) // 2, top, side), (size[0] / 2, (text_top + band * reach) / 2, column),
                        True, headline, byline)  # fmt: skip


def _cover_text_width(card: Card, column: float, headline: tuple[int, int], byline: int, unit: float) -> float:
    """How wide the cover card's text will be: its widest line (title, author or kicker)."""
    headline_font, lines = _fit_lines(card.title, "LatoBlack", column, *headline, 3)
    byline_font, author = _fit_one_line(card.author or "", "LatoLight", byline, column)
    kicker_font = face("LatoBold", round(26 * unit))
    kicker = (KICKER if card.kind == "title" else END_KICKER).upper()
    widths = [headline_font.getlength(line) for line in lines] + [byline_font.getlength(author) if author else 0.0]
    widths.append(kicker_font.getlength(kicker) + 0.22 * kicker_font.size * max(0, len(kicker) - 1))
    return min(column, max(widths))


def _place_cover(picture: Image.Image, card: Card) -> None:
    """Title and end cards: the cover art, with a soft shadow, where the layout puts it."""
    if card.kind not in COVER_CARDS:
        return
    left, top, side = _cover_layout(picture.size, card).cover
    cover = _cover_image(card.title, card.author, side)
    spread = max(4, side // 22)
    shadow = Image.new("L", (side + 4 * spread, side + 4 * spread), 0)
    shadow.paste(150, (2 * spread, 2 * spread + spread // 2, 2 * spread + side, 2 * spread + side + spread // 2))
    shadow = shadow.filter(ImageFilter.GaussianBlur(spread))
    dark = Image.new("RGBA", shadow.size, (0, 0, 0, 0))
    dark.putalpha(shadow)
    picture.alpha_composite(dark, dest=(left - 2 * spread, top - 2 * spread))
    picture.paste(cover, (left, top))


@functools.lru_cache(maxsize=8)
def _cover_image(title: str, author: str | None, side: int) -> Image.Image:
    import io

    from .cover import CoverText, draw_cover

    art = Image.open(io.BytesIO(draw_cover(CoverText(title, author), size=max(side, 400))))
    return art.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)


def _draw_cover_card_text(ink: _Ink, card: Card, size: tuple[int, int], unit: float) -> None:
    """The title card (kicker, title, rule, author) or the end card (the same, "the end" as kicker)."""
    layout = _cover_layout(size, card)
    x, centre_y, column = layout.text
    kicker = (KICKER if card.kind == "title" else END_KICKER).upper()
    largest, smallest = layout.headline
    headline_font, headline = _fit_lines(card.title, "LatoBlack", column, largest, smallest, 3)
    byline_font, byline = _fit_one_line(card.author or "", "LatoLight", layout.byline, column)
    kicker_font = face("LatoBold", round(26 * unit))
    line_height = headline_font.size * 1.1
    gap = 30 * unit
    rule_height = max(2, round(4 * unit))
    stack = kicker_font.size + gap + line_height * len(headline) + gap + rule_height + gap * 1.2
    stack += byline_font.size if byline else 0
    y = centre_y - stack / 2
    anchor, text_anchor = ("m", "ms") if layout.centred else ("l", "ls")
    _tracked(ink.draw(_ACCENT), (x, y + kicker_font.size * 0.8), kicker, kicker_font, 0.22 * kicker_font.size,
             anchor)  # fmt: skip
    y += kicker_font.size + gap
    draw = ink.draw(_TEXT)
    for line in headline:
        draw.text((x, y + headline_font.size * 0.85), line, font=headline_font, fill=255, anchor=text_anchor)
        y += line_height
    y += gap
    rule_width = 110 * unit
    rule_left = x - rule_width / 2 if layout.centred else x
    ink.draw(_ACCENT).rectangle((rule_left, y, rule_left + rule_width, y + rule_height - 1), fill=255)
    y += rule_height + gap * 1.2
    if byline:
        ink.draw(_TEXT).text((x, y + byline_font.size * 0.8), byline, font=byline_font, fill=255, anchor=text_anchor)


PROGRESS_TRACK_ALPHA = 70  # the unfilled progress bar: the text colour at ~27 %


def progress_bar_height(size: tuple[int, int]) -> int:
    """The slim progress bar along the bottom edge (the video stage fills it as time passes)."""
    return max(4, round(min(size) / 1080 * 6))


def _draw_progress_track(ink: _Ink, card: Card, size: tuple[int, int], unit: float) -> None:
    """Chapter and body slides: the progress bar's track along the bottom edge, a tick at each chapter start."""
    if not card.ticks:
        return
    width, height = size
    bar = progress_bar_height(size)
    ink.draw(_TEXT).rectangle((0, height - bar, width - 1, height - 1), fill=PROGRESS_TRACK_ALPHA)
    tick_w, tick_h = max(2, round(3 * unit)), round(bar * 2.6)
    for share in card.ticks:
        x = round(share * width)
        ink.draw(_TEXT).rectangle((x - tick_w // 2, height - tick_h, x - tick_w // 2 + tick_w - 1, height - 1),
                                  fill=220)  # fmt: skip


def _draw_body_header(ink: _Ink, card: Card, size: tuple[int, int], unit: float, portrait: bool) -> None:
    """Body slides: a quiet header (book title, chapter title, accent rule); the middle stays calm."""
    width, height = size
    margin_x = width * (0.08 if portrait else SIDE_MARGIN)
    top = height * (0.08 if portrait else 0.085)
    chapter_size = round((72 if portrait else 56) * unit)
    anchor, x = ("m", width / 2) if portrait else ("l", margin_x)
    text_anchor = "ms" if portrait else "ls"
    counter = f"   ·   {card.chapter_number} / {card.chapter_count}" if card.chapter_count else ""
    kicker_font, kicker = _fit_one_line(card.title.upper(), "LatoBold", round((28 if portrait else 24) * unit),
                                        width - 2 * margin_x, tracking=0.2, suffix=counter)  # fmt: skip
    _tracked(ink.draw(_MUTED), (x, top + kicker_font.size * 0.8), kicker, kicker_font, 0.2 * kicker_font.size,
             anchor)  # fmt: skip
    y = top + kicker_font.size + 26 * unit
    chapter = card.chapter_title if card.chapter_title and card.chapter_title != card.title else None
    if chapter:
        font, lines = _fit_lines(chapter, "LatoBold", width - 2 * margin_x if portrait else width * 0.62,
                                 chapter_size, round(chapter_size * 0.7), 2)  # fmt: skip
        draw = ink.draw(_TEXT)
        for line in lines:
            draw.text((x, y + font.size * 0.85), line, font=font, fill=255, anchor=text_anchor)
            y += font.size * 1.14
        y += 22 * unit
    rule_width, rule_height = 72 * unit, max(2, round(3 * unit))
    left = x - rule_width / 2 if portrait else x
    ink.draw(_ACCENT).rectangle((left, y, left + rule_width, y + rule_height - 1), fill=255)
