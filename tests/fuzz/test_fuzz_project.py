"""Project files (.vrig zips) for ``info`` and ``export``: damaged archives, hostile members and wrong JSON types give
one clear error naming the file; a zip bomb is refused before it inflates, within a stated memory budget."""

from __future__ import annotations

import copy
import io
import json
import pickle
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from app.core.keys import Keys
from app.core.project import BASE_ARRAY, MANIFEST, save_project
from app.core.take import Lock, Take

BOMB_BUDGET_MIB = 32


def sample_take(rng: np.random.Generator, frames: int = 40) -> Take:
    rest = Take.rest(frames, name="fuzz")
    base = np.array(rest.base)
    jaw = rest.rig.index("CTRL_C_jaw-translateY")
    base[:, jaw] = rng.uniform(0, 1, frames)
    edits = {jaw: Keys.from_lists([0, frames // 2], [0.1, -0.1], [0, 0])}
    return Take(base, name="fuzz", rig=rest.rig, edits=edits, locks=[Lock(2, 9, None), Lock(10, 20, (jaw,))])


def project_members(rng: np.random.Generator, tmp_path) -> tuple[dict, np.ndarray]:
    path = save_project(sample_take(rng), tmp_path / "seed.vrig")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read(MANIFEST))
        base = np.load(io.BytesIO(zf.read(BASE_ARRAY)))
    return manifest, base


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


class Boom:
    """Would create a file if unpickled; a project loader must never unpickle."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


WRONG_VALUES = [None, True, -1, 0, 2**63, 1e308, float("nan"), "", "x" * 300, [], [1, 2], {}, {"a": 1}, [[1, 2, 3]]]


def wrong_type_manifests(manifest: dict, rng: np.random.Generator, count: int) -> list[dict]:
    """The manifest with one field (top level or nested) replaced by a value of the wrong type."""
    paths = [(k,) for k in manifest] + [("meta", k) for k in manifest["meta"]] + [("audio",)] + [("edits",)]
    paths += [("edits", next(iter(manifest["edits"]))), ("locks",)]
    out = []
    for _ in range(count):
        m = copy.deepcopy(manifest)
        where = paths[int(rng.integers(len(paths)))]
        value = WRONG_VALUES[int(rng.integers(len(WRONG_VALUES)))]
        target = m
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
        out.append(m)
    return out


def structured_projects(rng: np.random.Generator, tmp_path) -> list[tuple[str, bytes]]:
    manifest, base = project_members(rng, tmp_path)
    good_manifest = json.dumps(manifest).encode()
    good_base = npy(base)
    marker = tmp_path / "unpickled-marker"
    cases = [("missing-manifest", zip_of({BASE_ARRAY: good_base})),
             ("missing-base", zip_of({MANIFEST: good_manifest})),
             ("empty-zip", zip_of({})),
             ("not-json", zip_of({MANIFEST: b"{not json", BASE_ARRAY: good_base})),
             ("not-utf8", zip_of({MANIFEST: b"\xff\xfe\x00", BASE_ARRAY: good_base})),
             ("json-list", zip_of({MANIFEST: b"[1, 2]", BASE_ARRAY: good_base})),
             ("json-deep", zip_of({MANIFEST: b"[" * 100_000 + b"]" * 100_000, BASE_ARRAY: good_base})),
             ("base-not-npy", zip_of({MANIFEST: good_manifest, BASE_ARRAY: b"not an array"})),
             ("base-object-dtype", zip_of({MANIFEST: good_manifest,
                                           BASE_ARRAY: npy(np.array([[1, "a"]], dtype=object), allow_pickle=True)})),
             ("base-pickled", zip_of({MANIFEST: good_manifest, BASE_ARRAY: pickle.dumps(Boom(str(marker)))})),
             ("base-pickled-npy", zip_of({MANIFEST: good_manifest,
                                          BASE_ARRAY: npy(np.array([Boom(str(marker))], dtype=object), True)})),
             ("base-wrong-shape", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(base[:, :3])})),
             ("base-3d", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(base[None])})),
             ("base-int", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(base.astype(np.int64))})),
             ("base-complex", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(base.astype(np.complex64))})),
             ("base-nan", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(np.full_like(base, np.nan))})),
             ("base-empty", zip_of({MANIFEST: good_manifest, BASE_ARRAY: npy(base[:0])})),
             ("path-traversal", zip_of({"../../evil.json": good_manifest, "/abs/base.npy": good_base,
                                        MANIFEST: good_manifest, BASE_ARRAY: good_base})),
             ("only-traversal", zip_of({"../" + MANIFEST: good_manifest, "../" + BASE_ARRAY: good_base})),
             ("duplicate-members", zip_of({MANIFEST: good_manifest, BASE_ARRAY: good_base}) + b"")]
    for version in (2, 99, -1, "1", None, 1.5, 2**70):
        m = dict(manifest, schema_version=version)
        cases.append((f"schema-{version}", zip_of({MANIFEST: json.dumps(m).encode(), BASE_ARRAY: good_base})))
    for fmt in (None, "", "vasa-rig/curves", 7):
        m = dict(manifest, format=fmt)
        cases.append((f"format-{fmt}", zip_of({MANIFEST: json.dumps(m).encode(), BASE_ARRAY: good_base})))
    for i, m in enumerate(wrong_type_manifests(manifest, rng, 60)):
        cases.append((f"wrong-type-{i}", zip_of({MANIFEST: json.dumps(m).encode(), BASE_ARRAY: good_base})))
    return cases


def mutated_projects(rng: np.random.Generator, tmp_path, mutate, count: int) -> list[tuple[str, bytes]]:
    seed = save_project(sample_take(rng), tmp_path / "seed.vrig").read_bytes()
    stored = io.BytesIO()  # uncompressed members: byte flips land in the JSON and the array, not only in deflate
    manifest, base = project_members(rng, tmp_path)
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest))
        zf.writestr(BASE_ARRAY, npy(base))
    bases = [seed, stored.getvalue()]
    out = []
    for i in range(count):
        data = bases[i % 2]
        for _ in range(int(rng.integers(1, 4))):
            data = mutate(data, rng)
        out.append((f"mutant-{i}", data))
    return out


def _run_project_cases(cases, tmp_path, cli, export_every: int) -> None:
    marker = tmp_path / "unpickled-marker"
    for i, (label, data) in enumerate(cases):
        path = tmp_path / f"{label.replace('/', '_')}.vrig"
        path.write_bytes(data)
        cli.run(["info", path], names=path, label=label)
        if i % export_every == 0:
            cli.run(["export", path, "-o", tmp_path / "out.csv"], names=path, label=label)
    assert not marker.exists(), "a pickled payload in a project ran"
    assert not (tmp_path.parent / "evil.json").exists()


def test_hostile_projects(tmp_path, cli, rng):
    _run_project_cases(structured_projects(rng, tmp_path), tmp_path, cli, export_every=1)


def test_mutated_projects(tmp_path, cli, rng, mutate):
    _run_project_cases(mutated_projects(rng, tmp_path, mutate, 150), tmp_path, cli, export_every=3)


@pytest.mark.slow
def test_mutated_projects_long(tmp_path, cli, rng, mutate):
    _run_project_cases(mutated_projects(rng, tmp_path, mutate, 600), tmp_path, cli, export_every=2)
    manifest, _ = project_members(rng, tmp_path)
    good_base = npy(project_members(rng, tmp_path)[1])
    cases = [(f"wrong-type-{i}", zip_of({MANIFEST: json.dumps(m).encode(), BASE_ARRAY: good_base}))
             for i, m in enumerate(wrong_type_manifests(manifest, rng, 300))]
    _run_project_cases(cases, tmp_path, cli, export_every=1)


# --- zip bomb -----------------------------------------------------------------------------------------------------

def zip_bomb(manifest: bytes, inflated_gib: int = 2, lie: bool = False) -> bytes:
    """A project whose base.npy inflates to ``inflated_gib`` GiB of zeros from a few MB of deflate data. Built from
    identical fully-flushed deflate blocks, so making it costs a CRC pass, not compressing gigabytes. With ``lie``,
    the header claims a small size (a reader trusting it would still have to stop at that size)."""
    chunk = bytes(1 << 20)
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}".ljust(117, b" ") + b"\n"
    header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(header) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    n = inflated_gib * 1024
    tail = comp.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    size = len(header) + n * len(chunk)
    deflated = head + block * n + tail
    entries = [(MANIFEST.encode(), 0, zlib.crc32(manifest), manifest, len(manifest)),
               (BASE_ARRAY.encode(), 8, crc, deflated, 1000 if lie else size)]
    out, central = io.BytesIO(), io.BytesIO()
    for name, method, c, data, usize in entries:
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, c, len(data), usize, len(name), 0))
        out.write(name + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, c, len(data), usize,
                                  len(name), 0, 0, 0, 0, 0, offset) + name)
    cd = central.getvalue()
    start = out.tell()
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(cd), start, 0))
    return out.getvalue()


BOMB_PROBE = r"""
import resource, sys
from app.__main__ import main
import app.core.project, app.io.export, numpy, zipfile, json
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rc = main(["info", sys.argv[1]])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rc, (after - before) // 1024)
"""


@pytest.mark.parametrize("lie", [False, True], ids=["honest-header", "lying-header"])
def test_zip_bomb_is_refused_before_inflating(tmp_path, rng, lie):
    """A 2 GiB base.npy in a 2 MB project is refused with peak RSS growth under BOMB_BUDGET_MIB."""
    manifest, _ = project_members(rng, tmp_path)
    path = tmp_path / "bomb.vrig"
    path.write_bytes(zip_bomb(json.dumps(manifest).encode(), lie=lie))
    assert path.stat().st_size < 4 << 20
    with zipfile.ZipFile(path) as zf:  # the bomb is a well-formed archive, not merely a broken file
        assert zf.getinfo(BASE_ARRAY).file_size == (1000 if lie else 128 + (2 << 30))
    done = subprocess.run([sys.executable, "-c", BOMB_PROBE, str(path)], capture_output=True, text=True, timeout=60)
    rc, growth_mib = (int(v) for v in done.stdout.split())
    assert rc == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "bomb.vrig" in done.stderr, done.stderr
    assert growth_mib < BOMB_BUDGET_MIB, f"opening the zip bomb took {growth_mib} MiB"
