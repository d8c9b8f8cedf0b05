"""Captions: cues built from the timeline to professional timed-text rules, written as SRT and WebVTT.

Public API::

    CueRules(max_chars=42, max_lines=2, min_duration=5/6, max_duration=7.0, min_gap=2/24, linger=0.3)
    Cue(start, end, lines, continues=())        # lines: 1 or 2 strings, each at most max_chars wide
    build_cues(timeline, rules=CueRules()) -> list[Cue]
    caption_words(cues) -> list[str]            # the summary's words, recovered from the cues
    to_srt(cues) -> str ; to_vtt(cues) -> str   # the same cues in both formats

(Over 600 lines on purpose: the cue rules, the phrase-break costs and the dynamic programme that trades them
off are one algorithm; split across modules, a reader could no longer check one rule against the others.)

How cues are made
-----------------
The words are segmented into cues by dynamic programming over cues. A cue is any run of words that can
be laid out in ``max_lines`` lines of ``max_chars``; its cost adds the quality of the break after it (a sentence
end is free, clause punctuation ``, ; : —`` is cheap, a break before a conjunction, preposition or relative
pronoun is fair, a break after an article, a determiner or a preposition before its object, or between two
capitalised name words, is nearly forbidden), the quality of its own line break, and large penalties for broken
timing rules (less than ``min_duration`` of screen time before the next cue must start, more than
``max_duration`` of speech) and for a cue that spans two sentences when the sentences are not both wholly
inside it ("a cue never spans two sentences unless both are short": short means they fit in one cue). The
cheapest segmentation wins; timing outranks the sentence rule, which outranks phrasing.

Timing: a cue starts at its first spoken word (exactly, to the millisecond) and ends at its last word's end
plus ``linger`` when there is silence, at least ``min_duration`` after its start, at most ``max_duration``
after it, and never later than the next cue's start minus ``min_gap`` or the narration's end. All times are
whole milliseconds, so what is checked is what is written.

Decisions worth knowing
-----------------------
- Width is counted in characters (code points), with East Asian wide and full-width characters (CJK, most
  emoji) counting two, because they take two columns on screen. Every line therefore also has at most
  ``max_chars`` code points. Combining marks count one each (conservative).
- Right-to-left text is kept in logical order with no added bidi marks; players apply the Unicode bidi
  algorithm.
- A word wider than a line (a URL, a CJK sentence written without spaces) cannot keep both "at most 42
  characters a line" and "the words, split on whitespace, equal the summary's words": no character may be
  added and a line holds at most 42. The line limit wins: such a word is cut into balanced pieces (never inside
  a grapheme cluster where avoidable, preferably after its own punctuation) that continue on the next line or
  cue without a hyphen, and ``Cue.continues`` marks each line that ends inside a word. ``caption_words``
  re-joins them, so the words always round-trip exactly; plain whitespace splitting of the cue text equals the
  summary's words whenever no word is wider than a line.
- Words with nothing spoken (start == end: a lone dash, an emoji, a script the voice cannot read) are shown
  with the spoken words around them. A cue made only of such words has no spoken word to follow; it is placed
  in the silence after the previous cue. When that silence is too short for all such text the unspoken cues
  are shortened below ``min_duration`` (spoken cues keep their sync), and only if even 1 ms each does not fit
  are later cues pushed back. Likewise a narration that ends less than ``min_duration`` after its last cue must
  start keeps the cue short rather than run past the end of the audio.
- A single word spoken for longer than ``max_duration`` gets a cue of exactly ``max_duration``.
- The narration's end is ``timeline.duration`` (or the last word's end, if a broken timeline says less); a
  narration with at least ``min_duration`` of silence after its last word does not need a short last cue.
- Text nobody speaks needs silence to be read in: a timeline that leaves about 0.05 s per character of
  unspoken text (after it) lets every cue keep every rule; one that leaves none gets short unspoken cues.
- Formats: WebVTT escapes ``&``, ``<`` and ``>`` as character references (so ``-->`` cannot occur). SRT has
  no escapes, yet players read ``<i>`` tags, ``{\\an8}`` overrides and ``\\N`` in it; an invisible U+2060
  WORD JOINER after ``<``, ``{`` and ``\\`` (and inside ``-->``) keeps them literal (see ``escape_srt``).
  One thing no SRT escape can fix: libass (mpv, ffmpeg's ``subtitles`` filter) hides any ``{…}`` pair in an
  SRT. ffmpeg's WebVTT decoder escapes braces for libass, so burn captions in from ``captions.vtt``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.errors import InputError
from pipeline.narration.timeline import Timeline


@dataclass(frozen=True)
class CueRules:
    """Timed-text rules (defaults: BBC/Netflix-style 2 x 42 characters, 5/6-7 s on screen, 2 frames apart)."""

    max_chars: int = 42
    max_lines: int = 2
    min_duration: float = 5 / 6  # seconds a cue stays on screen at least (20 frames at 24 fps)
    max_duration: float = 7.0
    min_gap: float = 2 / 24  # two frames at 24 fps between one cue's end and the next cue's start
    linger: float = 0.3  # extra time after the last word when silence follows, for reading

    def __post_init__(self) -> None:
        if self.max_lines not in (1, 2):
            raise ValueError(f"max_lines must be 1 or 2, not {self.max_lines}")
        if self.max_chars < 2:
            raise ValueError(f"max_chars must be at least 2 (a wide character is 2), not {self.max_chars}")
        if not 0 < self.min_duration <= self.max_duration:
            raise ValueError("min_duration must be positive and at most max_duration")
        if self.min_gap < 0 or self.linger < 0:
            raise ValueError("min_gap and linger must not be negative")


DEFAULT_RULES = CueRules()


@dataclass(frozen=True)
class Cue:
    start: float  # seconds, whole milliseconds
    end: float
    lines: tuple[str, ...]
    # One flag per line when any is set: the line ends inside a word that goes on at the start of the next line
    # (or, for the last line, of the next cue). Only words wider than a line are ever cut.
    continues: tuple[bool, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def body(self) -> str:
        """The cue's text on one line, as a transcript shows it (cut words re-joined)."""
        out = ""
        for line, cont in zip(self.lines, self._continues(), strict=True):
            out += line + ("" if cont else " ")
        return out.rstrip(" ")

    def _continues(self) -> tuple[bool, ...]:
        return self.continues or (False,) * len(self.lines)


def caption_words(cues: Iterable[Cue]) -> list[str]:
    """The words the cues show, in order, with words cut across lines or cues joined back together."""
    words: list[str] = []
    carry = False
    for cue in cues:
        for line, cont in zip(cue.lines, cue._continues(), strict=True):
            parts = line.split()
            if carry and parts and words:
                words[-1] += parts.pop(0)
            words.extend(parts)
            carry = cont
    return words


# --- tokens --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str
    start: int  # ms
    end: int  # ms
    sentence: int
    paragraph: int
    chapter: int
    glued: bool  # the next token is the rest of the same written word (no space between them)
    width: int

    @property
    def spoken(self) -> bool:
        return self.end > self.start


def display_width(text: str) -> int:
    """Columns a string takes on screen: 2 for East Asian wide/full-width characters, 1 for everything else."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ms(seconds: float, what: str) -> int:
    if not math.isfinite(seconds):
        raise InputError(f"timeline is corrupt: {what} has time {seconds}; render the narration again")
    return max(0, round(seconds * 1000))


def _tokens(timeline: Timeline, max_chars: int) -> list[_Token]:
    tokens: list[_Token] = []
    last_start = 0
    for n, word in enumerate(timeline.words):
        # Times are made monotonic so a stray out-of-order word cannot make cues overlap.
        start = max(_ms(word.start, f"word {n + 1}"), last_start)
        end = max(_ms(word.end, f"word {n + 1}"), start)
        last_start = start
        parts = word.text.split()  # a word never holds whitespace, but if it does each part shows as a word
        total = sum(len(p) for p in parts) or 1
        done = 0
        for part in parts:
            p_start = start + (end - start) * done // total
            done += len(part)
            p_end = start + (end - start) * done // total
            pieces = _cut_wide_word(part, max_chars)
            p_total = sum(len(p) for p in pieces)
            p_done = 0
            for k, piece in enumerate(pieces):
                s = p_start + (p_end - p_start) * p_done // p_total
                p_done += len(piece)
                e = p_start + (p_end - p_start) * p_done // p_total
                glued = k < len(pieces) - 1
                tokens.append(
                    _Token(piece, s, e, word.sentence, word.paragraph, word.chapter, glued, display_width(piece))
                )
    return tokens


# Characters after which a cut inside a long word reads naturally (its own punctuation).
_CUT_AFTER = set("-‐‑–—/\\_.,;:!?、。，；：！？・…)]}」』）")


def _joins_previous(text: str, k: int) -> bool:
    """True if a cut before text[k] would split a grapheme cluster (approximately, without a Unicode library)."""
    ch = text[k]
    cp = ord(ch)
    prev = ord(text[k - 1])
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or cp == 0x200D
        or prev == 0x200D
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def _cut_wide_word(word: str, max_chars: int) -> list[str]:
    """Cut a word wider than a line into balanced pieces no wider than a line (see module notes)."""
    widths = [display_width(ch) for ch in word]
    left = sum(widths)  # width not yet in a piece
    if left <= max_chars:
        return [word]
    pieces: list[str] = []
    p = 0  # where the next piece starts
    while left > max_chars:
        n = math.ceil(left / max_chars)
        target = left / n
        # Allowed cuts q (piece = word[p:q]) with the piece's width, up to the line width.
        candidates: list[tuple[int, int]] = []
        w = 0
        for q in range(p, len(word)):
            if q > p and not _joins_previous(word, q):
                candidates.append((q, w))
            w += widths[q]
            if w > max_chars:
                break
        if not candidates:
            # One cluster wider than a line (a letter under dozens of combining marks): cut it anyway.
            q, w = p, 0
            while w + widths[q] <= max_chars:
                w += widths[q]
                q += 1
            candidates = [(max(q, p + 1), w)]
        # Prefer a cut after the word's own punctuation, if what is left still fits in the remaining lines.
        punct = [
            (q, w)
            for q, w in candidates
            if word[q - 1] in _CUT_AFTER and abs(w - target) <= 0.4 * target and left - w <= (n - 1) * max_chars
        ]
        q, w = min(punct or candidates, key=lambda c: (abs(c[1] - target), -c[0]))
        pieces.append(word[p:q])
        p, left = q, left - w
    pieces.append(word[p:])
    return pieces


# --- phrase boundaries ---------------------------------------------------------------------------------------


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_DETERMINERS = _word_set(
    "a an the this these those my your his its our their some any every each no another either neither "
    "whose which several many few"
)
_PREPOSITIONS = _word_set(
    "of in on at to for with from by about into onto over under between through during without within among "
    "against across behind beyond near toward towards upon via per like despite except inside outside"
)
# Particles of phrasal verbs ("ran out", "break them up"): they stay with their verb.
_PARTICLES = _word_set("out up down off around along away back")
_CONJUNCTIONS = _word_set(
    "and but or nor so yet because although though while whereas when whenever where wherever which who whom "
    "whose that if unless until since after before as than whether once"
)
_SUBJECTS = _word_set("i he she we they you it")
_AUXILIARIES = _word_set(
    "is was are were be been being am has have had will would can could should may might must do does did not shall"
)
_CLAUSE_END = re.compile(r"(?:[,;:!?—–…)\]}]|\.\.\.)['\"’”»)\]]*$")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
_OPENERS = "“‘«(\"'[{¿¡"

BREAK_SENTENCE = 0.0
BREAK_CLAUSE = 1.0
BREAK_BEFORE_FUNCTION_WORD = 3.0
BREAK_ORDINARY = 8.0
BREAK_INSIDE_WORD = 20.0  # only between pieces of a word wider than a line; unavoidable there
BREAK_FORBIDDEN = 50.0


def _core(text: str) -> str:
    """The word without edge punctuation or a contraction/possessive ending: "That’s" -> "that"."""
    return re.split(r"['’]", _EDGE_PUNCT.sub("", text).lower(), maxsplit=1)[0]


def _possessive(text: str) -> bool:
    return bool(re.search(r"\w['’]s$", _EDGE_PUNCT.sub("", text)))


def _capitalised(text: str) -> bool:
    stripped = text.lstrip(_OPENERS)
    return bool(stripped) and stripped[0].isupper()


def break_cost(left: str, right: str, *, sentence_end: bool = False) -> float:
    """How bad a caption break between two adjacent words is (0 best); see the module notes."""
    if sentence_end:
        return BREAK_SENTENCE
    if not any(ch.isalnum() for ch in right) and not right.startswith(tuple(_OPENERS)):
        return BREAK_FORBIDDEN * 0.9  # a lone dash or symbol stays with the word before it
    if not any(ch.isalnum() for ch in left) and left.endswith(tuple(_OPENERS)):
        return BREAK_FORBIDDEN  # an opening quote or bracket stays with what it opens
    core_left, core_right = _core(left), _core(right)
    if _CLAUSE_END.search(left):
        return BREAK_CLAUSE
    if left.rstrip("'\"’”»").endswith("."):
        if _capitalised(right):
            return BREAK_FORBIDDEN * 0.8  # an abbreviation or initial: "Mr. | Lind", "J. | Smith"
        return BREAK_CLAUSE  # a full stop the sentence splitter could not see (a script without capitals)
    if _capitalised(left) and _capitalised(right) and core_left.isalpha() and core_right[:1].isalpha():
        return BREAK_FORBIDDEN  # first and last name, a title ("Never Let Me Go")
    if core_left in _DETERMINERS and core_left not in _CONJUNCTIONS:
        return BREAK_FORBIDDEN
    if core_left in _PREPOSITIONS:
        return BREAK_FORBIDDEN * 0.8
    if core_left[:1].isdigit() and core_right[:1].isalpha():
        return BREAK_FORBIDDEN * 0.6  # a number and its unit: "16 | years"
    if right.startswith(tuple(_OPENERS)):
        return BREAK_BEFORE_FUNCTION_WORD  # before a quotation or parenthesis
    if core_right in _PARTICLES:
        return BREAK_ORDINARY * 1.5
    if _possessive(left) and core_left not in _SUBJECTS and right[:1].islower():
        return BREAK_ORDINARY * 2.5  # "Tommy’s | place" (or a contraction: "Kathy’s | going", less bad)
    if core_left in ("her", "that", "and", "or", "but"):
        return BREAK_ORDINARY * 2
    if core_right in _CONJUNCTIONS:
        return BREAK_BEFORE_FUNCTION_WORD
    if core_right in _PREPOSITIONS:
        return BREAK_BEFORE_FUNCTION_WORD + 1
    if core_left in _CONJUNCTIONS or core_left in _SUBJECTS:
        return BREAK_ORDINARY * 1.8
    if core_left in _AUXILIARIES:
        return BREAK_ORDINARY * 1.4
    return BREAK_ORDINARY


# --- segmentation --------------------------------------------------------------------------------------------

_CUE_COST = 4.0  # per cue: fuller cues win unless a better break is near
_LINE_BREAK_WEIGHT = 0.6  # a poor line break inside a cue costs a little less than a poor break between cues
_EXTRA_SENTENCE = 6.0  # short whole sentences may share a cue, but prefer one each when timing allows
_PARAGRAPH_CROSS = 30.0
_SPAN_VIOLATION = 1e4  # a cue holding part of a sentence and part of another
_CHAPTER_CROSS = 1e4
_TOO_LONG_SPEECH = 2e4  # the cue's words take more than max_duration to say
_TOO_SHORT = 1e5  # the cue cannot stay on screen for min_duration before the next must start
_UNSPOKEN_ONLY = 500.0


@dataclass
class _Plan:
    """Everything the segmentation needs about the tokens, computed once."""

    tokens: list[_Token]
    rules: CueRules
    total_ms: int

    def __post_init__(self) -> None:
        toks = self.tokens
        n = len(toks)
        self.width_limit = self.rules.max_chars
        self.gap = math.ceil(self.rules.min_gap * 1000 - 1e-9)
        self.min_ms = math.ceil(self.rules.min_duration * 1000 - 1e-9)
        self.max_ms = math.floor(self.rules.max_duration * 1000 + 1e-9)
        # prefix[t]: width of tokens[:t] laid out on one line, each followed by its joint (space or nothing).
        self.prefix = [0] * (n + 1)
        for t, tok in enumerate(toks):
            self.prefix[t + 1] = self.prefix[t] + tok.width + (0 if tok.glued else 1)
        self.sentence_end = [t == n - 1 or toks[t].sentence != toks[t + 1].sentence for t in range(n)]
        self.sentence_start = [t == 0 or toks[t].sentence != toks[t - 1].sentence for t in range(n)]
        self.breaks = [
            BREAK_INSIDE_WORD
            if toks[t].glued
            else break_cost(toks[t].text, toks[t + 1].text, sentence_end=self.sentence_end[t])
            for t in range(n - 1)
        ] + [0.0]
        # first_spoken[t]: index of the first spoken token at or after t (n if none).
        self.first_spoken = [n] * (n + 1)
        for t in range(n - 1, -1, -1):
            self.first_spoken[t] = t if toks[t].spoken else self.first_spoken[t + 1]

    def line_width(self, a: int, b: int) -> int:
        return self.prefix[b] - self.prefix[a] - (0 if self.tokens[b - 1].glued else 1)

    def layout(self, i: int, j: int) -> tuple[float, int | None] | None:
        """Best layout of tokens[i:j]: (cost, index where line 2 starts or None for one line), or None."""
        limit = self.width_limit
        if self.line_width(i, j) <= limit:
            return 0.0, None
        if self.rules.max_lines < 2:
            return None
        best: tuple[float, int | None] | None = None
        for k in range(j - 1, i, -1):
            top = self.line_width(i, k)
            if top > limit:
                continue
            bottom = self.line_width(k, j)
            if bottom > limit:
                break  # moving the break further left only lengthens the bottom line
            # Balanced lines, slightly bottom-heavy (the pyramid shape readers scan fastest).
            shape = 2.0 * abs(top - bottom) / limit + (0.5 if top > bottom else 0.0)
            cost = _LINE_BREAK_WEIGHT * self.breaks[k - 1] + shape
            if best is None or cost < best[0]:
                best = (cost, k)
        return best

    def cue_cost(self, i: int, j: int, layout_cost: float, last_end: int) -> tuple[float, int | None]:
        """Cost of tokens[i:j] as a cue, apart from timing against its neighbours; and its start if it has a
        spoken word (None: an unspoken cue, which starts when the previous cue has had its time)."""
        toks = self.tokens
        cost = _CUE_COST + layout_cost + self.breaks[j - 1]
        first, last = toks[i], toks[j - 1]
        if first.sentence != last.sentence:
            if self.sentence_start[i] and self.sentence_end[j - 1]:
                cost += _EXTRA_SENTENCE
            else:
                cost += _SPAN_VIOLATION
            if first.paragraph != last.paragraph:
                cost += _PARAGRAPH_CROSS
            if first.chapter != last.chapter:
                cost += _CHAPTER_CROSS
        spoken = self.first_spoken[i]
        if spoken >= j:
            return cost + _UNSPOKEN_ONLY, None
        anchor = toks[spoken].start
        speech = last_end - anchor
        if speech > self.max_ms:
            cost += _TOO_LONG_SPEECH + 10.0 * (speech - self.max_ms)
        return cost, anchor

    def too_short(self, start: int, next_start: int) -> float:
        """Penalty when a cue starting at ``start`` cannot stay up ``min_duration`` before ``next_start``."""
        available = next_start - self.gap - start
        return 0.0 if available >= self.min_ms else _TOO_SHORT + 100.0 * (self.min_ms - available)

    def segment(self) -> list[tuple[int, int, int | None]]:
        """Cheapest segmentation into cues: (first token, end token, line-2 start or None).

        Dynamic programming over cues rather than break points, because whether a cue can stay on screen
        long enough depends on when the next one starts — and an unspoken cue starts only once the cue before
        it has had its time. State: the last cue (its first and end token), with its estimated start.
        """
        n = len(self.tokens)
        max_width = self.width_limit * self.rules.max_lines + 1
        step = self.min_ms + self.gap
        # ends[j][i]: best path whose last cue is tokens[i:j] -> (cost, start, previous cue's first token, split)
        ends: list[dict[int, tuple[float, int, int, int | None]]] = [{} for _ in range(n + 1)]
        for i in range(n):
            previous = ends[i] if i else {-1: (0.0, -(10**12), -1, None)}
            if not previous:
                continue
            last_end = 0
            for j in range(i + 1, n + 1):
                if self.line_width(i, j) > max_width:
                    break
                last_end = max(last_end, self.tokens[j - 1].end)
                layout = self.layout(i, j)
                if layout is None:
                    break  # a longer run cannot fit either
                cost, anchor = self.cue_cost(i, j, layout[0], last_end)
                for h, (p_cost, p_start, _, _) in previous.items():
                    start = anchor if anchor is not None else max(self.tokens[i].start, p_start + step)
                    total = p_cost + cost + (self.too_short(p_start, start) if h >= 0 else 0.0)
                    if j == n:
                        total += self.too_short(start, self.total_ms + self.gap)  # the narration's end
                    best = ends[j].get(i)
                    if best is None or (total, start) < (best[0], best[1]):
                        ends[j][i] = (total, start, h, layout[1])
        cues: list[tuple[int, int, int | None]] = []
        j = n
        i = min(ends[n], key=lambda k: ends[n][k][0])
        while j > 0:
            _, _, h, split = ends[j][i]
            cues.append((i, j, split))
            j, i = i, h
        cues.reverse()
        return cues


def _render_line(tokens: Sequence[_Token]) -> str:
    return "".join(t.text + ("" if t.glued or k == len(tokens) - 1 else " ") for k, t in enumerate(tokens))


def _timings(plan: _Plan, segments: list[tuple[int, int, int | None]]) -> list[tuple[int, int]]:
    """Start and end (ms) of each cue; see the module notes for what gives way when time is short."""
    toks = plan.tokens
    gap, min_ms, max_ms = plan.gap, plan.min_ms, plan.max_ms
    linger = round(plan.rules.linger * 1000)
    anchors: list[int | None] = []
    for i, j, _ in segments:
        k = plan.first_spoken[i]
        anchors.append(toks[k].start if k < j else None)
    widths = [plan.line_width(i, j) for i, j, _ in segments]
    # next_fixed[c]: index of the first cue at or after c that has a spoken word.
    count = len(segments)
    next_fixed = [count] * (count + 1)
    for c in range(count - 1, -1, -1):
        next_fixed[c] = c if anchors[c] is not None else next_fixed[c + 1]

    out: list[tuple[int, int]] = []
    prev_end: int | None = None
    for c, (i, j, _) in enumerate(segments):
        anchor = anchors[c]
        wanted_start = anchor if anchor is not None else toks[i].start
        start = wanted_start if prev_end is None else max(wanted_start, prev_end + gap)
        f = next_fixed[c + 1]
        next_anchor = anchors[f] if f < count else None
        window_end = next_anchor - gap if next_anchor is not None else plan.total_ms
        unspoken_after = f - c - 1
        room = window_end - start
        if unspoken_after:
            fair = (room - unspoken_after * gap) // (unspoken_after + 1)
            if room - unspoken_after * (min_ms + gap) >= min_ms:
                cap = room - unspoken_after * (min_ms + gap)
            elif anchor is not None:
                cap = max(min(min_ms, room - unspoken_after * (1 + gap)), fair)
            else:
                cap = fair
        else:
            cap = room
        if anchor is not None:
            wanted = max(t.end for t in toks[i:j]) + linger
        else:
            # Unspoken text has no words to follow: it shares the silence until the next cue with a later time
            # of its own with the unspoken cues of the same moment, in proportion to how much there is to read.
            g = c + 1
            while g < f and toks[segments[g][0]].start <= toks[i].start:
                g += 1
            if g < count:
                until = (next_anchor if g == f and next_anchor is not None else toks[segments[g][0]].start) - gap
            else:
                until = plan.total_ms
            wanted = start + (until - start - (g - c - 1) * gap) * widths[c] // max(1, sum(widths[c:g]))
        end = max(wanted, start + min_ms)
        end = min(end, start + cap, start + max_ms)
        end = max(end, start + 1)  # a cue always has some duration, even when the narration has none left
        out.append((start, end))
        prev_end = end
    return out


def build_cues(timeline: Timeline, rules: CueRules = DEFAULT_RULES) -> list[Cue]:
    """Segment the timeline's words into caption cues that follow ``rules`` (see the module notes)."""
    tokens = _tokens(timeline, rules.max_chars)
    if not tokens:
        return []
    duration = _ms(timeline.duration, "the narration") if math.isfinite(timeline.duration) else 0
    plan = _Plan(tokens, rules, max(duration, max(t.end for t in tokens)))
    segments = plan.segment()
    cues: list[Cue] = []
    for (i, j, split), (start, end) in zip(segments, _timings(plan, segments), strict=True):
        groups = [tokens[i:j]] if split is None else [tokens[i:split], tokens[split:j]]
        lines = tuple(_render_line(g) for g in groups)
        continues = tuple(g[-1].glued for g in groups)
        cues.append(Cue(start / 1000, end / 1000, lines, continues if any(continues) else ()))
    return cues


# --- formats -------------------------------------------------------------------------------------------------


def _stamp_ms(ms: int, sep: str) -> str:
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _span_ms(cue: Cue) -> tuple[int, int]:
    # Cues from build_cues are whole milliseconds already; for any other cue, an end that rounds onto its
    # start is moved 1 ms later so no written cue is empty.
    start = max(0, round(cue.start * 1000))
    return start, max(round(cue.end * 1000), start + 1)


_WORD_JOINER = "\u2060"
_SRT_MARKUP = re.compile(r"([<{\\])|(--)(?=>)")


def escape_srt(text: str) -> str:
    """Keep SRT text from being read as markup.

    SRT has no escape syntax, yet players read ``<i>``/``<font>`` tags, ``{\\an8}``-style ASS overrides and
    ``\\N`` breaks in it (ffmpeg and libass do). An invisible U+2060 WORD JOINER after every ``<``, ``{`` and
    ``\\`` (and inside ``-->``) breaks each of those patterns while the text looks exactly the same; ffmpeg's
    own WebVTT decoder uses the same character for backslashes. (libass still hides a ``{…}`` pair.)
    """
    return _SRT_MARKUP.sub(lambda m: (m.group(1) or m.group(2)) + _WORD_JOINER, text)


def escape_vtt(text: str) -> str:
    """WebVTT cue text: ``&``, ``<`` and ``>`` as character references (which also rules out ``-->``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_srt(cues: Sequence[Cue]) -> str:
    blocks = []
    for n, cue in enumerate(cues, 1):
        start, end = _span_ms(cue)
        text = "\n".join(escape_srt(line) for line in cue.lines)
        blocks.append(f"{n}\n{_stamp_ms(start, ',')} --> {_stamp_ms(end, ',')}\n{text}\n\n")
    return "".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    blocks = ["WEBVTT\n\n"]
    for n, cue in enumerate(cues, 1):
        start, end = _span_ms(cue)
        text = "\n".join(escape_vtt(line) for line in cue.lines)
        blocks.append(f"{n}\n{_stamp_ms(start, '.')} --> {_stamp_ms(end, '.')}\n{text}\n\n")
    return "".join(blocks)
