"""Number words: cardinals, ordinals, years, decimals and digit strings as English words, for the speech text."""

from __future__ import annotations


def word_list(text: str) -> tuple[str, ...]:
    """A long list of words written as one string, for readability."""
    return tuple(text.split())


ONES = word_list(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = (
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
    "septillion",
    "octillion",
    "nonillion",
    "decillion",
)
# Longer digit strings (serial numbers, a pasted hash) are read digit by digit rather than by a scale
# nobody says.
_MAX_CARDINAL_DIGITS = 3 * len(_SCALES)
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(ONES[ones])
    elif rest or not words:
        words.append(ONES[rest])
    return words


def cardinal(n: int) -> str:
    """``1234`` -> "one thousand two hundred thirty four" (US style: no "and"; spaces, not hyphens)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n == 0:
        return "zero"
    if len(str(n)) > _MAX_CARDINAL_DIGITS:
        return digit_by_digit(str(n))
    groups: list[str] = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            words = _below_thousand(group)
            if _SCALES[scale]:
                words.append(_SCALES[scale])
            groups.append(" ".join(words))
        scale += 1
    return " ".join(reversed(groups))


def ordinal(n: int) -> str:
    """``21`` -> "twenty first"."""
    return ordinal_of(cardinal(n))


def ordinal_of(words: str) -> str:
    """The ordinal of a number said in words: the last word changes ("twenty one" -> "twenty first")."""
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}" if head else last


def year(n: int) -> str:
    """A year as people say it: 1066 "ten sixty six", 1905 "nineteen oh five", 2005 "two thousand five"."""
    hundreds, rest = divmod(n, 100)
    if n % 1000 < 10 and hundreds % 10 == 0:  # 1000–1009, 2000–2009: "two thousand five"
        return cardinal(n)
    if rest == 0:
        return f"{cardinal(hundreds)} hundred"
    if rest < 10:
        return f"{cardinal(hundreds)} oh {ONES[rest]}"
    return f"{cardinal(hundreds)} {cardinal(rest)}"


def plural(words: str) -> str:
    """Plural of the last word of a number: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def digit_by_digit(digits: str) -> str:
    return " ".join(ONES[int(d)] for d in digits if d.isascii() and d.isdigit())


def integer(digits: str) -> str:
    """Digits (commas allowed) as words; a leading zero ("007") or a huge number reads digit by digit."""
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits[0] == "0" or len(digits) > _MAX_CARDINAL_DIGITS:
        return digit_by_digit(digits)
    return cardinal(int(digits))


def decimal(text: str) -> str:
    """``3.14`` -> "three point one four"; ``.5`` -> "point five"."""
    whole, dot, fraction = text.partition(".")
    words = integer(whole) if whole else ""
    if dot and fraction:
        words = f"{words} point {digit_by_digit(fraction)}".strip()
    return words
