"""Project files (.vrig): a Take saved as a zip archive of ``project.json`` and ``base.npy``.

Every file carries a schema version. Older files load through the upgrade steps in ``UPGRADES`` (version n -> n+1,
applied in turn); files from a newer version, or damaged files, give a ProjectFileError that says so. Saves are
atomic: the previous file stays intact until the new one is complete on disk.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app import __version__
from app.core.atomic import atomic_write
from app.core.keys import Keys
from app.core.rig import RigSpec, load_rig
from app.core.settings import RANGES, GenerationSettings, Provenance
from app.core.take import AudioRef, GenerationMeta, Lock, Take

PROJECT_SUFFIX = ".vrig"
FORMAT = "vasa-rig/project"
SCHEMA_VERSION = 2  # 2: typed generation settings and provenance instead of flat meta + extra
MANIFEST = "project.json"
BASE_ARRAY = "base.npy"
# Members larger than this are refused before they are inflated (a 10-hour take's manifest with every edit is far
# smaller; the curve array of 3 hours at 60 fps with every channel is about 470 MiB).
MAX_MANIFEST_BYTES = 64 << 20
MAX_BASE_BYTES = 512 << 20

# version -> function upgrading a manifest dict of that version to version + 1 (defined below).
UPGRADES: dict[int, Callable[[dict], dict]] = {}


class ProjectFileError(Exception):
    """A project file cannot be read: corrupt, not a project, or written by a newer version."""


def save_project(take: Take, path: str | Path) -> Path:
    path = Path(path)
    manifest = take_to_manifest(take)
    if take.audio is not None:
        # Keep a path relative to the project too, so a project folder moved with its audio still opens.
        try:
            rel = Path(take.audio.path).resolve().relative_to(path.resolve().parent)
            manifest["audio"]["relative_path"] = rel.as_posix()
        except ValueError:
            pass
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(take.base, dtype=np.float32), allow_pickle=False)
    with atomic_write(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1))
            zf.writestr(BASE_ARRAY, buf.getvalue())
    return path


def load_project(path: str | Path, rig: RigSpec | None = None) -> Take:
    path = Path(path)
    if not path.exists():
        raise ProjectFileError(f"project file not found: {path}")
    try:
        with zipfile.ZipFile(path, "r") as zf:
            names = set(zf.namelist())
            if MANIFEST not in names or BASE_ARRAY not in names:
                raise ProjectFileError(f"{path.name} is not a VASA-Rig project (missing {MANIFEST} or {BASE_ARRAY})")
            manifest = json.loads(_read_member(zf, MANIFEST, MAX_MANIFEST_BYTES, path).decode("utf-8"))
            base = np.load(io.BytesIO(_read_member(zf, BASE_ARRAY, MAX_BASE_BYTES, path)), allow_pickle=False)
    except ProjectFileError:
        raise
    except zipfile.BadZipFile:
        raise ProjectFileError(f"{path.name} is damaged or not a VASA-Rig project (not a valid archive)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ProjectFileError(f"{path.name}: the project description is damaged ({exc})") from None
    except zlib.error:
        raise ProjectFileError(f"{path.name} is damaged (a compressed member does not decompress)") from None
    except NotImplementedError as exc:  # zipfile: an unknown compression method or archive version
        raise ProjectFileError(f"{path.name} is damaged or not a VASA-Rig project ({exc})") from None
    except (ValueError, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ProjectFileError(f"{path.name}: cannot read the project ({exc})") from None
    if base.dtype.kind not in "fiu":
        raise ProjectFileError(f"{path.name}: the curve array holds {base.dtype} values, not numbers")
    manifest = upgrade_manifest(manifest, path.name)
    audio = manifest.get("audio")
    if isinstance(audio, dict) and audio.get("relative_path") and not Path(str(audio.get("path"))).exists():
        candidate = path.resolve().parent / audio["relative_path"]
        if candidate.exists():
            audio["path"] = str(candidate)
    try:
        return manifest_to_take(manifest, base, rig)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path.name}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ProjectFileError(f"{path.name}: the project is damaged or inconsistent ({exc})") from None


def _read_member(zf: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    """A member's bytes, refused before inflating when it claims to be (or turns out) larger than ``limit``: a zip
    bomb costs at most ``limit`` bytes of memory, whatever its header says."""
    info = zf.getinfo(name)
    too_big = ProjectFileError(f"{path.name}: {name} inflates to more than {limit >> 20} MiB; this is not a project "
                               "VASA-Rig wrote (refused to protect memory)")
    if info.file_size > limit:
        raise too_big
    chunks, total = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            total += len(chunk)
            if total > info.file_size:  # inflates past the size its header gives: damaged, or a bomb that lies
                raise ProjectFileError(f"{path.name} is damaged ({name} is larger than the archive says)")
            chunks.append(chunk)
    return b"".join(chunks)


def upgrade_manifest(manifest: object, label: str = "project") -> dict:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProjectFileError(f"{label} is not a VASA-Rig project")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 0:
        raise ProjectFileError(f"{label}: invalid schema version {version!r}")
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{label} was saved by a newer VASA-Rig Studio (project schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}). Update the application to open it.")
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise ProjectFileError(f"{label}: no upgrade from project schema {version}")
        manifest = step(dict(manifest))
        version += 1
        manifest["schema_version"] = version
    return manifest


def take_to_manifest(take: Take) -> dict:
    m = take.meta
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "app_version": __version__,
        "name": take.name,
        "fps": take.fps,
        "num_frames": take.num_frames,
        "channels": take.rig.channel_names,
        "audio": None if take.audio is None else {
            "path": take.audio.path, "sha256": take.audio.sha256,
            "duration": take.audio.duration, "sample_rate": take.audio.sample_rate},
        "meta": {"settings": m.settings.to_json(), "provenance": m.provenance.to_json()},
        "edits": {take.rig.channel_names[ch]: k.to_json() for ch, k in sorted(take.edits.items())},
        "locks": [{"start": lk.start, "end": lk.end,
                   "channels": None if lk.channels is None else [take.rig.channel_names[c] for c in lk.channels]}
                  for lk in take.locks],
    }


def manifest_to_take(manifest: dict, base: np.ndarray, rig: RigSpec | None = None) -> Take:
    rig = rig or load_rig()
    channels = list(manifest["channels"])
    if base.ndim != 2 or base.shape[1] != len(channels) or base.shape[0] != int(manifest["num_frames"]):
        raise ProjectFileError(f"curve array shape {base.shape} does not match the project description")
    # Map stored channels by name, so a file survives a change of channel order; unknown channels are refused
    # rather than dropped silently.
    unknown = [c for c in channels if c not in rig.channel_names]
    if unknown:
        raise ProjectFileError(f"project uses channels this rig does not have: {', '.join(unknown[:5])}")
    fps = float(manifest["fps"])
    if not 0 < fps <= 1000:  # also refuses NaN
        raise ProjectFileError(f"frame rate {fps:g} is not between 0 and 1000 fps")
    full = rig.rest_curves(base.shape[0])
    full[:, [rig.index(c) for c in channels]] = base
    a = manifest.get("audio")
    audio = None if a is None else AudioRef(str(a["path"]), str(a["sha256"]), float(a["duration"]),
                                            int(a["sample_rate"]))
    md = manifest.get("meta", {})
    meta = GenerationMeta(settings=GenerationSettings.from_json(md.get("settings", {"engine": "none"})),
                          provenance=Provenance.from_json(md.get("provenance", {})))
    edits = {rig.index(name): Keys.from_json(rows) for name, rows in manifest.get("edits", {}).items()}
    locks = [Lock(int(lk["start"]), int(lk["end"]),
                  None if lk.get("channels") is None else tuple(rig.index(c) for c in lk["channels"]))
             for lk in manifest.get("locks", [])]
    return Take(full, fps=fps, name=str(manifest.get("name", "take")), rig=rig, audio=audio,
                meta=meta, edits=edits, locks=locks)


# --- schema upgrades ------------------------------------------------------------------------------------------------
# v1 keys of "extra" that were settings rather than notes of what the engine did.
_V1_OPTIONS = {"steps": "steps", "guidance": "guidance", "threshold": "threshold"}
_V1_SECONDS = {"align_seconds": "align", "synthesis_seconds": "synthesis", "recognise_seconds": "recognise"}


def _upgrade_v1(manifest: dict) -> dict:
    """v1 kept the settings flat in "meta" with a free "extra" dict mixing engine options and notes; v2 splits them
    into typed settings and provenance. Values outside today's ranges (v1 accepted head distances of 10..1000 cm
    and gaze up to 60 degrees on the command line) are clamped into them."""
    md = manifest.get("meta")
    md = md if isinstance(md, dict) else {}
    extra = md.get("extra")
    extra = dict(extra) if isinstance(extra, dict) else {}
    gaze = md.get("gaze", (0.0, 0.0))
    if not isinstance(gaze, (list, tuple)) or len(gaze) != 2:
        gaze = (0.0, 0.0)
    performance = {
        "emotion_keys": md.get("emotion_keys") or [[0.0, "neutral", 0.0]],
        "gaze": [RANGES["gaze_yaw"].clamp(gaze[0]), RANGES["gaze_pitch"].clamp(gaze[1])],
        "seed": md.get("seed", 0)}
    for name in ("eye_contact", "head_distance", "articulation"):
        performance[name] = RANGES[name].clamp(md.get(name, RANGES[name].default))
    options: dict = {k: extra.pop(v) for k, v in _V1_OPTIONS.items() if v in extra}
    if "steps" in options:
        options["steps"] = int(RANGES["steps"].clamp(options["steps"]))
    if "guidance" in options:
        options["guidance"] = RANGES["guidance"].clamp(options["guidance"])
    if extra.pop("recogniser", None) == "words":
        options["word_recognition"] = True
    inputs = {"transcript": md.get("transcript"), "phones_file": extra.pop("phones_file", None)}
    provenance: dict = {}
    seconds = {new: extra.pop(old) for old, new in _V1_SECONDS.items() if old in extra}
    if seconds:
        provenance["seconds"] = seconds
    if extra.pop("live", False):
        provenance["live_input"] = str(extra.pop("input", "live input"))
    engine = str(md.get("engine", "none"))
    if engine == "neural":  # v1 neural takes recorded the sampler settings they ran with in "extra"
        provenance.update({k: options[k] for k in ("steps", "guidance") if k in options})
    provenance.update({k: v for k, v in extra.items() if k in Provenance.__dataclass_fields__})
    manifest["meta"] = {"settings": {"engine": engine, "performance": performance, "options": options,
                                     "inputs": inputs},
                        "provenance": provenance}
    return manifest


UPGRADES[1] = _upgrade_v1
