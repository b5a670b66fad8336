"""Curve takes (.csv Live Link Face, .txt EmoFace, .json, .fbx) for ``info`` and ``export``: damaged, hostile and
wrongly typed files give one clear error naming the file, or open."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from app.core.take import Take
from app.io.export import ExportOptions, write_take

SUFFIXES = (".csv", ".txt", ".json", ".fbx")
NUMBERS = ("nan", "inf", "-inf", "1e400", "-1e400", "", " ", "0x10", "1,5", "--1", "1e-400", "9" * 400, "NaN", "+")


def seed_files(tmp_path, rng) -> dict[str, bytes]:
    rest = Take.rest(30, name="fuzz")
    base = np.array(rest.base)
    jaw = rest.rig.index("CTRL_C_jaw-translateY")
    base[:, jaw] = rng.uniform(0, 1, 30)
    take = Take(base, name="fuzz", rig=rest.rig)
    out = {}
    for suffix in SUFFIXES:
        curves = "arkit" if suffix == ".fbx" else "faceboard"
        out[suffix] = write_take(take, tmp_path / f"seed{suffix}", ExportOptions(curves=curves)).read_bytes()
    out[".fbx-mh"] = write_take(take, tmp_path / "seed-mh.fbx", ExportOptions(key_tolerance=None)).read_bytes()
    return out


def text_mutation(text: str, rng: np.random.Generator) -> str:
    """A plausible damage to a text take: a bad number, a dropped or doubled line, a cut row, a stray column."""
    lines = text.splitlines()
    kind = int(rng.integers(6))
    i = int(rng.integers(len(lines)))
    if kind == 0:
        cells = lines[i].split(",")
        cells[int(rng.integers(len(cells)))] = NUMBERS[int(rng.integers(len(NUMBERS)))]
        lines[i] = ",".join(cells)
    elif kind == 1:
        del lines[i]
    elif kind == 2:
        lines.insert(i, lines[i])
    elif kind == 3:
        lines[i] = lines[i][:int(rng.integers(len(lines[i]) + 1))]
    elif kind == 4:
        lines[i] += ",1"
    else:
        lines = lines[:i]
    return "\n".join(lines) + "\n"


WRONG = [None, True, -1, 0, 10**30, 1e308, "", "abc", [], [1.0], {}, {"x": [1]}, [[1, 2]], "nan"]


def json_mutation(doc: dict, rng: np.random.Generator) -> dict:
    """One field (top level, a channel, a head-pose row or the meta) given a value of the wrong type."""
    d = copy.deepcopy(doc)
    channel = next(iter(d["channels"]))
    where = [(k,) for k in d] + [("channels", channel), ("head_pose", "yaw"), ("head_pose", "units"),
                                 ("meta", "engine")]
    path = where[int(rng.integers(len(where)))]
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = WRONG[int(rng.integers(len(WRONG)))]
    return d


def structured_takes(seeds: dict[str, bytes]) -> list[tuple[str, str, bytes]]:
    csv_text = seeds[".csv"].decode()
    header, first = csv_text.splitlines()[:2]
    stamp = first.split(",")[0]
    cases = [(s, f"empty{s}", b"") for s in SUFFIXES] + [(s, f"binary{s}", bytes(range(256)) * 4) for s in SUFFIXES]
    cases += [(s, f"bom-only{s}", b"\xef\xbb\xbf") for s in (".csv", ".txt", ".json")]
    cases += [(".csv", "header-only.csv", (header + "\n").encode()),
              (".csv", "no-timecode.csv", csv_text.replace("Timecode", "Time").encode()),
              (".csv", "bad-timecode.csv", (header + "\n" + first.replace(stamp, "99:99") + "\n").encode()),
              (".csv", "huge-ff.csv", (header + "\n" + first.replace(stamp, "00:00:01:999") + "\n"
                                       + first.replace(stamp, "00:00:02:01") + "\n").encode()),
              (".csv", "utf16.csv", csv_text.encode("utf-16")),
              (".txt", "one-value.txt", b"0.5\n"),
              (".txt", "wide-row.txt", (",".join(["0"] * 500) + "\n").encode()),
              (".json", "json-list.json", b"[]"),
              (".json", "json-deep.json", b"[" * 100_000 + b"]" * 100_000),
              (".json", "json-huge-num.json", b'{"format": "vasa-rig/curves", "num_frames": 1e999}'),
              (".json", "json-frames-huge.json", json.dumps({**json.loads(seeds[".json"]), "num_frames": 10**12,
                                                             "channels": {}}).encode()),
              (".json", "json-frames-negative.json", json.dumps({**json.loads(seeds[".json"]),
                                                                 "num_frames": -5}).encode()),
              (".json", "json-version.json", json.dumps({**json.loads(seeds[".json"]), "version": "2"}).encode()),
              (".fbx", "fbx-magic-only.fbx", b"Kaydara FBX Binary  \x00\x1a\x00"),
              (".fbx", "fbx-ascii.fbx", b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n}\n")]
    return cases


def mutated_takes(seeds: dict[str, bytes], rng: np.random.Generator, mutate, count: int):
    doc = json.loads(seeds[".json"])
    keys = list(seeds)
    out = []
    for i in range(count):
        key = keys[i % len(keys)]
        suffix = key[:4] if key.startswith(".fbx") else key
        data = seeds[key]
        style = int(rng.integers(3))
        if suffix == ".json" and style == 0:
            data = json.dumps(json_mutation(doc, rng)).encode()
        elif suffix in (".csv", ".txt") and style == 0:
            data = text_mutation(data.decode(), rng).encode()
        else:
            for _ in range(int(rng.integers(1, 4))):
                data = mutate(data, rng)
        out.append((suffix, f"mutant-{i}{suffix}", data))
    return out


def _run_take_cases(cases, tmp_path, cli, export_every: int) -> None:
    outputs = [tmp_path / f"out{s}" for s in (".vrig", ".fbx", ".csv", ".json", ".txt")]
    for i, (_, name, data) in enumerate(cases):
        path = tmp_path / name
        path.write_bytes(data)
        cli.run(["info", path], names=path)
        if i % export_every == 0:
            cli.run(["export", path, "-o", outputs[i % len(outputs)]], names=path)


def test_hostile_takes(tmp_path, cli, rng):
    _run_take_cases(structured_takes(seed_files(tmp_path, rng)), tmp_path, cli, export_every=1)


def test_mutated_takes(tmp_path, cli, rng, mutate):
    _run_take_cases(mutated_takes(seed_files(tmp_path, rng), rng, mutate, 200), tmp_path, cli, export_every=3)


@pytest.mark.slow
def test_mutated_takes_long(tmp_path, cli, rng, mutate):
    _run_take_cases(mutated_takes(seed_files(tmp_path, rng), rng, mutate, 1000), tmp_path, cli, export_every=2)
