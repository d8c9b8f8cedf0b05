"""Speech text: what the voice says for each written word, the pronunciation lexicon, and robustness."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.numbers import cardinal, ordinal, year
from pipeline.narration.speech import speech_words, spoken_form

ROOT = Path(__file__).resolve().parents[1]
EMPTY = Lexicon.empty()


def say(sentence: str, lexicon: Lexicon = EMPTY) -> list[str]:
    words = sentence.split()
    spoken = speech_words(words, lexicon)
    assert len(spoken) == len(words)
    return spoken


def pairs(sentence: str, lexicon: Lexicon = EMPTY) -> dict[str, str]:
    """Written word -> spoken form, for the words whose spoken form differs."""
    return {w: s for w, s in zip(sentence.split(), say(sentence, lexicon), strict=True) if w != s}


# --- number words -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety nine"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (21_000_017, "twenty one million seventeen"),
        (3_000_000_000_000, "three trillion"),
        (1_002_003_004_005, "one trillion two billion three million four thousand five"),
        (10**15, "one quadrillion"),
        (-42, "minus forty two"),
    ],
)
def test_cardinal(n: int, words: str) -> None:
    assert cardinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"), (20, "twentieth"), (21, "twenty first"),
     (100, "one hundredth"), (1_000_000, "one millionth")],
)  # fmt: skip
def test_ordinal(n: int, words: str) -> None:
    assert ordinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [(1000, "one thousand"), (1066, "ten sixty six"), (1100, "eleven hundred"), (1905, "nineteen oh five"),
     (1990, "nineteen ninety"), (1999, "nineteen ninety nine"), (2000, "two thousand"), (2005, "two thousand five"),
     (2010, "twenty ten"), (2099, "twenty ninety nine")],
)  # fmt: skip
def test_year(n: int, words: str) -> None:
    assert year(n) == words


# --- written words in context -------------------------------------------------------------------------------

CASES = {
    # numbers
    "numbers": (
        "He had 1,000 books , 42 pens and 3.14 cakes .5 0.5 007 -5 −5",
        {
            "1,000": "one thousand",
            "42": "forty two",
            "3.14": "three point one four",
            ".5": "point five",
            "0.5": "zero point five",
            "007": "zero zero seven",
            "-5": "minus five",
            "−5": "minus five",
            ",": "",
        },
    ),
    "big numbers": (
        "1,000,000,000,000 1234567890123",
        {
            "1,000,000,000,000": "one trillion",
            "1234567890123": "one trillion two hundred thirty four billion five hundred sixty seven million "
            "eight hundred ninety thousand one hundred twenty three",
        },
    ),
    "ordinals": (
        "the 1st 2nd 3rd 4th 11th 21st 100th day",
        {
            "1st": "first",
            "2nd": "second",
            "3rd": "third",
            "4th": "fourth",
            "11th": "eleventh",
            "21st": "twenty first",
            "100th": "one hundredth",
        },
    ),
    "years": (
        "In 2005 she left, in 1999 he came and by 1066 it was over.",
        {"2005": "two thousand five", "1999": "nineteen ninety nine", "1066": "ten sixty six"},
    ),
    "year versus count": (
        "In 2050 about 1999 came and 2040 people",
        {"2050": "twenty fifty", "1999": "one thousand nine hundred ninety nine", "2040": "two thousand forty"},
    ),
    "decades": (
        "the 1990s, '90s, ’60s, 1900s, 2000s and 1980's",
        {
            "1990s,": "nineteen nineties,",
            "'90s,": "nineties,",
            "’60s,": "sixties,",
            "1900s,": "nineteen hundreds,",
            "2000s": "two thousands",
            "1980's": "nineteen eighties",
        },
    ),
    "ranges": (
        "From 1990–2000 and 1990-95 and 2005–06 on pages 10-20 call 555-1234",
        {
            "1990–2000": "nineteen ninety to two thousand",
            "1990-95": "nineteen ninety to ninety five",
            "2005–06": "two thousand five to oh six",
            "10-20": "ten to twenty",
            "555-1234": "five five five, one two three four",
        },
    ),
    "currency": (
        "$5 $1 $5.50 $1.01 $0.99 £2.50 £1 €1 €3.20 ¥500 $5bn $2.5m $1,000",
        {
            "$5": "five dollars",
            "$1": "one dollar",
            "$5.50": "five dollars and fifty cents",
            "$1.01": "one dollar and one cent",
            "$0.99": "ninety nine cents",
            "£2.50": "two pounds and fifty pence",
            "£1": "one pound",
            "€1": "one euro",
            "€3.20": "three euros and twenty cents",
            "¥500": "five hundred yen",
            "$5bn": "five billion dollars",
            "$2.5m": "two point five million dollars",
            "$1,000": "one thousand dollars",
        },
    ),
    "percent": (
        "20% 3.5% -2%",
        {"20%": "twenty percent", "3.5%": "three point five percent", "-2%": "minus two percent"},
    ),
    "times and fractions": (
        "at 3:30 p.m. or 10:00 or 7pm or 3:05, 1/2 3/4 24/7 2½",
        {
            "3:30": "three thirty",
            "p.m.": "P M",
            "10:00": "ten o'clock",
            "7pm": "seven P M",
            "3:05,": "three oh five,",
            "1/2": "one half",
            "3/4": "three quarters",
            "24/7": "twenty four seven",
            "2½": "two and a half",
        },
    ),
    "units": (
        "5km 10 km 1kg 5°C 30° 10² 3x",
        {
            "5km": "five kilometers",
            "10": "ten",
            "km": "kilometers",
            "1kg": "one kilogram",
            "5°C": "five degrees Celsius",
            "30°": "thirty degrees",
            "10²": "ten squared",
            "3x": "three times",
        },
    ),
    # abbreviations
    "titles": (
        "Mr. Lind, Mrs. Lind, Ms. Ray, Dr. Okafor, Mr Lind and Prof. Ray Jr. met",
        {
            "Mr.": "Mister",
            "Mrs.": "Missus",
            "Ms.": "Miz",
            "Dr.": "Doctor",
            "Mr": "Mister",
            "Prof.": "Professor",
            "Jr.": "Junior",
        },
    ),
    "initialisms": (
        "the U.S. and U.K.'s A.I. at 9 a.m. says J. K. Rowling",
        {"U.S.": "U S", "U.K.'s": "U K's", "A.I.": "A I", "9": "nine", "a.m.": "A M", "J.": "J", "K.": "K"},
    ),
    "latin": (
        "apples, pears, etc., e.g. figs, i.e. fruit; Roe v. Wade vs. them",
        {"etc.,": "et cetera,", "e.g.": "for example", "i.e.": "that is", "v.": "versus", "vs.": "versus"},
    ),
    "context abbreviations": (
        "St. Paul lives by No. 5 Jan. 5 and met Jan. today on Elm St.",
        {"No.": "number", "5": "five", "St.": "Street."},
    ),
    # punctuation that the voice would misread
    "dashes": (
        "her tape––which features “Never Let Me Go”––Ruth him—which a — b a -- b a - b",
        {
            "tape––which": "tape, which",
            "“Never": "Never",
            "Go”––Ruth": "Go, Ruth",
            "him—which": "him, which",
            "—": "",
            "--": "",
            "-": "",
        },
    ),
    "ellipses": ("wait… then... so … go", {"wait…": "wait,", "then...": "then,", "…": ""}),
    "quotes": (
        "“Hello,” she said, ‘don’t’ \"go\" 'now'",
        {"“Hello,”": "Hello,", "‘don’t’": "don't", '"go"': "go", "'now'": "now"},
    ),
    "brackets": ("a (b) c [d] e", {"a": "a,", "(b)": "b,", "c": "c,", "[d]": "d,"}),
    # symbols
    "symbols": (
        "& + @ # % = AT&T C++ #1 #MeToo Shortform.com © x ± y",
        {
            "&": "and",
            "+": "plus",
            "@": "at",
            "#": "number",
            "%": "percent",
            "=": "equals",
            "AT&T": "AT and T",
            "C++": "C plus plus",
            "#1": "number one",
            "#MeToo": "hashtag MeToo",
            "Shortform.com": "Shortform dot com",
            "©": "copyright",
            "±": "plus or minus",
        },
    ),
    "mixed tokens": (
        "R2-D2 MP3 COVID-19 19th-century 5-year-old 1-Page",
        {
            "R2-D2": "R two D two",
            "MP3": "MP three",
            "COVID-19": "COVID nineteen",
            "19th-century": "nineteenth century",
            "5-year-old": "five year old",
            "1-Page": "one Page",
        },
    ),
    # other scripts and pictographs
    "scripts": (
        "Zoë and café in Tokyo (東京) שלום Москва Σοφία Пётр 😀 👍🏽 1️⃣ ＡＢＣ١٢",
        {
            "Tokyo": "Tokyo,",
            "(東京)": "",
            "שלום": "",
            "Москва": "Moskva",  # Cyrillic and Greek are romanised
            "Σοφία": "Sofia",
            "Пётр": "Pyotr",
            "😀": "",
            "👍🏽": "",
            "1️⃣": "one",
            "ＡＢＣ١٢": "ABC twelve",
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_spoken_forms(name: str) -> None:
    sentence, expected = CASES[name]
    got = pairs(sentence)
    for written, spoken in expected.items():
        assert got.get(written, written) == spoken, (written, got)


def test_unit_moves_after_the_scale_word() -> None:
    assert say("They paid $5 million, then £2.5 billion.") == [
        "They", "paid", "five", "million dollars,", "then", "two point five", "billion pounds."
    ]  # fmt: skip


def test_a_four_digit_count_is_not_a_year() -> None:
    assert say("In 1999 they counted 1999 people") == [
        "In", "nineteen ninety nine", "they", "counted", "one thousand nine hundred ninety nine", "people"
    ]  # fmt: skip


def test_an_abbreviation_keeps_its_stop_only_at_the_end_of_the_sentence() -> None:
    assert say("St. Paul on Elm St.") == ["Saint", "Paul", "on", "Elm", "Street."]
    assert say("Jan. 5 and 5 Jan. 1990 but not Jan. today") == [
        "January", "five", "and", "five", "January", "nineteen ninety", "but", "not", "Jan.", "today"
    ]  # fmt: skip
    assert say("It ended in the U.S.")[-1] == "U S."
    assert say("The U.S. army")[1] == "U S"
    assert say("Lind Jr.")[-1] == "Junior."
    assert say("and so on etc.")[-1] == "et cetera."


def test_a_lone_mark_becomes_a_pause_on_the_word_before() -> None:
    assert say("Kathy — and Ruth … and Tommy ?") == ["Kathy,", "", "and", "Ruth,", "", "and", "Tommy?", ""]
    assert say("the end...") == ["the", "end."]  # an ellipsis at the end of the sentence is its end
    assert say("— Kathy") == ["", "Kathy"]  # nothing before it to pause after


def test_plain_words_are_unchanged() -> None:
    sentence = "Kathy recalls her time at school, and she had two best friends: Ruth and Tommy. Why? Yes!"
    assert say(sentence) == sentence.split()


def test_the_seed_summary_passage() -> None:
    sentence = (
        "However, Kathy becomes friends with her anyway, and when she loses her favorite cassette tape––which "
        "features a song called “Never Let Me Go”––Ruth tries to help find it."
    )
    assert " ".join(s for s in say(sentence) if s) == (
        "However, Kathy becomes friends with her anyway, and when she loses her favorite cassette tape, which "
        "features a song called Never Let Me Go, Ruth tries to help find it."
    )


def test_control_characters_are_not_spoken() -> None:
    assert say("a\x07b \x1bred\x7f") == ["a b", "red"]
    assert speech_words(["\x00", "\t", "", "\u200b", "\u202e"], EMPTY) == ["", "", "", "", ""]


# --- the lexicon ----------------------------------------------------------------------------------------------


def test_lexicon_replaces_the_bare_word_and_keeps_punctuation(tmp_path: Path) -> None:
    lexicon_file = tmp_path / "lexicon.toml"
    lexicon_file.write_text('[words]\nIshiguro = "Ishiguuro"\nhailsham = "Hailshum"\n"Zoë" = "Zoh-ee"\n')
    lexicon = Lexicon.load(lexicon_file)
    assert say("Ishiguro's “HAILSHAM,” Hailsham-educated ishiguro. Zoë Ishiguro’s", lexicon) == [
        "Ishiguuro's", "Hailshum,", "Hailshum-educated", "Ishiguuro.", "Zoh-ee", "Ishiguuro's"
    ]  # fmt: skip
    assert say("Ishiguro's", EMPTY) == ["Ishiguro's"]


def test_lexicon_respellings_are_normalised_like_text() -> None:
    lexicon = Lexicon({"R2D2": "Artoo 2", "Gone": "  "})
    assert say("R2D2 Gone", lexicon) == ["Artoo two", ""]
    assert spoken_form(lexicon, "r2d2") == "Artoo two"
    assert len(lexicon) == 2 and not Lexicon.empty()


def test_the_shipped_lexicon() -> None:
    lexicon = Lexicon.load(ROOT / "assets" / "lexicon.toml")
    for name in ("Ishiguro", "Hailsham", "Kazuo", "Chrissie", "Madame"):
        assert spoken_form(lexicon, name), name
    assert say("Kazuo Ishiguro's Hailsham: Madame and Chrissie.", lexicon) == [
        "Kahzuuoh", "Ishiguuro's", "Hailshum:", "Muh-dahm", "and", "Krissy."
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[words]\nIshiguro = "x\n', "malformed lexicon {path}: Illegal character '\\n' (at line 2, column 14)"),
        ("[words]\nIshiguro = \n", "malformed lexicon {path}: Invalid value (at line 2, column 12)"),
        ("[words]\nIshiguro = 3\n", "lexicon {path}: [words] 'Ishiguro' must be a string respelling, not int"),
        ('words = "x"\n', 'lexicon {path}: [words] must be a table of word = "respelling"'),
        (
            '[word]\nIshiguro = "x"\n',
            "lexicon {path}: unknown key 'word' (the file holds a [words] and a [hibari] table)",
        ),
        ("[hibari]\nIshiguro = 3\n", "lexicon {path}: [hibari] 'Ishiguro' must be a string of phonemes, not int"),
        ('[hibari]\nIshiguro = " "\n', "lexicon {path}: [hibari] 'Ishiguro' has no phonemes"),
        ('[words]\n"two words" = "x"\n', "lexicon {path}: [words] key 'two words' must be one word without spaces"),
        (b"[words]\nx = '\xff'\n", "lexicon {path} is not UTF-8 (invalid byte at offset 13)"),
    ],
)
def test_malformed_lexicon(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "lexicon.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Lexicon.load(path)
    assert str(caught.value) == message.format(path=path)


def test_missing_lexicon(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^lexicon not found: "):
        Lexicon.load(tmp_path / "nope.toml")


def test_empty_lexicon_file(tmp_path: Path) -> None:
    (tmp_path / "lexicon.toml").write_text("# nothing yet\n")
    assert len(Lexicon.load(tmp_path / "lexicon.toml")) == 0


# --- robustness -----------------------------------------------------------------------------------------------

_SPOKEN_CHARACTERS = set(" ',;:.?!-")


def assert_speakable(spoken: str) -> None:
    assert spoken == spoken.strip() and "  " not in spoken
    assert spoken[:1] not in set(",;:.?!")
    for ch in spoken:
        assert (
            ch in _SPOKEN_CHARACTERS
            or (ch.isalpha() and unicodedata.name(ch).startswith("LATIN"))
            or (unicodedata.category(ch) == "Mn" and unicodedata.name(ch).startswith("COMBINING"))
        ), (spoken, ch)


# Text that exercises the number, currency, dash and abbreviation paths, not just random code points.
_TRICKY = st.text(alphabet=st.sampled_from(list("0123456789$£€%.,:;-–—/#'’“”()&+°²½sthndrmkMbUS. ")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12) | _TRICKY, max_size=12))
def test_any_words_give_speakable_forms_one_for_one(words: list[str]) -> None:
    spoken = speech_words(words, Lexicon({"Ishiguro": "Ishiguuro"}))
    assert len(spoken) == len(words)
    for form in spoken:
        assert_speakable(form)


def test_a_long_sentence_without_punctuation() -> None:
    words = ["word", "since", "1990", "$5"] * 100
    spoken = speech_words(words, EMPTY)
    assert len(spoken) == 400 and spoken[2] == "nineteen ninety" and spoken[3] == "five dollars"


@pytest.mark.timeout(120)  # linear, not quadratic: about 1 s here (speed itself is the benchmark's business)
def test_a_megabyte_summary_is_fast() -> None:
    seed = (ROOT / "tests" / "test_speech.py").read_text()  # varied text: code, numbers, quotes, symbols
    words = (seed * (1_000_000 // len(seed) + 1)).split()
    spoken = speech_words(words, Lexicon({"Ishiguro": "Ishiguuro"}))
    assert len(spoken) == len(words)


@pytest.mark.parametrize(
    "word",
    ["1" * 200_000, "." * 200_000 + "x", "a." * 100_000, "111," * 50_000 + "11", "😀" * 50_000, "–".join("1" * 50_000),
     "(" * 100_000 + "x", "$" + "9" * 100_000, "9" * 5_000 + "th", "1/" + "2" * 5_000],
)  # fmt: skip
@pytest.mark.timeout(60)  # a quadratic (or worse) pattern would hang here
def test_pathological_words_take_linear_time(word: str) -> None:
    (spoken,) = speech_words([word], EMPTY)
    assert_speakable(spoken)


def test_long_sentences_are_said_in_parts_at_clause_breaks_or_evenly():
    from pipeline.narration.tts.engine import MAX_PART_TOKENS
    from pipeline.narration.tts.engine import sentence_parts as _parts

    run_on = [f"w{i}" for i in range(400)]
    sizes = [len(p) for p in _parts(run_on)]
    assert sum(sizes) == 400 and max(sizes) <= MAX_PART_TOKENS and max(sizes) - min(sizes) <= 1
    with_commas = [f"w{i}," if i % 10 == 9 else f"w{i}" for i in range(100)]
    assert [p[-1] for p in _parts(with_commas)][:-1] == ["w29,", "w59,", "w89,"]
    assert [len(p) for p in _parts(with_commas[:33])] == [20, 13]  # no 3-word tail after a late comma
    assert _parts(run_on[:MAX_PART_TOKENS]) == [run_on[:MAX_PART_TOKENS]]
