"""The MetaHuman face-board rig as data: controls, ranges, regions, and mappings to UE and ARKit curves.

The specification lives in resources/rig/rig_spec.json (built by resources/rig/build_rig_spec.py). Channel order of
every curve array in the application: the 174 face-board controls in reference order, then the 6 head-pose channels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from app.core.paths import resources_dir

NUM_CONTROLS = 174
HEAD_CHANNELS = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_tz")
NUM_CHANNELS = NUM_CONTROLS + len(HEAD_CHANNELS)
REGIONS = ("eyes", "eyebrows", "nose", "mouth", "jaw", "cheeks", "tongue", "teeth", "neck", "ears", "head")
SIDES = ("L", "C", "R")
SPEC_FORMAT = "vasa-rig/rig-spec"
SPEC_VERSION = 1


class RigSpecError(ValueError):
    """The rig specification file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Channel:
    name: str
    index: int
    region: str
    side: str
    min: float
    max: float
    rest: float
    unit: str = ""


@dataclass(frozen=True)
class _Ramp:
    """Target += weight * clip((v - lo) / (hi - lo), 0, 1) for channel ``src``."""

    src: int
    dst: int
    lo: float
    hi: float
    weight: float = 1.0


@dataclass
class RigSpec:
    channels: list[Channel]
    ue_curve_names: list[str]
    arkit_names: list[str]
    _ue_ramps: list[_Ramp] = field(repr=False)
    _arkit_ramps: list[_Ramp] = field(repr=False)
    eye_yaw_deg_per_unit: float = 30.0
    eye_pitch_deg_per_unit: float = 25.0
    head_ue_curves: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {c.name: c.index for c in self.channels}
        self.mins = np.array([c.min for c in self.channels], dtype=np.float32)
        self.maxs = np.array([c.max for c in self.channels], dtype=np.float32)
        self.rest = np.array([c.rest for c in self.channels], dtype=np.float32)
        self._ue_matrix = _ramp_arrays(self._ue_ramps)
        self._arkit_matrix = _ramp_arrays(self._arkit_ramps)

    # --- look-ups -----------------------------------------------------------------------------------------
    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def control_names(self) -> list[str]:
        return [c.name for c in self.channels[:NUM_CONTROLS]]

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown rig channel {name!r}") from None

    def channel(self, name_or_index: str | int) -> Channel:
        i = name_or_index if isinstance(name_or_index, int) else self.index(name_or_index)
        return self.channels[i]

    def region(self, name: str) -> str:
        return self.channel(name).region

    def indices_in_region(self, region: str) -> list[int]:
        if region not in REGIONS:
            raise KeyError(f"unknown region {region!r}; regions are {', '.join(REGIONS)}")
        return [c.index for c in self.channels if c.region == region]

    def mirror(self, name: str) -> str | None:
        """The opposite-side channel of a sided control (L <-> R), or None for centre channels."""
        for a, b in (("CTRL_L_", "CTRL_R_"), ("CTRL_R_", "CTRL_L_")):
            if name.startswith(a):
                return b + name[len(a):]
        return None

    def clamp(self, curves: np.ndarray) -> np.ndarray:
        return np.clip(curves, self.mins, self.maxs)

    def rest_curves(self, num_frames: int) -> np.ndarray:
        return np.tile(self.rest, (num_frames, 1))

    # --- mappings ------------------------------------------------------------------------------------------
    def to_ue_curves(self, curves: np.ndarray) -> np.ndarray:
        """(frames, 180) rig curves -> (frames, len(ue_curve_names)) CTRL_expressions_* values in 0..1."""
        return _apply_ramps(self._ue_matrix, curves, len(self.ue_curve_names))

    def to_arkit(self, curves: np.ndarray) -> np.ndarray:
        """(frames, 180) -> (frames, 61) Live Link Face values: 52 blendshapes 0..1, then head yaw/pitch/roll and
        left/right eye yaw/pitch/roll in degrees."""
        curves = _as_frames(curves, self.num_channels)
        out = np.zeros((curves.shape[0], 61), dtype=np.float32)
        out[:, :52] = _apply_ramps(self._arkit_matrix, curves, 52)
        head = curves[:, NUM_CONTROLS:NUM_CONTROLS + 3]
        out[:, 52:55] = head
        cx, cy = curves[:, self.index("CTRL_C_eye-translateX")], curves[:, self.index("CTRL_C_eye-translateY")]
        for col, side in ((55, "L"), (58, "R")):
            ex = curves[:, self.index(f"CTRL_{side}_eye-translateX")] + cx
            ey = curves[:, self.index(f"CTRL_{side}_eye-translateY")] + cy
            out[:, col] = np.clip(ex, -1, 1) * self.eye_yaw_deg_per_unit
            out[:, col + 1] = np.clip(ey, -1, 1) * self.eye_pitch_deg_per_unit
        return out


    def from_ue_curves(self, ue: np.ndarray) -> np.ndarray:
        """(frames, len(ue_curve_names)) CTRL_expressions values -> (frames, 180) rig curves (head at rest).

        Inverse of ``to_ue_curves``: a control's value is the sum over its ramps of (hi - lo) x curve value, where
        ramps with the same range (one control driving the same expression on both eyes) are averaged. Gaze comes
        back on the per-eye controls."""
        ue = _as_frames(ue, len(self.ue_curve_names))
        src, dst, lo, hi, _ = self._ue_matrix
        out = self.rest_curves(ue.shape[0])
        groups: dict[tuple[int, float, float], list[int]] = {}
        centre_eye = {self.index("CTRL_C_eye-translateX"), self.index("CTRL_C_eye-translateY")}
        for s_, d_, lo_, hi_ in zip(src, dst, lo, hi, strict=True):
            if s_ in centre_eye:  # both-eyes gaze is indistinguishable from per-eye gaze in the curves
                continue
            groups.setdefault((int(s_), float(lo_), float(hi_)), []).append(int(d_))
        for (s_, lo_, hi_), curves in groups.items():
            out[:, s_] += (hi_ - lo_) * ue[:, curves].mean(axis=1)
        return self.clamp(out)

    def from_arkit(self, arkit: np.ndarray) -> np.ndarray:
        """(frames, 61) Live Link Face values (rotations in degrees) -> (frames, 180) rig curves.

        The inverse of ``to_arkit`` where the mapping can be inverted: a blendshape driven by several controls
        sets each of them to value / (sum of weights); opposite blendshapes on one bipolar control (EyeLookIn and
        EyeLookOut, JawLeft and JawRight) combine into one signed value; gaze goes to the per-eye controls."""
        arkit = _as_frames(arkit, 61)
        src, dst, lo, hi, weight = self._arkit_matrix
        out = self.rest_curves(arkit.shape[0])
        centre_eye = {self.index("CTRL_C_eye-translateX"), self.index("CTRL_C_eye-translateY")}
        used = ~np.isin(src, list(centre_eye))
        wsum = np.zeros(52, np.float32)
        np.add.at(wsum, dst[used], weight[used])
        # Per control and direction (positive or negative ramp): mean of the estimates; the two directions add.
        acc = np.zeros((2, *out.shape), np.float32)
        count = np.zeros((2, self.num_channels), np.float32)
        for s_, d_, lo_, hi_ in zip(src, dst, lo, hi, strict=True):
            if s_ in centre_eye:
                continue
            direction = int(hi_ < lo_)
            acc[direction, :, s_] += lo_ + (hi_ - lo_) * arkit[:, d_] / max(wsum[d_], 1e-6)
            count[direction, s_] += 1.0
        for direction in (0, 1):
            driven = count[direction] > 0
            out[:, driven] += acc[direction][:, driven] / count[direction][driven]
        out[:, NUM_CONTROLS:NUM_CONTROLS + 3] = arkit[:, 52:55]
        return self.clamp(out)


def _ramp_arrays(ramps: list[_Ramp]) -> tuple[np.ndarray, ...]:
    return (np.array([r.src for r in ramps], dtype=np.int64), np.array([r.dst for r in ramps], dtype=np.int64),
            np.array([r.lo for r in ramps], dtype=np.float32), np.array([r.hi for r in ramps], dtype=np.float32),
            np.array([r.weight for r in ramps], dtype=np.float32))


def _as_frames(curves: np.ndarray, width: int) -> np.ndarray:
    curves = np.asarray(curves, dtype=np.float32)
    if curves.ndim == 1:
        curves = curves[None, :]
    if curves.ndim != 2 or curves.shape[1] != width:
        raise ValueError(f"expected curves of shape (frames, {width}), got {curves.shape}")
    return curves


def _apply_ramps(matrix: tuple[np.ndarray, ...], curves: np.ndarray, width: int) -> np.ndarray:
    src, dst, lo, hi, weight = matrix
    curves = _as_frames(curves, NUM_CHANNELS)
    ramp = np.clip((curves[:, src] - lo) / (hi - lo), 0.0, 1.0) * weight
    out = np.zeros((curves.shape[0], width), dtype=np.float32)
    np.add.at(out.T, dst, ramp.T)
    return np.clip(out, 0.0, 1.0)


def spec_path() -> Path:
    return resources_dir() / "rig" / "rig_spec.json"


def parse_rig_spec(data: dict) -> RigSpec:
    """Validate a decoded rig specification and build the RigSpec."""
    if not isinstance(data, dict) or data.get("format") != SPEC_FORMAT:
        raise RigSpecError("not a rig specification (missing format tag)")
    if data.get("version") != SPEC_VERSION:
        raise RigSpecError(f"rig specification version {data.get('version')!r} is not supported "
                           f"(this build reads version {SPEC_VERSION})")
    try:
        controls, head, arkit = data["controls"], data["head"], data["arkit"]
    except KeyError as exc:
        raise RigSpecError(f"rig specification lacks {exc.args[0]!r}") from None
    if len(controls) != NUM_CONTROLS:
        raise RigSpecError(f"rig specification has {len(controls)} controls, expected {NUM_CONTROLS}")
    if [h.get("name") for h in head] != list(HEAD_CHANNELS):
        raise RigSpecError(f"head channels must be {', '.join(HEAD_CHANNELS)}")
    channels: list[Channel] = []
    for i, c in enumerate(list(controls) + list(head)):
        try:
            ch = Channel(name=str(c["name"]), index=i, region=str(c["region"]), side=str(c["side"]),
                         min=float(c["min"]), max=float(c["max"]), rest=float(c["rest"]),
                         unit=str(c.get("unit", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise RigSpecError(f"channel {i}: malformed entry ({exc})") from None
        if ch.region not in REGIONS:
            raise RigSpecError(f"channel {ch.name}: unknown region {ch.region!r}")
        if ch.side not in SIDES:
            raise RigSpecError(f"channel {ch.name}: unknown side {ch.side!r}")
        if not ch.min <= ch.rest <= ch.max or ch.min == ch.max:
            raise RigSpecError(f"channel {ch.name}: rest {ch.rest} outside range [{ch.min}, {ch.max}]")
        channels.append(ch)
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise RigSpecError("duplicate channel names in rig specification")

    ue_names: list[str] = []
    ue_index: dict[str, int] = {}
    ue_ramps: list[_Ramp] = []
    for ch, c in zip(channels, controls, strict=False):
        for link in c.get("curves", []):
            curve = str(link["curve"])
            if curve not in ue_index:
                ue_index[curve] = len(ue_names)
                ue_names.append(curve)
            lo, hi = float(link["lo"]), float(link["hi"])
            if lo == hi:
                raise RigSpecError(f"{ch.name}: curve {curve} has an empty ramp")
            ue_ramps.append(_Ramp(ch.index, ue_index[curve], lo, hi))

    order = list(arkit["order"])
    if len(order) != 61:
        raise RigSpecError(f"ARKit order must list 61 names, has {len(order)}")
    name_to_index = {n: i for i, n in enumerate(names)}
    arkit_ramps: list[_Ramp] = []
    shapes = list(arkit["blendshapes"])
    if [s["name"] for s in shapes] != order[:52]:
        raise RigSpecError("ARKit blendshape rules must follow the 52-name order")
    for j, shape in enumerate(shapes):
        for term in shape["terms"]:
            if term["control"] not in name_to_index:
                raise RigSpecError(f"ARKit {shape['name']}: unknown control {term['control']!r}")
            arkit_ramps.append(_Ramp(name_to_index[term["control"]], j, float(term["lo"]), float(term["hi"]),
                                     float(term["weight"])))
    return RigSpec(channels=channels, ue_curve_names=ue_names, arkit_names=order, _ue_ramps=ue_ramps,
                   _arkit_ramps=arkit_ramps, eye_yaw_deg_per_unit=float(arkit["eye_yaw_deg_per_unit"]),
                   eye_pitch_deg_per_unit=float(arkit["eye_pitch_deg_per_unit"]),
                   head_ue_curves={h["name"]: h["ue_curve"] for h in head})


def load_rig_file(path: Path) -> RigSpec:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RigSpecError(f"rig specification not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RigSpecError(f"cannot read rig specification {path}: {exc}") from None
    return parse_rig_spec(data)


@cache
def load_rig() -> RigSpec:
    """The application's rig (cached)."""
    return load_rig_file(spec_path())
