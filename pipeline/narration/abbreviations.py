"""The one table of abbreviations: what each says, and so which words a full stop after does not end a sentence.

The speech normaliser says them (some only in context, see ``speech._abbreviation``); the sentence splitter
reads ``ABBREVIATIONS`` so that "Gov. Brown signed it." stays one sentence. One table for both, so they cannot
disagree.
"""

from __future__ import annotations

# With a full stop (keys case-folded, without the final stop). Conditional ones are handled in _abbreviation.
DOTTED = {
    "mr": "Mister",
    "mrs": "Missus",
    "ms": "Miz",
    "messrs": "Messieurs",
    "dr": "Doctor",
    "prof": "Professor",
    "jr": "Junior",
    "sr": "Senior",
    "gen": "General",
    "capt": "Captain",
    "lt": "Lieutenant",
    "col": "Colonel",
    "sgt": "Sergeant",
    "rev": "Reverend",
    "hon": "Honorable",
    "gov": "Governor",
    "sen": "Senator",
    "rep": "Representative",
    "pres": "President",
    "mt": "Mount",
    "etc": "et cetera",
    "vs": "versus",
    "v": "versus",
    "e.g": "for example",
    "i.e": "that is",
    "cf": "compare",
    "approx": "approximately",
    "ph.d": "P H D",
    "inc": "Incorporated",
    "ltd": "Limited",
    "co": "Company",
    "corp": "Corporation",
    "bros": "Brothers",
    "dept": "Department",
    "univ": "University",
    "ave": "Avenue",
    "blvd": "Boulevard",
    "rd": "Road",
    "vol": "volume",
    "vols": "volumes",
    "ch": "chapter",
    "chap": "chapter",
    "fig": "figure",
    "est": "established",
}
# Months only beside a day or year ("Jan. 5", "5 Dec. 1990"): alone, "Jan." may well be a name.
MONTHS = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "sept": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
# Meaningful only before a number ("No. 5", "p. 12", "c. 1500").
BEFORE_NUMBER = {"no": "number", "nos": "numbers", "p": "page", "pp": "pages", "c": "circa", "ca": "circa"}
# Written without a full stop (British style) but still abbreviations; case-sensitive.
UNDOTTED = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "vs": "versus"}
# Every abbreviation written with a full stop (case-folded, without the stop); "st" and "ft" are said by context.
ABBREVIATIONS = frozenset((*DOTTED, *MONTHS, *BEFORE_NUMBER, "st", "ft"))
