"""Transcript normalisation: the words a speaker actually says, in the dictionary's spelling (lower case).

PocketSphinx aligns whitespace-separated dictionary words and does no text processing itself, so digits,
symbols and punctuation have to become words (or disappear) here.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}  # fmt: skip
_SYMBOL_WORDS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number "}
_CURRENCY_WORDS = {"$": "dollars", "£": "pounds", "€": "euros"}


def number_to_words(n: int) -> list[str]:
    """Cardinal number in words: 1205 -> one thousand two hundred five."""
    if n < 0:
        return ["minus", *number_to_words(-n)]
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_ONES[hundreds], "hundred"] + (number_to_words(rest) if rest else [])
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return number_to_words(high) + [name] + (number_to_words(rest) if rest else [])
    raise AssertionError("unreachable")


def year_to_words(n: int) -> list[str]:
    """Years 1100-1999 are read in pairs ("nineteen oh five", "nineteen ninety nine")."""
    high, low = divmod(n, 100)
    if low == 0:
        return number_to_words(high) + ["hundred"]
    if low < 10:
        return number_to_words(high) + ["oh", _ONES[low]]
    return number_to_words(high) + number_to_words(low)


def ordinal_to_words(n: int) -> list[str]:
    words = number_to_words(n)
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


_NUMBER_RE = re.compile(
    r"([$£€]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th|s)?(?![\w])", re.IGNORECASE
)


def _expand_number(match: re.Match[str]) -> str:
    currency, integer, decimals, suffix = match.groups()
    digits = integer.replace(",", "")
    value = int(digits)
    suffix = (suffix or "").lower()
    if suffix in ("st", "nd", "rd", "th") and not decimals:
        words = ordinal_to_words(value)
    elif 1100 <= value <= 1999 and not decimals and "," not in integer and not currency:
        words = year_to_words(value)
        if suffix == "s":  # "1990s"
            words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
    else:
        words = number_to_words(value)
        if decimals:
            words += ["point"] + [_ONES[int(d)] for d in decimals]
        if suffix == "s":
            words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
    if currency:
        words.append(_CURRENCY_WORDS[currency])
    return " " + " ".join(words) + " "


def normalise_transcript(text: str) -> list[str]:
    """Split a transcript into lower-case words: numbers spelled out, punctuation and [notes] removed."""
    # Decompose accented letters and drop the accents: "café" is aligned as "cafe".
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = re.sub(r"\[[^\]]*\]", " ", text)  # bracketed notes such as "[ascending tones]" are not speech
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z]{3,})", " ", text)  # "mp3" -> "mp 3"
    text = _NUMBER_RE.sub(_expand_number, text)
    for symbol, words in _SYMBOL_WORDS.items():
        text = text.replace(symbol, words)
    text = text.lower()
    # Keep letters and apostrophes inside words ("don't", "party's"); everything else separates words.
    text = re.sub(r"[^a-z']+", " ", text)
    words = []
    for token in text.split():
        token = token.strip("'")
        if token:
            words.append(token)
    return words
