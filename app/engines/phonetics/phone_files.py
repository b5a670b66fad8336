"""Phone timings from files written by other aligners (or by hand), and writers for our own TSV and JSON.

Readers: TSV (start, end, phone in seconds per line), JSON ({"phones": [...], "words": [...]}), Praat
TextGrid (long and short text formats, UTF-8 or UTF-16), HTS/ARCTIC .lab (start end label in 100 ns units or
seconds; festival's "end colour label" xlabel files too). Labels are mapped to ARPAbet by segments.to_arpabet.
Every problem is a PhoneFileError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from .segments import SILENCE, Alignment, PhoneFileError, PhoneSegment, WordSegment, to_arpabet

_PHONE_TIER_NAMES = ("phones", "phone", "segments", "segment", "phonemes", "phoneme")
_WORD_TIER_NAMES = ("words", "word")
_HTK_UNITS_PER_S = 10_000_000  # HTK/HTS labels count in 100 ns units
_TIME_TOLERANCE = 0.0015  # overlap allowed between neighbours (rounding in files written to the millisecond)


def read_phone_file(path: str | os.PathLike[str]) -> Alignment:
    """Read phone (and word) timings; the format follows the extension (.tsv/.txt, .json, .textgrid, .lab)."""
    path = Path(path)
    readers = {".json": parse_json, ".textgrid": parse_textgrid, ".lab": parse_lab, ".htk": parse_lab}
    readers.update(dict.fromkeys((".tsv", ".txt", ".csv", ".phn", ""), parse_tsv))
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise PhoneFileError(
            f"Unknown phone file type '{path.suffix}' for {path}: use .tsv, .json, .TextGrid or .lab."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PhoneFileError(f"Cannot read phone file {path}: {exc.strerror or exc}") from exc
    return reader(_decode(data, path), str(path))


def write_phone_file(alignment: Alignment, path: str | os.PathLike[str]) -> None:
    """Write .tsv (phones only) or .json (phones, words, confidences), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = format_json(alignment)
    elif suffix in (".tsv", ".txt"):
        text = format_tsv(alignment)
    else:
        raise PhoneFileError(f"Cannot write phone timings as '{path.suffix}': use .tsv or .json.")
    _atomic_write_text(path, text)


def format_tsv(alignment: Alignment) -> str:
    lines = ["# start\tend\tphone\tconfidence"]
    for p in alignment.phones:
        lines.append(f"{p.start:.4f}\t{p.end:.4f}\t{p.phone}\t{p.confidence:.3f}")
    return "\n".join(lines) + "\n"


def format_json(alignment: Alignment) -> str:
    doc = {
        "source": alignment.source,
        "phones": [
            {"phone": p.phone, "start": round(p.start, 4), "end": round(p.end, 4),
             "confidence": round(p.confidence, 3), "word_index": p.word_index}
            for p in alignment.phones
        ],
        "words": [
            {"word": w.word, "start": round(w.start, 4), "end": round(w.end, 4),
             "confidence": round(w.confidence, 3)}
            for w in alignment.words
        ],
    }  # fmt: skip
    return json.dumps(doc, indent=1) + "\n"


# -- readers -------------------------------------------------------------------------------------------------


def parse_tsv(text: str, name: str = "<text>") -> Alignment:
    phones = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split("\t") if "\t" in stripped else stripped.replace(",", " ").split()
        fields = [f.strip() for f in fields]
        if lineno == 1 and not _is_number(fields[0]):
            continue  # a header line such as "start end phone"
        if len(fields) not in (3, 4):
            raise PhoneFileError(
                f"{name}, line {lineno}: expected 'start end phone', got {len(fields)} fields."
            )
        start, end = _number(fields[0], name, lineno), _number(fields[1], name, lineno)
        confidence = _number(fields[3], name, lineno) if len(fields) == 4 else 1.0
        phones.append(_phone(fields[2], start, end, name, lineno, confidence))
    return _finish(phones, [], name)


def parse_json(text: str, name: str = "<text>") -> Alignment:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PhoneFileError(f"{name}, line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
    if isinstance(doc, list):
        doc = {"phones": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("phones"), list):
        raise PhoneFileError(f'{name}: expected an object with a list under "phones".')
    phones = []
    for i, item in enumerate(doc["phones"]):
        where = f"phones[{i}]"
        if not isinstance(item, dict):
            raise PhoneFileError(f"{name}, {where}: expected an object with phone, start and end.")
        label = item.get("phone", item.get("label"))
        if not isinstance(label, str):
            raise PhoneFileError(f'{name}, {where}: missing "phone" text.')
        start = _json_number(item, "start", name, where)
        end = _json_number(item, "end", name, where)
        confidence = _json_number(item, "confidence", name, where) if "confidence" in item else 1.0
        phones.append(_phone(label, start, end, name, None, confidence, where))
    words = []
    for i, item in enumerate(doc.get("words") or []):
        where = f"words[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("word"), str):
            raise PhoneFileError(f"{name}, {where}: expected an object with word, start and end.")
        start = _json_number(item, "start", name, where)
        end = _json_number(item, "end", name, where)
        confidence = _json_number(item, "confidence", name, where) if "confidence" in item else 1.0
        if end < start:
            raise PhoneFileError(f"{name}, {where}: end {end} is before start {start}.")
        words.append(WordSegment(item["word"], start, end, min(max(confidence, 0.0), 1.0)))
    return _finish(phones, words, name)


def parse_lab(text: str, name: str = "<text>") -> Alignment:
    rows = []
    lines = text.splitlines()
    if any(line.strip() == "#" for line in lines):  # festival xlabel: header, "#", then "end colour label"
        previous_end = 0.0
        body = lines.index(next(line for line in lines if line.strip() == "#")) + 1
        for lineno, line in enumerate(lines[body:], body + 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 3:
                raise PhoneFileError(f"{name}, line {lineno}: expected 'end colour label'.")
            end = _number(fields[0], name, lineno)
            rows.append((lineno, previous_end, end, fields[2]))
            previous_end = end
        phones = [_phone(lab, s, e, name, n) for n, s, e, lab in rows]
        return _finish(phones, [], name)
    raw = []
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise PhoneFileError(f"{name}, line {lineno}: expected 'start end label'.")
        raw.append((lineno, fields[0], fields[1], fields[2]))
    # Integers only and large values: HTK 100 ns units. Anything with a decimal point: seconds.
    integer_times = all(re.fullmatch(r"\d+", s) and re.fullmatch(r"\d+", e) for _n, s, e, _l in raw)
    scale = 1.0
    if integer_times and raw and max(int(e) for _n, _s, e, _l in raw) > 1000:
        scale = 1.0 / _HTK_UNITS_PER_S
    phones = []
    for lineno, s, e, label in raw:
        start, end = _number(s, name, lineno) * scale, _number(e, name, lineno) * scale
        phones.append(_phone(_hts_centre(label), start, end, name, lineno))
    return _finish(phones, [], name)


def _hts_centre(label: str) -> str:
    """The current phone of an HTS full-context label (p1^p2-p3+p4=p5@...); plain labels pass through."""
    match = re.match(r"^[^-]*\^[^-]*-([^+]+)\+", label)
    return match.group(1) if match else label


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(<exists>|<absent>)')


def parse_textgrid(text: str, name: str = "<text>") -> Alignment:
    tokens = []  # (value, line); strings stay str, numbers become float
    for lineno, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"\[\s*\d*\s*\]", "", line)  # "item [1]:" and "intervals [3]:" carry no data
        for m in _TOKEN.finditer(line):
            if m.group(1) is not None:
                tokens.append((m.group(1).replace('""', '"'), lineno))
            elif m.group(2) is not None:
                tokens.append((float(m.group(2)), lineno))
            else:
                tokens.append((m.group(3), lineno))
    pos = 0

    def take(kind: type, what: str):
        nonlocal pos
        if pos >= len(tokens):
            last = tokens[-1][1] if tokens else 1
            raise PhoneFileError(f"{name}, line {last}: the TextGrid ends early (expected {what}).")
        value, lineno = tokens[pos]
        if not isinstance(value, kind):
            raise PhoneFileError(f"{name}, line {lineno}: expected {what}, found {value!r}.")
        pos += 1
        return value, lineno

    if len(tokens) < 2 or tokens[0][0] != "ooTextFile" or tokens[1][0] != "TextGrid":
        raise PhoneFileError(
            f"{name}, line 1: not a Praat TextGrid text file (no 'ooTextFile' 'TextGrid' header)."
        )
    pos = 2
    take(float, "xmin")
    take(float, "xmax")
    flag, lineno = take(str, "<exists>")
    if flag != "<exists>":
        return _finish([], [], name)
    n_tiers, _ = take(float, "the number of tiers")
    tiers = []
    for _ in range(int(n_tiers)):
        tier_class, _ = take(str, "a tier class")
        tier_name, _ = take(str, "a tier name")
        take(float, "tier xmin")
        take(float, "tier xmax")
        count, _ = take(float, "the number of intervals")
        items = []
        for _ in range(int(count)):
            if tier_class == "IntervalTier":
                start, line_s = take(float, "interval xmin")
                end, _ = take(float, "interval xmax")
                label, _ = take(str, "interval text")
                items.append((line_s, start, end, label))
            else:  # TextTier: points, kept only so that the tiers after it parse
                take(float, "point time")
                take(str, "point mark")
        tiers.append((tier_class, tier_name, items))
    interval_tiers = [t for t in tiers if t[0] == "IntervalTier"]
    phone_tier = _pick_tier(interval_tiers, _PHONE_TIER_NAMES, phones=True)
    if phone_tier is None:
        raise PhoneFileError(f"{name}: no interval tier of phones (name it 'phones', or use phone symbols).")
    phones = [_phone(label, s, e, name, n) for n, s, e, label in phone_tier[2]]
    word_tier = _pick_tier([t for t in interval_tiers if t is not phone_tier], _WORD_TIER_NAMES, phones=False)
    words = []
    if word_tier is not None:
        for _n, s, e, label in word_tier[2]:
            if label.strip() and to_arpabet(label) != SILENCE:
                words.append(WordSegment(label.strip(), s, e, 1.0))
    return _finish(phones, words, name)


def _pick_tier(tiers, names, phones: bool):
    for tier in tiers:
        if tier[1].strip().lower() in names:
            return tier
    if not phones:
        return tiers[0] if tiers else None
    # Otherwise the tier whose labels are (nearly) all phone symbols, shortest intervals first.
    best = None
    for tier in tiers:
        labels = [lab for _n, _s, _e, lab in tier[2] if lab.strip()]
        if not labels:
            continue
        known = sum(to_arpabet(lab) is not None for lab in labels) / len(labels)
        mean_dur = sum(e - s for _n, s, e, _l in tier[2]) / len(tier[2])
        if known >= 0.9 and (best is None or mean_dur < best[0]):
            best = (mean_dur, tier)
    return best[1] if best else None


# -- helpers -------------------------------------------------------------------------------------------------


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PhoneFileError(f"{path}, line {line}: not UTF-8 or UTF-16 text.") from exc


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, name: str, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PhoneFileError(f"{name}, line {lineno}: '{text}' is not a number.") from None
    if not math.isfinite(value):
        raise PhoneFileError(f"{name}, line {lineno}: '{text}' is not a finite number.")
    return value


def _json_number(item: dict, key: str, name: str, where: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PhoneFileError(f'{name}, {where}: "{key}" must be a number, got {value!r}.')
    return float(value)


def _phone(label, start, end, name, lineno, confidence=1.0, where=None) -> tuple[PhoneSegment, str]:
    place = f"{name}, line {lineno}" if lineno is not None else f"{name}, {where}"
    phone = to_arpabet(label)
    if phone is None:
        raise PhoneFileError(f"{place}: unknown phone symbol '{label}'.")
    if start < 0 or end < start:
        raise PhoneFileError(f"{place}: invalid times {start}..{end} (need 0 <= start <= end).")
    return PhoneSegment(phone, start, end, min(max(confidence, 0.0), 1.0), None), place


def _finish(phones: list[tuple[PhoneSegment, str]], words: list[WordSegment], name: str) -> Alignment:
    """Check order, drop empty intervals, merge silences, and link phones to the words containing them."""
    out: list[PhoneSegment] = []
    for p, place in phones:
        if out and p.start < out[-1].end - _TIME_TOLERANCE:
            raise PhoneFileError(
                f"{place}: phone '{p.phone}' at {p.start:.3f} s starts before the previous one ends "
                f"({out[-1].end:.3f} s); phones must be in time order without overlap."
            )
        if p.end - p.start <= 0:
            continue
        if out and p.phone == SILENCE and out[-1].phone == SILENCE:
            prev = out.pop()
            p = PhoneSegment(SILENCE, prev.start, p.end, min(prev.confidence, p.confidence), None)
        out.append(p)
    if not out:
        raise PhoneFileError(f"{name}: no phones found.")
    linked = []
    for p in out:
        index = None
        if p.phone != SILENCE:
            middle = 0.5 * (p.start + p.end)
            index = next((i for i, w in enumerate(words) if w.start <= middle <= w.end), None)
        linked.append(PhoneSegment(p.phone, p.start, p.end, p.confidence, index))
    return Alignment(linked, list(words), "file")


def _atomic_write_text(path: Path, text: str) -> None:
    from app.core.atomic import atomic_write

    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(text)
