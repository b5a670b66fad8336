"""The side files of ``generate``: phone timings (TSV, JSON, TextGrid, .lab), emotion keys (CSV, JSON) and transcript
files, damaged or hostile, give one clear error naming the file, or a take."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

PHONES = ("AA", "B", "IY", "M", "S", "sil", "T", "UW", "zz", "")
EMOTIONS = ("happy", "sad", "angry", "neutral", "HAPPY", "joy", "", "1")
NUMBERS = ("0", "0.5", "1", "-1", "nan", "inf", "-inf", "1e400", "1e300", "", "abc", "0x1", "9" * 50)


@pytest.fixture
def speech(tmp_path):
    t = np.arange(16000) / 16000.0
    x = 0.3 * np.sin(2 * np.pi * 160 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    path = tmp_path / "speech.wav"
    sf.write(path, x.astype(np.float32), 16000)
    return path


def seed_phone_files() -> dict[str, str]:
    rows = [(0.0, 0.2, "sil"), (0.2, 0.45, "HH"), (0.45, 0.7, "AH"), (0.7, 1.0, "sil")]
    tsv = "start\tend\tphone\n" + "".join(f"{a}\t{b}\t{p}\n" for a, b, p in rows)
    js = json.dumps({"phones": [{"phone": p, "start": a, "end": b} for a, b, p in rows],
                     "words": [{"word": "huh", "start": 0.2, "end": 0.7}]})
    lab = "".join(f"{int(a * 1e7)} {int(b * 1e7)} {p}\n" for a, b, p in rows)
    intervals = "".join(f'        intervals [{i + 1}]:\n            xmin = {a}\n            xmax = {b}\n'
                        f'            text = "{p}"\n' for i, (a, b, p) in enumerate(rows))
    textgrid = ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 1.0\ntiers? <exists>\n'
                'size = 1\nitem []:\n    item [1]:\n        class = "IntervalTier"\n        name = "phones"\n'
                f'        xmin = 0\n        xmax = 1.0\n        intervals: size = {len(rows)}\n{intervals}')
    return {".tsv": tsv, ".json": js, ".lab": lab, ".TextGrid": textgrid}


def seed_emotion_files() -> dict[str, str]:
    keys = [(0.0, "neutral", 0.0), (0.4, "happy", 0.8), (0.8, "sad", 0.5)]
    return {".csv": "time,emotion,intensity\n" + "".join(f"{t},{e},{i}\n" for t, e, i in keys),
            ".json": json.dumps({"keys": [{"time": t, "emotion": e, "intensity": i} for t, e, i in keys]})}


def text_damage(text: str, rng: np.random.Generator) -> str:
    """Replace a token by a bad number, a strange label or nothing; drop, double or cut a line."""
    lines = text.splitlines()
    i = int(rng.integers(len(lines)))
    kind = int(rng.integers(5))
    if kind == 0:
        tokens = lines[i].replace(",", " , ").replace("\t", " \t ").split(" ")
        j = int(rng.integers(len(tokens)))
        pool = NUMBERS + PHONES + EMOTIONS
        tokens[j] = pool[int(rng.integers(len(pool)))]
        lines[i] = " ".join(tokens).replace(" , ", ",").replace(" \t ", "\t")
    elif kind == 1:
        del lines[i]
    elif kind == 2:
        lines.insert(int(rng.integers(len(lines) + 1)), lines[i])
    elif kind == 3:
        lines[i] = lines[i][:int(rng.integers(len(lines[i]) + 1))]
    else:
        lines = lines[::-1]
    return "\n".join(lines) + "\n"


def json_damage(text: str, rng: np.random.Generator) -> str:
    doc = json.loads(text)
    key = "phones" if "phones" in doc else "keys"
    items = doc[key]
    item = items[int(rng.integers(len(items)))]
    field = list(item)[int(rng.integers(len(item)))]
    wrong = [None, True, -1, 1e308, "", "x", [], {}, [1], float("nan"), float("inf"), 2**70]
    item[field] = wrong[int(rng.integers(len(wrong)))]
    if rng.random() < 0.2:
        doc[key] = wrong[int(rng.integers(len(wrong)))]
    return json.dumps(doc)


def side_file_cases(rng: np.random.Generator, mutate, count: int) -> list[tuple[str, str, bytes]]:
    """(option, file name, bytes) cases: structured hostile files first, then random damage of valid seeds."""
    seeds = [("--phones", s, t) for s, t in seed_phone_files().items()]
    seeds += [("--emotion-keys", s, t) for s, t in seed_emotion_files().items()]
    cases = []
    for option, suffix, text in seeds:
        cases += [(option, f"empty{suffix}", b""), (option, f"binary{suffix}", bytes(range(256)) * 8),
                  (option, f"utf16{suffix}", text.encode("utf-16")), (option, f"valid{suffix}", text.encode())]
    cases += [("--phones", "deep.json", b"[" * 100_000 + b"]" * 100_000),
              ("--emotion-keys", "deep.json", b"[" * 100_000 + b"]" * 100_000),
              ("--phones", "huge-times.tsv", b"0\t1e300\tAA\n"),
              ("--phones", "backwards.tsv", b"0.5\t0.1\tAA\n"),
              ("--phones", "many.tsv", "".join(f"{i / 1000}\t{(i + 1) / 1000}\tAA\n" for i in range(20000)).encode()),
              ("--emotion-keys", "nan-time.csv", b"nan,happy,1\n"),
              ("--emotion-keys", "inf-time.csv", b"inf,happy,1\n"),
              ("--emotion-keys", "negative-time.csv", b"-5,happy,1\n"),
              ("--emotion-keys", "nan-time.json", b'[{"time": NaN, "emotion": "happy"}]'),
              ("--transcript", "empty.txt", b""), ("--transcript", "binary.txt", bytes(range(256))),
              ("--transcript", "utf16.txt", "hello there".encode("utf-16")),
              ("--transcript", "spaces.txt", b" \n\t \n"),
              ("--transcript", "huge.txt", b"word " * 50_000)]
    for i in range(count):
        option, suffix, text = seeds[i % len(seeds)]
        style = int(rng.integers(3))
        if style == 0 and suffix == ".json":
            data = json_damage(text, rng).encode()
        elif style == 0 or style == 1:
            data = text_damage(text, rng).encode()
        else:
            data = mutate(text.encode(), rng)
        cases.append((option, f"mutant-{i}{suffix}", data))
    return cases


def _run_side_cases(cases, speech, tmp_path, cli) -> None:
    for option, name, data in cases:
        path = tmp_path / name
        path.write_bytes(data)
        # A transcript that does not fit the speech is a problem of the pair, not of the file: no name is required.
        names = None if option == "--transcript" else path
        cli.run(["generate", speech, "-o", tmp_path / "out.json", "--quiet", option, path], names=names, limit_s=20)


def test_generate_side_files(tmp_path, cli, rng, mutate, speech):
    _run_side_cases(side_file_cases(rng, mutate, 100), speech, tmp_path, cli)


@pytest.mark.slow
def test_generate_side_files_long(tmp_path, cli, rng, mutate, speech):
    _run_side_cases(side_file_cases(rng, mutate, 500), speech, tmp_path, cli)
