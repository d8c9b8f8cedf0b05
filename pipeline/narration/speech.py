"""Speech text: what the voice should say for each written word (numbers, abbreviations, symbols, lexicon).

The captions show the summary's words exactly as written; the voice needs something else for many of them:
``$5`` is "five dollars", ``1990s`` is "nineteen nineties", ``Mr.`` is "Mister" (and its full stop is not the
end of a sentence), ``tape––which`` is "tape, which". This module derives the spoken form of each written word,
one for one, so the timeline can pair every caption word with the audio that says it::

    Lexicon.load(path) -> Lexicon             # pipeline.narration.lexicon; ConfigError with line/column
    speech_words(words: Sequence[str], lexicon: Lexicon) -> list[str]

``speech_words`` returns exactly one spoken form per written word ('' where nothing should be spoken: a lone
dash, an emoji, a word in a script the voice cannot read). A spoken form may hold several words ("1,000" ->
"one thousand") and may end in one prosody mark (``, ; : . ? !``) because Piper/espeak pause on commas and
full stops: dashes and brackets become commas, an ellipsis a comma (a full stop at the end of the sentence).
Spoken forms hold only Latin letters (with diacritics), apostrophes and hyphens inside words, single spaces
and those marks — never digits, symbols, quotes or control characters, and never a leading mark.

Decisions worth knowing:

- Cyrillic and Greek letters are romanised (Ольга -> Olga, Σοφία -> Sofia), so names in those alphabets are
  said roughly as an English reader would say them. Letters of other scripts (CJK, Hebrew, Arabic, …) are not
  spoken: the en_US espeak voice reads them as letter names ("Chinese letter", "Hebrew shin …"), which is worse
  than a short silence; the captions still show them. Emoji and other pictographic symbols are dropped too.
- A four-digit number from 1000 to 2099 reads as a year ("in 1999" -> "nineteen ninety nine") unless the words
  around it say it is a count ("1999 people", "about 1500"); for 2000–2009 both readings agree.
- Only a small table of abbreviations is expanded, some by context ("St." is Saint before a name and Street
  otherwise; "No." is "number" only before a number).
- Number words, characters and the abbreviation table live in ``numbers``, ``characters`` and
  ``abbreviations`` beside this module; this one reads words in context (about 600 lines: one pass, one set
  of rules about neighbours).
- Everything is linear in the length of the input: precompiled regular expressions, a fast path for plain
  words, and no pattern that can backtrack over a long run of one character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.narration.abbreviations import ABBREVIATIONS, BEFORE_NUMBER, DOTTED, MONTHS, UNDOTTED
from pipeline.narration.characters import spoken_characters
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.numbers import (
    ONES,
    cardinal,
    decimal,
    digit_by_digit,
    integer,
    ordinal,
    ordinal_of,
    plural,
    word_list,
    year,
)

# --- context ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    prev: str  # previous written word, bare and lower-cased ('' at the start of the sentence)
    next: str  # next written word, bare, case kept ('' at the end)
    final: bool  # this is the last word of the sentence


_NO_CONTEXT = _Context("", "", False)

# Words before a four-digit number that make it a year, or a count.
_YEAR_CUES = frozenset(
    word_list(
        "in since by from until till during before after circa c ca early late mid year summer spring autumn fall "
        "winter january february march april may june july august september october november december jan feb "
        "mar apr jun jul aug sep sept oct nov dec born died published founded"
    )
)
_COUNT_CUES = frozenset(
    word_list(
        "about over under than nearly almost approximately roughly some exactly least most total only just "
        "another additional"
    )
)
# Words after a four-digit number that make it a count ("2050 people" is not the year 2050).
_COUNT_NOUNS = frozenset(
    word_list(
        "people persons men women children kids students soldiers troops copies pages words books years days "
        "months weeks hours minutes seconds miles kilometres kilometers metres meters feet yards inches pounds "
        "dollars euros pence cents acres tons tonnes times members votes deaths lives cases units items pieces "
        "species workers employees jobs homes houses cars ships planes votes points calories steps more"
    )
)
_SCALE_WORDS = frozenset(("hundred", "thousand", "million", "billion", "trillion"))
_DIGIT_GROUPS = re.compile(r"[0-9]+(?:-[0-9]+)+")
_BARE_NUMBER = re.compile(r"[0-9][0-9,.:]*")


def _reads_as_year(ctx: _Context, use_next: bool) -> bool:
    if ctx.prev in _YEAR_CUES:
        return True
    if ctx.prev in _COUNT_CUES:
        return False
    return not (use_next and (ctx.next.lower() in _COUNT_NOUNS or ctx.next.lower() in _SCALE_WORDS))


# --- numbers, money, dates ----------------------------------------------------------------------------------

_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_NUM = rf"(?:{_INT}(?:\.[0-9]+)?|\.[0-9]+)"
_INT_RE = re.compile(_INT)
_CURRENCIES = {
    # symbol: (one, many, one hundredth, many hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "US$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "¢": ("cent", "cents", "", ""),
}
_MONEY_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "bn": "billion",
    "b": "billion",
    "B": "billion",
    "tn": "trillion",
    "T": "trillion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}
_UNITS = {
    # attached ("5km") or following a number ("5 km"): (one, many)
    "km": ("kilometer", "kilometers"),
    "kg": ("kilogram", "kilograms"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "tb": ("terabyte", "terabytes"),
    "k": ("thousand", "thousand"),
    "x": ("times", "times"),
    "am": ("A M", "A M"),
    "pm": ("P M", "P M"),
    "a.m": ("A M", "A M"),
    "p.m": ("P M", "P M"),
}
_CURRENCY_BEFORE = re.compile(
    rf"(?P<sign>[-+])?(?P<cur>US\$|[$£€¥₹])(?P<num>{_INT}(?:\.[0-9]+)?)"
    r"(?P<scale>k|K|mn|m|M|bn|b|B|tn|T|thousand|million|billion|trillion)?"
)
_CURRENCY_AFTER = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})(?P<cur>[$£€¥¢])")
_PERCENT = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})%")
_ORDINAL = re.compile(rf"(?P<num>{_INT})(?:st|nd|rd|th)", re.IGNORECASE)
_DECADE = re.compile(r"(?P<num>[0-9]{2}|[0-9]{3}0)'?s")
_PLURAL_NUMBER = re.compile(rf"(?P<num>{_INT})'?s")
_TIME = re.compile(r"(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2}))?(?P<ampm>[ap]\.?m\.?)?", re.IGNORECASE)
_HOUR = re.compile(r"(?P<h>[0-9]{1,2})(?P<ampm>[ap]\.?m\.?)", re.IGNORECASE)
_FRACTION = re.compile(r"(?P<a>[0-9]{1,6})/(?P<b>[0-9]{1,6})")
_DEGREES = re.compile(rf"(?P<sign>[-+])?(?P<num>{_NUM})°(?P<scale>[CF])?")
_NUMBER = re.compile(rf"(?P<sign>[-+~])?(?P<num>{_NUM})")
_WITH_UNIT = re.compile(rf"(?P<num>{_NUM})(?P<unit>[A-Za-z][A-Za-z./]*)")
_HASH_NUMBER = re.compile(rf"#(?P<num>{_INT})")
_SIGNS = {"-": "minus ", "+": "plus ", "~": "about ", "": ""}
_FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _money(match: re.Match[str], ctx: _Context, use_next: bool) -> tuple[str, str]:
    """Spoken money and the unit to move onto the next word ("$5 million" -> "five", "million dollars")."""
    one, many, cent, cents = _CURRENCIES[match["cur"]]
    sign = _SIGNS[match["sign"] or ""]
    num = match["num"]
    scale = match.groupdict().get("scale")
    if scale:
        return f"{sign}{decimal(num)} {_MONEY_SCALES[scale]} {many}", ""
    if use_next and ctx.next.lower() in _SCALE_WORDS:
        return sign + decimal(num), many
    whole, _, fraction = num.partition(".")
    significant = whole.replace(",", "").lstrip("0")  # never int() an arbitrarily long digit string
    if fraction and (len(fraction) != 2 or not cent):
        return f"{sign}{decimal(num)} {many}", ""
    hundredths = int(fraction) if fraction else 0
    parts = []
    if significant or not hundredths:
        parts.append(f"{integer(whole or '0')} {one if significant == '1' else many}")
    if hundredths:
        parts.append(f"{cardinal(hundredths)} {cent if hundredths == 1 else cents}")
    return sign + " and ".join(parts), ""


def _plain_number(match: re.Match[str], ctx: _Context, use_next: bool) -> str:
    sign = _SIGNS[match["sign"] or ""]
    num = match["num"]
    if not sign and len(num) == 4 and num.isdigit() and 1000 <= int(num) <= 2099 and _reads_as_year(ctx, use_next):
        return year(int(num))
    return sign + decimal(num)


def _time(match: re.Match[str], ctx: _Context) -> str | None:
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 24 or minute > 59:
        return None
    ampm = match["ampm"]
    words = cardinal(hour)
    if minute == 0 and not ampm and ctx.next.lower().replace(".", "") not in ("am", "pm"):
        words += " o'clock"
    elif minute:
        words += f" oh {ONES[minute]}" if minute < 10 else f" {cardinal(minute)}"
    if match["s"]:
        words += f" and {cardinal(int(match['s']))} seconds"
    if ampm:
        words += " A M" if ampm[0].lower() == "a" else " P M"
    return words


def _fraction(match: re.Match[str]) -> str:
    a, b = int(match["a"]), int(match["b"])
    if 0 < a < b <= 10:
        one, many = _FRACTION_NAMES.get(b, (ordinal(b), ordinal(b) + "s"))
        return f"{cardinal(a)} {one if a == 1 else many}"
    # Not a small fraction: a date (9/11) or "24/7", said as the numbers.
    return f"{integer(match['a'])} {integer(match['b'])}"


def _decade(match: re.Match[str]) -> str:
    num = match["num"]
    if len(num) == 2:
        return "two thousands" if num == "00" else plural(cardinal(int(num)))
    value = int(num)
    return plural(year(value) if 1000 <= value <= 2099 else cardinal(value))


def _numeric(core: str, ctx: _Context, use_next: bool) -> tuple[str, str] | None:
    """A core holding a number in a form we know, spoken; with a unit carried to the next word; else None."""
    if m := _NUMBER.fullmatch(core):
        return _plain_number(m, ctx, use_next), ""
    if m := _CURRENCY_BEFORE.fullmatch(core):
        return _money(m, ctx, use_next)
    if m := _PERCENT.fullmatch(core):
        return f"{_SIGNS[m['sign'] or '']}{decimal(m['num'])} percent", ""
    if m := _ORDINAL.fullmatch(core):
        return ordinal_of(integer(m["num"])), ""
    if m := _DECADE.fullmatch(core):
        return _decade(m), ""
    if m := _PLURAL_NUMBER.fullmatch(core):
        return plural(integer(m["num"])), ""  # "100s", "7s"
    if m := _CURRENCY_AFTER.fullmatch(core):
        return _money(m, ctx, use_next)
    if (m := _TIME.fullmatch(core)) and (spoken := _time(m, ctx)):
        return spoken, ""
    if m := _HOUR.fullmatch(core):
        return f"{cardinal(int(m['h']))} {'A M' if m['ampm'][0].lower() == 'a' else 'P M'}", ""
    if m := _FRACTION.fullmatch(core):
        return _fraction(m), ""
    if m := _DEGREES.fullmatch(core):
        scale = {"C": " Celsius", "F": " Fahrenheit"}.get(m["scale"] or "", "")
        return f"{_SIGNS[m['sign'] or '']}{decimal(m['num'])} degrees{scale}", ""
    if m := _HASH_NUMBER.fullmatch(core):
        return f"number {integer(m['num'])}", ""
    if (m := _WITH_UNIT.fullmatch(core)) and (unit := _UNITS.get(m["unit"].lower())):
        value = m["num"]
        return f"{decimal(value)} {unit[0] if value == '1' else unit[1]}", ""
    return _range(core, ctx, use_next)


_RANGE_DASH = re.compile(r"(?<=[0-9%])[-–](?=[-+]?[$£€¥]?[0-9])")


def _range(core: str, ctx: _Context, use_next: bool) -> tuple[str, str] | None:
    """``1990–2000`` -> "nineteen ninety to two thousand"; ``10-20`` -> "ten to twenty"."""
    m = _RANGE_DASH.search(core)
    if not m:
        return None
    left, right = core[: m.start()], core[m.end() :]
    if len(left) > 40 or len(right) > 40:
        return None  # not a range anyone writes; the fallback reads it, without int() on huge digit strings
    if "–" in right or "-" in right.lstrip("-+"):
        return None
    if m.group() == "-" and not (left.isdigit() and right.isdigit()):
        return None  # a hyphen between anything but two plain numbers is not a range we can be sure of
    if m.group() == "-" and (
        left[0] == "0"
        or right[0] == "0"
        or (len(left), len(right)) == (3, 4)  # "555-1234" is a phone number, not a range
        or not (int(left) < int(right) or (len(left) == 4 and len(right) == 2))
    ):
        return None
    first = _numeric(left, _Context(ctx.prev, "", False), False)
    if first is None:
        return None
    left_is_year = len(left) == 4 and left.isdigit() and first[0] == year(int(left))
    if left_is_year and right.isdigit() and len(right) == 2:
        # "1990–95": the short end reads as the last two digits of a year ("oh six" for "06").
        value = int(right)
        second = f"oh {ONES[value]}" if value < 10 else cardinal(value)
        return f"{first[0]} to {second}", ""
    right_ctx = _Context("in" if left_is_year else "", ctx.next, ctx.final)
    rest = _numeric(right, right_ctx, use_next)
    if rest is None:
        return None
    return f"{first[0]} to {rest[0]}", rest[1]


_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _abbreviation(core: str, dotted: bool, ctx: _Context) -> str | None:
    if not dotted:
        if core == "St":
            return _saint_or_street(ctx)
        return UNDOTTED.get(core)
    key = core.casefold()
    if key == "st":
        return _saint_or_street(ctx)
    if key == "ft":
        return "Fort" if ctx.next[:1].isupper() else "feet"
    if key in BEFORE_NUMBER:
        return BEFORE_NUMBER[key] if ctx.next[:1].isdigit() or ctx.next[:1] == "#" else None
    if key in DOTTED:
        return DOTTED[key]
    if key in MONTHS:
        return MONTHS[key] if ctx.next[:1].isdigit() or _BARE_NUMBER.fullmatch(ctx.prev) else None
    if _INITIALISM.fullmatch(core):
        return " ".join(ch.upper() for ch in core if ch != ".")
    if len(core) == 1 and core.isupper() and not ctx.final:
        return core  # an initial: "J. K. Rowling" -> "J K Rowling" (its stop would end a sentence in espeak)
    return None


def _saint_or_street(ctx: _Context) -> str:
    return "Saint" if ctx.next[:1].isupper() else "Street"


# --- words --------------------------------------------------------------------------------------------------

_MARKS = ",;:.?!"
_STRENGTH = {"": 0, ",": 1, ";": 2, ":": 2, ".": 3, "!": 4, "?": 4}
_OPENERS = "\"'([{<*_"
_CLOSERS = "\"')]}>*_,;:.?!"
# A written word that is plain letters with at most one trailing mark: said as written (the fast path).
_PLAIN = re.compile(r"(?P<core>[A-Za-z]+(?:'[A-Za-z]+)?)(?P<mark>[,;:.?!]?)")
# Where a written word breaks into pieces said with a pause between: dashes and ellipses. A single en dash
# between numbers is a range and is left for the number parser.
_BREAK = re.compile(r"[—–-]{2,}|—|\.{3,}|–(?![-+]?[$£€¥]?[0-9])|(?<![0-9%])–|\A-\Z")
_LETTERS = r"A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ"
_WORD = re.compile(rf"[{_LETTERS}]+(?:['-][{_LETTERS}]+)*")
_RUN = re.compile(rf"[0-9]+(?:[.,][0-9]+)*|[{_LETTERS}\u0300-\u036f]+(?:'[{_LETTERS}]+)*|.", re.DOTALL)
_SYMBOL_WORDS = {
    "&": "and",
    "+": "plus",
    "@": "at",
    "#": "number",
    "%": "percent",
    "=": "equals",
    "<": "less than",
    ">": "more than",
    "~": "about",
    "°": "degrees",
    "$": "dollars",
    "£": "pounds",
    "€": "euros",
    "¥": "yen",
    "₹": "rupees",
    "¢": "cents",
}
_NOT_SPOKEN = re.compile(rf"[^{_LETTERS}\u0300-\u036f' ,;:.?!-]+")
_STRAY_JOINER = re.compile(rf"(?<![{_LETTERS}])['-]+|['-]+(?![{_LETTERS}])")
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[,;:.?!])")
_MARK_RUN = re.compile(r"[,;:.?!]{2,}")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"[0-9]+")


def _stronger(a: str, b: str) -> str:
    return b if _STRENGTH[b] > _STRENGTH[a] else a


def _strongest(marks: str) -> str:
    best = ""
    for mark in marks:
        best = _stronger(best, mark)
    return best


def _tidy(text: str) -> str:
    """The final guarantee on a spoken form: allowed characters only, single spaces, no leading mark."""
    text = _DIGITS.sub(lambda m: f" {integer(m.group())} ", text)
    text = _NOT_SPOKEN.sub(" ", text)
    text = _STRAY_JOINER.sub(" ", text)
    text = _SPACE_BEFORE_MARK.sub("", text)
    text = _MARK_RUN.sub(lambda m: _strongest(m.group()), text)
    text = _SPACES.sub(" ", text).strip()
    return text.lstrip(_MARKS + " ")


class _Speech:
    """The spoken form of one written word, built piece by piece."""

    __slots__ = ("lead", "text", "pending", "carry")

    def __init__(self, carry: str) -> None:
        self.lead = ""  # a pause before the first spoken word: it goes onto the previous written word
        self.text = ""
        self.pending = ""  # a pause after the last spoken word so far
        self.carry = carry  # a unit moved here from the previous word ("million" + "dollars")

    def mark(self, mark: str) -> None:
        if self.text:
            self.pending = _stronger(self.pending, mark)
        else:
            self.lead = _stronger(self.lead, mark)

    def say(self, words: str) -> None:
        if not words:
            return
        if self.carry:
            words, self.carry = f"{words} {self.carry}", ""
        self.text = f"{self.text}{self.pending} {words}" if self.text else words
        self.pending = ""


def _mark_of(punctuation: str, final: bool) -> str:
    """The pause a run of written punctuation asks for."""
    if not punctuation:
        return ""
    if "?" in punctuation:
        return "?"
    if "!" in punctuation:
        return "!"
    if ".." in punctuation:  # an ellipsis: a pause, and the end only at the end
        return "." if final else ","
    for mark in ".;:":
        if mark in punctuation:
            return mark
    if any(ch in punctuation for ch in ",)]}"):
        return ","
    return ""


def _say_piece(piece: str, speech: _Speech, ctx: _Context, lexicon: Lexicon, last_piece: bool) -> str:
    """Say one dash-free piece of a written word; return the unit to carry to the next written word."""
    stripped = piece.lstrip(_OPENERS)
    lead = piece[: len(piece) - len(stripped)]
    core = stripped.rstrip(_CLOSERS)
    trail = stripped[len(core) :]
    if any(ch in lead for ch in "([{"):
        speech.mark(",")
    final = ctx.final and last_piece
    if not core:
        speech.mark(_mark_of(trail, final))
        return ""
    spoken, carry = _say_core(core, trail, ctx, lexicon, last_piece)
    if spoken is None:  # an abbreviation that took the full stop
        spoken, trail = carry, trail[1:]
        carry = ""
        if final:
            trail = "." + trail
    speech.say(spoken)
    speech.mark(_mark_of(trail, final))
    return carry


def _say_core(core: str, trail: str, ctx: _Context, lexicon: Lexicon, last_piece: bool) -> tuple[str | None, str]:
    """(spoken, carried unit); (None, spoken) when an abbreviation consumed the full stop after it."""
    if not core:
        return "", ""
    if lexicon:
        if (spoken := spoken_form(lexicon, core)) is not None:
            return spoken, ""
        if core[-2:].lower() == "'s" and (spoken := spoken_form(lexicon, core[:-2])) is not None:
            return f"{spoken}'s", ""
    if core[-2:].lower() == "'s" and _INITIALISM.fullmatch(core[:-2].rstrip(".")):
        return " ".join(ch.upper() for ch in core[:-2] if ch != ".") + "'s", ""  # "U.K.'s"
    dotted = trail.startswith(".") and not trail.startswith("..")
    if (spoken := _abbreviation(core, dotted, ctx)) is not None:
        return (None, spoken) if dotted else (spoken, "")
    use_next = last_piece and not trail
    if dotted and core[-3:].lower() in ("a.m", "p.m") and (found := _numeric(core + ".", ctx, use_next)):
        return None, found[0]  # "3p.m." — the stop belongs to the abbreviation
    if core[0] in "0123456789$£€¥₹#.-+~" or any(ch.isdigit() for ch in core):
        found = _numeric(core, ctx, use_next)
        if found is not None:
            return found
    if core in _SYMBOL_WORDS:
        return _SYMBOL_WORDS[core], ""
    lower = core.lower()
    if lower in _UNITS and _BARE_NUMBER.fullmatch(ctx.prev):
        one, many = _UNITS[lower]
        return (one if ctx.prev == "1" else many), ""
    if _WORD.fullmatch(core):
        if "-" in core and lexicon:
            return "-".join(spoken_form(lexicon, p) or p for p in core.split("-")), ""
        return core, ""
    if _DIGIT_GROUPS.fullmatch(core):
        # Not a range: a phone number or a code ("555-1234"), said digit by digit, a pause between groups.
        return ", ".join(digit_by_digit(group) for group in core.split("-")), ""
    if "-" in core.strip("-"):
        # "19th-century", "5-year-old", "COVID-19": each part on its own.
        parts = [
            _say_core(p.rstrip("."), p[len(p.rstrip(".")) :], _NO_CONTEXT, lexicon, False) for p in core.split("-")
        ]
        return " ".join(p[0] if p[0] is not None else p[1] for p in parts), ""
    return _say_runs(core.lstrip("-"), ctx, lexicon), ""


def _say_runs(core: str, ctx: _Context, lexicon: Lexicon) -> str:
    """The fallback for mixed tokens: letters as written, numbers as words, known symbols as words."""
    runs = _RUN.findall(core)
    words: list[str] = []
    for i, run in enumerate(runs):
        if run[0].isdigit():
            if "," in run and not _INT_RE.fullmatch(run):
                words.extend(decimal(part) for part in run.split(","))
            elif run.count(".") > 1:
                words.append(" point ".join(integer(part) for part in run.split(".")))
            else:
                words.append(decimal(run))
        elif run[0].isalpha():
            words.append((spoken_form(lexicon, run) if lexicon else None) or run)
        elif run == "#":
            following = runs[i + 1] if i + 1 < len(runs) else ""
            words.append("hashtag" if following[:1].isalpha() else "number")
        elif run == "." and 0 < i < len(runs) - 1 and runs[i - 1][0].isalnum() and runs[i + 1][0].isalnum():
            words.append("dot")  # "Shortform.com"
        elif run in _SYMBOL_WORDS:
            words.append(_SYMBOL_WORDS[run])
    return " ".join(w for w in words if w)


def _bare(word: str) -> str:
    return word.strip(_OPENERS + _CLOSERS + "“”‘’—–")


def _say_word(word: str, ctx: _Context, lexicon: Lexicon, carry: str) -> tuple[str, str, str]:
    """(pause before, spoken form, unit to carry to the next word) of one written word."""
    if (m := _PLAIN.fullmatch(word)) and not carry:
        core, mark = m["core"], m["mark"]
        if not (
            (lexicon and (spoken_form(lexicon, core) is not None or spoken_form(lexicon, core[:-2]) is not None))
            or core in UNDOTTED
            or core == "St"
            or (mark == "." and (len(core) == 1 or core.casefold() in ABBREVIATIONS))
            or (core.lower() in _UNITS and _BARE_NUMBER.fullmatch(ctx.prev))
        ):
            return "", word, ""
    speech = _Speech(carry)
    next_carry = ""
    for token in spoken_characters(word).split():
        pieces = _BREAK.split(token)
        breaks = _BREAK.findall(token)
        for i, piece in enumerate(pieces):
            if i:
                speech.mark("." if breaks[i - 1][0] == "." and ctx.final and i == len(pieces) - 1 else ",")
            next_carry = _say_piece(piece, speech, ctx, lexicon, i == len(pieces) - 1) or next_carry
    text = _tidy(speech.text + speech.pending) if speech.text else ""
    if speech.carry:  # the word meant to take the unit said nothing; say the unit here
        text = _tidy(f"{text} {speech.carry}")
    return speech.lead, text, next_carry


def speech_words(words: Sequence[str], lexicon: Lexicon) -> list[str]:
    """One spoken form per written word of one sentence; see the module docstring for what they hold."""
    count = len(words)
    bare = [_bare(w) for w in words]
    spoken: list[str] = []
    last_said = -1  # index of the last non-empty spoken form, where a pause before a word is written
    carry = ""
    for i, word in enumerate(words):
        ctx = _Context(
            prev=bare[i - 1].lower() if i else "",
            next=bare[i + 1] if i + 1 < count else "",
            final=i == count - 1,
        )
        lead, text, carry = _say_word(word, ctx, lexicon, carry)
        if lead and last_said >= 0:
            spoken[last_said] = _with_mark(spoken[last_said], lead)
        spoken.append(text)
        if text:
            last_said = i
    return spoken


def _with_mark(text: str, mark: str) -> str:
    """``text`` ending in the stronger of its own final mark and ``mark``."""
    body = text.rstrip(_MARKS)
    return body + _stronger(_strongest(text[len(body) :]), mark)


_NO_LEXICON = Lexicon.empty()


def spoken_form(lexicon: Lexicon, word: str) -> str | None:
    """What the voice says for a word the lexicon respells, or None when it has no entry."""
    respelling = lexicon.respelling(word)
    return None if respelling is None else _respelled(respelling)


@lru_cache(maxsize=4096)
def _respelled(value: str) -> str:
    """A lexicon value as the voice gets it: normalised like any text, without a trailing prosody mark."""
    spoken = " ".join(s for s in speech_words(value.split(), _NO_LEXICON) if s)
    return spoken.rstrip(_MARKS)
