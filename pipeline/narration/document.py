"""The summary as a document: title, optional author line, chapters ▸ paragraphs ▸ sentences ▸ words.

Input shape (Markdown subset)::

    # Title
    by Author (2005)            ← optional; plain or in *…*; a year may follow
    ## Chapter heading          ← optional; without any, all paragraphs form one chapter
    Paragraph text, blank-line separated.

Words are the whitespace-separated tokens of the text as written (punctuation attached). They are what the
captions show; ``speech`` derives what the voice says from them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.narration.abbreviations import ABBREVIATIONS


@dataclass(frozen=True)
class Sentence:
    text: str
    index: int  # position in the whole document, 0-based

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text.split())


@dataclass(frozen=True)
class Paragraph:
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Chapter:
    title: str
    paragraphs: tuple[Paragraph, ...]

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for p in self.paragraphs for s in p.sentences)


@dataclass(frozen=True)
class Document:
    title: str
    author: str | None
    year: int | None
    chapters: tuple[Chapter, ...]
    source_sha256: str = field(default="", compare=False)

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for c in self.chapters for s in c.sentences)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(w for s in self.sentences for w in s.words)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def book(self) -> str:
        """The book's identity (see ``book_identity``): a render folder holds one book."""
        return book_identity(self.title, self.author)

    @property
    def paragraphs_text(self) -> list[str]:
        return [" ".join(s.text for s in p.sentences) for c in self.chapters for p in c.paragraphs]


# --- loading -------------------------------------------------------------------------------------------------

MAX_SUMMARY_BYTES = 8 * 1024 * 1024


def load_summary(path: Path) -> Document:
    """Read and parse a summary file, turning every unusable input into an ``InputError``."""
    import hashlib

    path = Path(path)
    if not path.exists():
        raise InputError(f"summary not found: {path}")
    if path.is_dir():
        raise InputError(f"summary is a directory, not a file: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read summary {path}: {exc.strerror}") from exc
    if len(data) > MAX_SUMMARY_BYTES:
        raise InputError(f"summary is too large ({len(data)} bytes; limit {MAX_SUMMARY_BYTES}): {path}")
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise InputError(f"summary is a binary file (NUL byte at offset {offset}): {path}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"summary is not UTF-8 text (invalid byte at offset {exc.start}): {path}") from exc
    if not text.strip():
        raise InputError(f"summary is empty: {path}")
    control = _CONTROL_CHARACTER.search(text)
    if control:
        at = control.start()
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        raise InputError(
            f"summary contains a control character (U+{ord(control.group()):04X}) at line {line}, column {column}: "
            f"{path}"
        )
    try:
        document = parse_summary(text, fallback_title=path.stem.replace("-", " ").replace("_", " ").title())
    except InputError as exc:
        raise InputError(f"{exc}: {path}") from exc
    return Document(
        document.title,
        document.author,
        document.year,
        document.chapters,
        source_sha256=hashlib.sha256(data).hexdigest(),
    )


# --- parsing -------------------------------------------------------------------------------------------------

_AUTHOR = re.compile(r"^\s*[*_]{0,2}\s*by\s+(?P<rest>.+?)\s*[*_]{0,2}\s*$", re.IGNORECASE)
_YEAR = re.compile(r"[\s,(\[–—-]*\(?\b(?P<year>1[0-9]{3}|20[0-9]{2})\b\)?\s*$")
_EMPHASIS = re.compile(r"(\*{1,3}|(?<!\w)_{1,3}|_{1,3}(?!\w)|`)")
# In a file, C0/C1 control characters (other than tab, newline, carriage return and form feed) mean something
# went wrong upstream (terminal escapes, a corrupted paste): refuse them. Invisible format characters (zero-width,
# bidi marks, BOM) are common in pasted text and are dropped by the parser, as are controls in a string given
# to ``parse_summary`` directly.
_CONTROL_CHARACTER = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def parse_summary(text: str, fallback_title: str = "Untitled") -> Document:
    """Parse summary Markdown into a ``Document``. Raises ``InputError`` when nothing is speakable."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_CONTROL.sub("", line.replace("\t", " ")) for line in text.split("\n")]

    title: str | None = None
    author: str | None = None
    year: int | None = None
    chapters: list[tuple[str | None, list[str]]] = [(None, [])]
    block: list[str] = []
    expecting_author = False

    def flush() -> None:
        if block:
            chapters[-1][1].append(" ".join(block))
            block.clear()

    for raw in lines:
        line = raw.strip()
        if not line:
            flush()
            continue
        heading = re.match(r"^(#{1,6})\s*(.*?)\s*#*\s*$", line)
        if heading and heading.group(1) == "#" and title is None:
            flush()
            title = _strip_markup(heading.group(2)) or None
            expecting_author = True
            continue
        if heading:
            flush()
            chapters.append((_strip_markup(heading.group(2)) or None, []))
            expecting_author = False
            continue
        if expecting_author and not block and (match := _AUTHOR.match(line)):
            author, year = _split_author(match.group("rest"))
            expecting_author = False
            continue
        expecting_author = False
        block.append(_strip_markup(line))
    flush()

    title = title or fallback_title
    built: list[Chapter] = []
    counter = 0
    for heading_text, paragraphs_text in chapters:
        paragraphs: list[Paragraph] = []
        for paragraph_text in paragraphs_text:
            sentences = []
            for sentence_text in split_sentences(paragraph_text):
                sentences.append(Sentence(sentence_text, counter))
                counter += 1
            if sentences:
                paragraphs.append(Paragraph(tuple(sentences)))
        if paragraphs:
            built.append(Chapter(heading_text or (title if not built else f"Part {len(built) + 1}"), tuple(paragraphs)))
    if not built or not any(_is_speakable(w) for c in built for s in c.sentences for w in s.words):
        raise InputError("summary has no speakable text (no words in its paragraphs)")
    return Document(title, author, year, tuple(built))


def _split_author(rest: str) -> tuple[str, int | None]:
    rest = _strip_markup(rest).strip()
    match = _YEAR.search(rest)
    if match and match.start() > 0:
        return rest[: match.start()].strip(" ,;–—-("), int(match.group("year"))
    return rest, None


def _strip_markup(text: str) -> str:
    return re.sub(r"\s+", " ", _EMPHASIS.sub("", text)).strip()


def _is_speakable(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*$")


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences at terminal punctuation followed by a capitalised word.

    Abbreviations (Mr., Dr., e.g.) and initials (J., U.S. before a capitalised word that is a name) do not end a
    sentence. A paragraph without terminal punctuation is one sentence, however long.
    """
    words = paragraph.split()
    sentences: list[list[str]] = [[]]
    for i, word in enumerate(words):
        sentences[-1].append(word)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is None or not _SENTENCE_END.search(word):
            continue
        if not _starts_sentence(nxt):
            continue
        core = word.rstrip("\"'”’»)]").rstrip(".!?…")
        if word.rstrip("\"'”’»)]").endswith(".") and not word.endswith(("..", "…")):
            bare = core.lower().lstrip("(\"'“‘")
            if bare in ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", bare):
                continue  # Mr. Smith, J. Smith, U.S. Army
        sentences.append([])
    return [" ".join(s) for s in sentences if s]


def _starts_sentence(word: str) -> bool:
    stripped = word.lstrip("\"'“‘«([¿¡—–-")
    return bool(stripped) and (stripped[0].isupper() or stripped[0].isdigit() or not stripped[0].isalpha())


# Names a render folder may not have: output/ also holds the site, the curated videos and the cache, and some
# names cannot be files on Windows.
RESERVED_SLUGS = frozenset(
    {"site", "videos", "cache", "tmp", "output", "episodes"}
    | {"con", "prn", "aux", "nul"}
    | {f"{device}{n}" for device in ("com", "lpt") for n in range(10)}
)
MAX_SLUG = 80
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str) -> str:
    """The one slug function: a readable folder and URL name for a title.

    Transliterated to ASCII (``Война и мир`` → ``voyna-i-mir``, ``百年孤独`` → ``bai-nian-gu-du``, ``📚`` →
    ``books``), lower case, hyphens between words, at most 80 characters. A title with nothing left to spell
    (punctuation only) gets ``summary-`` and a hash of the title, and a reserved name (``site``, ``videos``…)
    gets ``-book``: different titles never share a slug by accident and no slug lands on another folder's name.
    """
    from anyascii import anyascii

    spelled = []
    for char in unicodedata.normalize("NFC", text):
        if char.isascii():
            spelled.append(char)
            continue
        # Each Han character or Hangul syllable is a word of its own (百年 → bai-nian); emoji come as :name:.
        ascii_text = anyascii(char)
        spelled.append(f" {ascii_text} " if unicodedata.name(char, "").startswith(("CJK", "HANGUL")) else ascii_text)
    slug = re.sub(r"[^a-z0-9]+", "-", "".join(spelled).lower()).strip("-")
    if len(slug) > MAX_SLUG:
        cut = slug[:MAX_SLUG]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    if not slug:
        digest = hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()
        return f"summary-{digest[:8]}"
    return f"{slug}-book" if slug in RESERVED_SLUGS else slug


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a render (``--slug``), or ``None`` if it can."""
    if not _SLUG.match(slug):
        return "must be lower-case letters and digits with single hyphens between words (e.g. war-and-peace)"
    if len(slug) > MAX_SLUG:
        return f"is longer than {MAX_SLUG} characters"
    if slug in RESERVED_SLUGS:
        return "is reserved (the output folder also holds the site, videos and cache folders)"
    return None


def book_identity(title: str, author: str | None) -> str:
    """What tells two books apart: title and author, ignoring case, accents' composition, spacing and punctuation."""

    def fold(value: str | None) -> str:
        return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", value or "").casefold()))

    return f"{fold(title)}|{fold(author)}"
