"""External phone timing files: readers, writers, symbol mapping and error messages."""

import json

import pytest

from app.engines.phonetics import (
    Alignment,
    PhoneFileError,
    PhoneSegment,
    WordSegment,
    read_phone_file,
    write_phone_file,
)
from app.engines.phonetics.phone_files import parse_lab, parse_textgrid, parse_tsv


def _sample_alignment() -> Alignment:
    words = [WordSegment("hello", 0.25, 0.61, 0.8), WordSegment("world", 0.7, 1.1, 0.6)]
    phones = [
        PhoneSegment("SIL", 0.0, 0.25, 1.0, None),
        PhoneSegment("HH", 0.25, 0.31, 0.9, 0), PhoneSegment("AH", 0.31, 0.4, 0.7, 0),
        PhoneSegment("L", 0.4, 0.48, 0.8, 0), PhoneSegment("OW", 0.48, 0.61, 0.85, 0),
        PhoneSegment("SIL", 0.61, 0.7, 1.0, None),
        PhoneSegment("W", 0.7, 0.78, 0.5, 1), PhoneSegment("ER", 0.78, 0.92, 0.6, 1),
        PhoneSegment("L", 0.92, 1.0, 0.6, 1), PhoneSegment("D", 1.0, 1.1, 0.7, 1),
        PhoneSegment("SIL", 1.1, 1.5, 1.0, None),
    ]  # fmt: skip
    return Alignment(phones, words, "forced")


def test_json_round_trip_keeps_phones_words_and_confidence(tmp_path):
    original = _sample_alignment()
    path = tmp_path / "take.json"
    write_phone_file(original, path)
    loaded = read_phone_file(path)
    assert loaded.source == "file"
    assert loaded.phones == original.phones
    assert loaded.words == original.words
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temp file behind


def test_tsv_round_trip_keeps_phones(tmp_path):
    original = _sample_alignment()
    path = tmp_path / "take.tsv"
    write_phone_file(original, path)
    loaded = read_phone_file(path)
    assert [(p.phone, p.start, p.end, p.confidence) for p in loaded.phones] == [
        (p.phone, p.start, p.end, p.confidence) for p in original.phones
    ]
    assert loaded.words == []


def test_tsv_accepts_header_spaces_and_other_symbols():
    text = "start end phone\n0.0 0.2 sil\n0.2 0.3 HH\n0.3 0.45 ah0\n0.45 0.5 sp\n0.5 0.62 ʃ\n"
    alignment = parse_tsv(text)
    assert [p.phone for p in alignment.phones] == ["SIL", "HH", "AH", "SIL", "SH"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("0.0\t0.2\tSIL\n0.2\t0.3\tHH\n0.3\tx\tAH\n", 3, "not a number"),
        ("0.0\t0.2\tSIL\n0.2\t0.3\n", 2, "expected 'start end phone'"),
        ("0.0\t0.2\tSIL\n0.2\t0.3\tQX\n", 2, "unknown phone symbol 'QX'"),
        ("0.0\t0.2\tSIL\n0.3\t0.25\tAH\n", 2, "invalid times"),
        ("0.0\t0.4\tSIL\n0.2\t0.5\tAH\n", 2, "starts before the previous one ends"),
    ],
)
def test_tsv_errors_name_the_line(tmp_path, text, line, fragment):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(PhoneFileError) as info:
        read_phone_file(path)
    assert f"line {line}" in str(info.value)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_json_errors_are_specific(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"phones": [\n {"phone": "AA", "start": 0, "end": 0.1},\n {"phone": "AA", "start": }]}')
    with pytest.raises(PhoneFileError, match="line 3"):
        read_phone_file(path)
    path.write_text(json.dumps({"phones": [{"phone": "AA", "start": "0", "end": 0.1}]}))
    with pytest.raises(PhoneFileError, match=r"phones\[0\].*\"start\" must be a number"):
        read_phone_file(path)
    path.write_text(json.dumps({"words": []}))
    with pytest.raises(PhoneFileError, match="phones"):
        read_phone_file(path)


LONG_TEXTGRID = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1.2
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 1.2
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.3
            text = ""
        intervals [2]:
            xmin = 0.3
            xmax = 0.9
            text = "thought"
        intervals [3]:
            xmin = 0.9
            xmax = 1.2
            text = ""
    item [2]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1.2
        intervals: size = 5
        intervals [1]:
            xmin = 0
            xmax = 0.3
            text = ""
        intervals [2]:
            xmin = 0.3
            xmax = 0.45
            text = "θ"
        intervals [3]:
            xmin = 0.45
            xmax = 0.75
            text = "ɔː"
        intervals [4]:
            xmin = 0.75
            xmax = 0.9
            text = "t"
        intervals [5]:
            xmin = 0.9
            xmax = 1.2
            text = "sil"
"""

SHORT_TEXTGRID = """File type = "ooTextFile"
Object class = "TextGrid"

0
1.0
<exists>
1
"IntervalTier"
"tier 1"
0
1.0
4
0
0.2
""
0.2
0.5
"M"
0.5
0.8
"AA1"
0.8
1.0
"sp"
"""


def test_textgrid_long_format_picks_phone_tier_and_words(tmp_path):
    path = tmp_path / "mfa.TextGrid"
    path.write_text(LONG_TEXTGRID, encoding="utf-8")
    alignment = read_phone_file(path)
    assert [p.phone for p in alignment.phones] == ["SIL", "TH", "AO", "T", "SIL"]
    assert alignment.words == [WordSegment("thought", 0.3, 0.9, 1.0)]
    assert [p.word_index for p in alignment.phones] == [None, 0, 0, 0, None]


def test_textgrid_utf16_as_praat_writes_it(tmp_path):
    path = tmp_path / "praat.TextGrid"
    path.write_bytes(LONG_TEXTGRID.encode("utf-16"))
    assert [p.phone for p in read_phone_file(path).phones] == ["SIL", "TH", "AO", "T", "SIL"]


def test_textgrid_short_format_finds_the_tier_of_phone_labels():
    alignment = parse_textgrid(SHORT_TEXTGRID, "short.TextGrid")
    assert [(p.phone, p.start, p.end) for p in alignment.phones] == [
        ("SIL", 0.0, 0.2), ("M", 0.2, 0.5), ("AA", 0.5, 0.8), ("SIL", 0.8, 1.0),
    ]  # fmt: skip


def test_textgrid_errors():
    truncated = "\n".join(SHORT_TEXTGRID.splitlines()[:16])
    with pytest.raises(PhoneFileError, match="ends early"):
        parse_textgrid(truncated, "t.TextGrid")
    with pytest.raises(PhoneFileError, match="not a Praat TextGrid"):
        parse_textgrid("hello", "t.TextGrid")
    words_only = SHORT_TEXTGRID.replace('"M"', '"mama"').replace('"AA1"', '"papa"').replace('"sp"', '"dada"')
    with pytest.raises(PhoneFileError, match="no interval tier of phones"):
        parse_textgrid(words_only, "t.TextGrid")
    bad_number = SHORT_TEXTGRID.replace("0.5\n0.8", '"x"\n0.8', 1)
    with pytest.raises(PhoneFileError, match="line 19: expected interval xmin"):
        parse_textgrid(bad_number, "t.TextGrid")


def test_lab_htk_units_seconds_and_full_context():
    htk = "0 2500000 pau\n2500000 3100000 hh\n3100000 4800000 ah\n"
    assert [(p.phone, p.start, p.end) for p in parse_lab(htk).phones] == [
        ("SIL", 0.0, 0.25), ("HH", 0.25, 0.31), ("AH", 0.31, 0.48),
    ]  # fmt: skip
    seconds = "0.0 0.25 sil\n0.25 0.31 HH\n"
    assert [p.phone for p in parse_lab(seconds).phones] == ["SIL", "HH"]
    full = "0 2500000 x^x-pau+hh=ah@x_x/A:0\n2500000 3100000 x^pau-hh+ah=l@1_2/A:0\n"
    assert [p.phone for p in parse_lab(full).phones] == ["SIL", "HH"]


def test_lab_festival_xlabel():
    xlabel = "separator ;\nnfields 1\n#\n0.25 125 pau\n0.31 125 hh\n0.48 125 ax\n"
    assert [(p.phone, p.start, p.end) for p in parse_lab(xlabel).phones] == [
        ("SIL", 0.0, 0.25), ("HH", 0.25, 0.31), ("AH", 0.31, 0.48),
    ]  # fmt: skip


def test_lab_error_names_line():
    with pytest.raises(PhoneFileError, match="line 2: expected 'start end label'"):
        parse_lab("0 100 pau\n100\n")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(PhoneFileError, match="Unknown phone file type"):
        read_phone_file(tmp_path / "x.doc")
    with pytest.raises(PhoneFileError, match="Cannot write"):
        write_phone_file(_sample_alignment(), tmp_path / "x.TextGrid")
    missing = tmp_path / "missing.tsv"
    with pytest.raises(PhoneFileError, match="Cannot read"):
        read_phone_file(missing)
