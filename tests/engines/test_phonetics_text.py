"""Phone symbols, transcript normalisation and letter-to-sound rules (no decoder needed)."""

import pytest

from app.engines.phonetics.lts import pronounce, rule_phones
from app.engines.phonetics.segments import ARPABET_PHONES, SILENCE, to_arpabet
from app.engines.phonetics.text import normalise_transcript, number_to_words


def test_phone_set_is_39_arpabet_phones_plus_silence():
    assert len(ARPABET_PHONES) == 40
    assert len(set(ARPABET_PHONES)) == 40
    assert SILENCE in ARPABET_PHONES


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("AA1", "AA"), ("ah0", "AH"), ("p", "P"), ("sil", SILENCE), ("sp", SILENCE), ("pau", SILENCE),
        ("", SILENCE), ("<sil>", SILENCE), ("spn", SILENCE), ("ax", "AH"), ("dx", "D"), ("hh", "HH"),
        # IPA as written by MFA English models
        ("ɑː", "AA"), ("æ", "AE"), ("ə", "AH"), ("ɚ", "ER"), ("aj", "AY"), ("ow", "OW"), ("ej", "EY"),
        ("ʃ", "SH"), ("tʃ", "CH"), ("dʒ", "JH"), ("θ", "TH"), ("ð", "DH"), ("ŋ", "NG"), ("ɹ", "R"),
        ("ɾ", "D"), ("ʔ", "T"), ("ɫ", "L"), ("j", "Y"), ("ˈaɪ", "AY"), ("iː", "IY"), ("tʰ", "T"),
        # SAMPA symbols that do not collide with ARPAbet
        ("{", "AE"), ("@", "AH"), ("tS", "CH"), ("dZ", "JH"), ("i:", "IY"), ("aI", "AY"), ("@U", "OW"),
        # upper-case ARPAbet wins where SAMPA would disagree
        ("D", "D"), ("T", "T"), ("S", "S"), ("Z", "Z"), ("N", "N"), ("V", "V"),
    ],
)  # fmt: skip
def test_to_arpabet_maps_common_symbols(label, expected):
    assert to_arpabet(label) == expected


def test_to_arpabet_rejects_unknown():
    assert to_arpabet("xyz") is None
    assert to_arpabet("QQ") is None


def test_normalise_transcript_numbers_punctuation_and_case():
    assert normalise_transcript("Press 1, 2 or 3!") == ["press", "one", "two", "or", "three"]
    assert normalise_transcript("The 21st of May, 1995.") == [
        "the", "twenty", "first", "of", "may", "nineteen", "ninety", "five",
    ]  # fmt: skip
    assert normalise_transcript("12,000 people & 50% more") == [
        "twelve", "thousand", "people", "and", "fifty", "percent", "more",
    ]  # fmt: skip
    assert normalise_transcript("Waldo\u2019s Call-Forward [beep] café") == [
        "waldo's", "call", "forward", "cafe",
    ]  # fmt: skip
    assert normalise_transcript("...") == []


def test_number_words():
    assert number_to_words(0) == ["zero"]
    assert number_to_words(115) == ["one", "hundred", "fifteen"]
    assert number_to_words(2_000_040) == ["two", "million", "forty"]


def _toy_lookup():
    words = {
        "pass": "P AE S", "word": "W ER D", "make": "M EY K", "run": "R AH N", "lip": "L IH P",
        "sync": "S IH NG K", "waldo": "W AA L D OW", "kiss": "K IH S", "walk": "W AO K",
    }  # fmt: skip
    return lambda w: words[w].split() if w in words else None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("waldo's", "W AA L D OW Z"), ("kisses", "K IH S IH Z"), ("walked", "W AO K T"),
        ("making", "M EY K IH NG"), ("running", "R AH N IH NG"), ("lipsync", "L IH P S IH NG K"),
        ("password", "P AE S W ER D"), ("unmake", "AH N M EY K"),
    ],
)  # fmt: skip
def test_pronounce_uses_dictionary_pieces(word, expected):
    assert " ".join(pronounce(word, _toy_lookup())) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("bake", "B EY K"), ("ship", "SH IH P"), ("night", "N AY T"), ("city", "S IH T IY"),
     ("passwerd", "P AE S W ER D"), ("zorblax", "Z AO R B L AE K S")],
)  # fmt: skip
def test_rule_phones(word, expected):
    assert " ".join(rule_phones(word)) == expected


def test_lts_output_is_always_valid_arpabet():
    lookup = _toy_lookup()
    for word in ["xylophonic", "qwerty", "hmm", "tv", "aeiou", "schtroumpf", "ghoti", "y", "zzz", "rhythm"]:
        phones = pronounce(word, lookup)
        assert phones
        assert all(p in ARPABET_PHONES and p != SILENCE for p in phones), (word, phones)
