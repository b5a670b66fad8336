"""Letter-to-sound: a pronunciation (ARPAbet, no stress) for a word the dictionary does not know.

Own rules rather than espeak-ng: they need no native library (nothing to load or bundle with PyInstaller, no
GPL library linked into the application) and give the same answer everywhere. Forced alignment only needs a
plausible phone sequence; a wrong vowel costs a few milliseconds of boundary accuracy, not a failed alignment.

Order of attempts, each using the dictionary through ``lookup`` where it can:
1. the word itself; 2. possessive and inflection/derivation suffixes and common prefixes on a known stem;
3. a compound of two known words; 4. spelled-out letters for short vowel-less tokens ("tv", "mp");
5. grapheme rules, applied left to right, longest match first.
"""

from __future__ import annotations

from collections.abc import Callable

Lookup = Callable[[str], "list[str] | None"]

_VOWEL_LETTERS = set("aeiouy")
_VOICELESS = {"P", "T", "K", "F", "TH"}
_SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}

_LETTER_NAMES = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY", "h": "EY CH",
    "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N", "o": "OW", "p": "P IY",
    "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW", "v": "V IY", "w": "D AH B AH L Y UW",
    "x": "EH K S", "y": "W AY", "z": "Z IY",
}  # fmt: skip

# Suffix -> (phones, how to find the stem). Stems are tried as written, with a restored silent "e"
# ("making" -> "make") and with an undoubled final consonant ("running" -> "run").
_SUFFIXES = (
    ("ing", "IH NG"), ("ed", None), ("ers", "ER Z"), ("er", "ER"), ("est", "AH S T"), ("ly", "L IY"),
    ("ness", "N AH S"), ("less", "L AH S"), ("ful", "F AH L"), ("ment", "M AH N T"), ("ments", "M AH N T S"),
    ("able", "AH B AH L"), ("ism", "IH Z AH M"), ("ist", "IH S T"), ("ists", "IH S T S"), ("ish", "IH SH"),
    ("ize", "AY Z"), ("ized", "AY Z D"), ("izing", "AY Z IH NG"), ("ization", "AH Z EY SH AH N"),
    ("y", "IY"), ("ies", "IY Z"), ("es", None), ("s", None),
)  # fmt: skip
_PREFIXES = (
    ("un", "AH N"), ("re", "R IY"), ("non", "N AA N"), ("pre", "P R IY"), ("dis", "D IH S"),
    ("mis", "M IH S"),
    ("over", "OW V ER"), ("under", "AH N D ER"), ("out", "AW T"), ("sub", "S AH B"), ("super", "S UW P ER"),
    ("anti", "AE N T IY"), ("co", "K OW"), ("inter", "IH N T ER"), ("multi", "M AH L T IY"), ("de", "D IY"),
)  # fmt: skip


def pronounce(word: str, lookup: Lookup) -> list[str]:
    """Phones for ``word`` (lower case letters and apostrophes). Never empty for a word with a letter."""
    word = word.lower().strip("'")
    known = lookup(word)
    if known:
        return known
    for attempt in (_possessive, _suffixed, _prefixed, _compound):
        phones = attempt(word, lookup)
        if phones:
            return phones
    letters = word.replace("'", "")
    if 0 < len(letters) <= 4 and not (_VOWEL_LETTERS & set(letters)):
        return [p for ch in letters for p in _LETTER_NAMES[ch].split()]
    return rule_phones(letters)


def _plural_ending(phones: list[str]) -> list[str]:
    if phones[-1] in _SIBILANTS:
        return ["IH", "Z"]
    return ["S"] if phones[-1] in _VOICELESS else ["Z"]


def _past_ending(phones: list[str]) -> list[str]:
    if phones[-1] in ("T", "D"):
        return ["IH", "D"]
    return ["T"] if phones[-1] in _VOICELESS | {"S", "SH", "CH"} else ["D"]


def _stems(stem: str) -> list[str]:
    out = [stem, stem + "e"]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWEL_LETTERS:
        out.append(stem[:-1])
    if stem.endswith("i"):
        out.append(stem[:-1] + "y")
    return out


def _possessive(word: str, lookup: Lookup) -> list[str] | None:
    if word.endswith("'s") or word.endswith("s'"):
        base = word[:-2]
        phones = pronounce(base, lookup) if base else None
        if phones:
            return phones + _plural_ending(phones)
    return None


def _suffixed(word: str, lookup: Lookup) -> list[str] | None:
    for suffix, ending in _SUFFIXES:
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        for stem in _stems(word[: -len(suffix)]):
            phones = lookup(stem)
            if not phones:
                continue
            if ending is not None:
                return phones + ending.split()
            return phones + (_past_ending(phones) if suffix == "ed" else _plural_ending(phones))
    return None


def _prefixed(word: str, lookup: Lookup) -> list[str] | None:
    for prefix, phones in _PREFIXES:
        rest = word[len(prefix) :]
        if word.startswith(prefix) and len(rest) >= 3:
            known = lookup(rest) or _suffixed(rest, lookup)
            if known:
                return phones.split() + known
    return None


def _compound(word: str, lookup: Lookup) -> list[str] | None:
    # Prefer the most balanced split: "lipsync" -> lip + sync rather than a one-letter piece.
    best: tuple[int, list[str]] | None = None
    for cut in range(3, len(word) - 2):
        head, tail = lookup(word[:cut]), lookup(word[cut:]) or _suffixed(word[cut:], lookup)
        if head and tail:
            balance = min(cut, len(word) - cut)
            if best is None or balance > best[0]:
                best = (balance, head + tail)
    return best[1] if best else None


# Grapheme rules: (letters, phones, condition). Conditions look at the text around the match:
# "initial", "final", "before_front" (next letter e/i/y), "after_vowel", "between_vowels".
_RULES: dict[str, list[tuple[str, str, str]]] = {}


def _rule(letters: str, phones: str, condition: str = "") -> None:
    _RULES.setdefault(letters[0], []).append((letters, phones, condition))


for _letters, _phones, _cond in (
    ("tion", "SH AH N", ""), ("sion", "ZH AH N", "after_vowel"), ("sion", "SH AH N", ""),
    ("ture", "CH ER", ""), ("ous", "AH S", "final"), ("tch", "CH", ""), ("sch", "S K", ""),
    ("igh", "AY", ""), ("ough", "AO", ""), ("augh", "AO", ""), ("eigh", "EY", ""), ("cious", "SH AH S", ""),
    ("ch", "CH", ""), ("sh", "SH", ""), ("th", "TH", ""), ("ph", "F", ""), ("wh", "W", ""), ("ck", "K", ""),
    ("ng", "NG", ""), ("nk", "NG K", ""), ("gh", "", "after_vowel"), ("gh", "G", ""), ("qu", "K W", ""),
    ("kn", "N", "initial"),
    ("wr", "R", "initial"), ("gn", "N", "final"), ("mb", "M", "final"), ("dg", "JH", ""),
    ("ee", "IY", ""), ("ea", "IY", ""), ("oo", "UW", ""), ("ou", "AW", ""), ("ow", "OW", "final"),
    ("ow", "AW", ""), ("oi", "OY", ""), ("oy", "OY", ""), ("ai", "EY", ""), ("ay", "EY", ""),
    ("au", "AO", ""),
    ("aw", "AO", ""), ("ie", "AY", "final"), ("ie", "IY", ""), ("ey", "IY", "final"), ("ei", "EY", ""),
    ("ey", "EY", ""), ("oa", "OW", ""), ("ue", "UW", ""), ("ew", "UW", ""), ("ui", "UW", ""),
    ("ar", "AA R", ""), ("er", "ER", ""), ("ir", "ER", ""), ("ur", "ER", ""), ("or", "AO R", ""),
    ("le", "AH L", "final"), ("c", "S", "before_front"), ("c", "K", ""), ("g", "JH", "before_front"),
    ("g", "G", ""), ("s", "Z", "between_vowels"), ("x", "Z", "initial"), ("x", "K S", ""),
    ("y", "Y", "initial"),
    ("y", "IY", "final"), ("y", "IH", ""), ("j", "JH", ""), ("q", "K", ""),
    ("o", "OW", "final"), ("a", "AE", ""), ("e", "EH", ""), ("i", "IH", ""), ("o", "AA", ""), ("u", "AH", ""),
):  # fmt: skip
    _rule(_letters, _phones, _cond)
_LONG_VOWELS = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW"}
_SIMPLE = {c: c.upper() for c in "bdfklmnprstvwz"} | {"h": "HH"}


def _condition_holds(condition: str, word: str, start: int, end: int) -> bool:
    before = word[start - 1] if start > 0 else ""
    after = word[end] if end < len(word) else ""
    if condition == "initial":
        return start == 0
    if condition == "final":
        return end == len(word)
    if condition == "before_front":
        return after in ("e", "i", "y")
    if condition == "after_vowel":
        return before in _VOWEL_LETTERS
    if condition == "between_vowels":
        return before in _VOWEL_LETTERS and after in _VOWEL_LETTERS
    return True


def rule_phones(word: str) -> list[str]:
    """Pronounce by grapheme rules alone (the last resort of :func:`pronounce`)."""
    word = "".join(c for c in word.lower() if c.isalpha())
    # A final "e" is silent when the word has another vowel; it lengthens the vowel before a single consonant.
    silent_e = (
        len(word) > 2
        and word.endswith("e")
        and not word.endswith("le")
        and bool(_VOWEL_LETTERS & set(word[:-1]))
    )
    body = word[:-1] if silent_e else word
    phones: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if i > 0 and ch == body[i - 1] and ch not in _VOWEL_LETTERS:
            i += 1  # double consonants are one sound
            continue
        if silent_e and ch in _LONG_VOWELS and i == len(body) - 2 and body[-1] not in _VOWEL_LETTERS:
            phones.append(_LONG_VOWELS[ch])
            i += 1
            continue
        for letters, out, condition in _RULES.get(ch, ()):
            end = i + len(letters)
            if body.startswith(letters, i) and _condition_holds(condition, word, i, end):
                phones.extend(out.split())
                i = end
                break
        else:
            if ch in _SIMPLE:
                phones.append(_SIMPLE[ch])
            i += 1
    return phones or ["AH"]
