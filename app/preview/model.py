"""The preview head's deformation model: 174 face-board controls + 6 head-pose channels -> vertex positions.

Per frame: a sparse linear blend of displacement fields (dense float32 blocks over the vertices each group of
controls touches), then the rigid parts: the jaw (rotation about its hinge, blended over the lower face by a
per-vertex weight that the lip-seal controls adjust so the lips stay together), eye gaze, eyelids hinged about
each eye, and the head pose over the whole head with the neck blending to the bust.

Head pose conventions (degrees, cm): positive yaw turns the face towards the character's left, positive pitch
tilts the face up, positive roll tilts the top of the head towards the character's right (right-handed about
the forward axis); translation moves the head along +x (character's left), +y (up), +z (forward).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from scipy import sparse

from app.preview import fields
from app.preview.geometry import HeadGeometry, Part, load_head_geometry

HEAD_CHANNELS = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_tz")
PART_GROUPS = {
    "skin": ("skin", "brows"), "eyes": ("eye_L", "eye_R"),
    "lids": ("lid_upper_L", "lid_lower_L", "lid_upper_R", "lid_lower_R"),
    "tongue": ("tongue",), "teeth_upper": ("teeth_upper",), "teeth_lower": ("teeth_lower",),
}
LID_FOLLOW_UPPER, LID_FOLLOW_LOWER = 0.6, 0.35     # how far the lids follow the gaze pitch
POSE_SCALE_DEG = 40.0                               # head pose at which the neck correctives reach full size
NECK_BLEND_CM = 9.5          # below the jaw line the neck blends from the posed head to the fixed bust over this
DEFAULT_JAW_LINE = (-8.8, -0.36)                    # y = a + b * z under the jaw, for files that do not store it
EPS = 1e-5


class HeadModelError(ValueError):
    """Bad input for the head model (wrong frame shape, non-finite values)."""


def _control_names() -> list[str]:
    from app.core.rig import load_rig  # noqa: PLC0415 - keeps importing this module cheap
    return list(load_rig().control_names)


def _eye_degrees() -> tuple[float, float]:
    from app.core.rig import load_rig  # noqa: PLC0415
    rig = load_rig()
    return float(rig.eye_yaw_deg_per_unit), float(rig.eye_pitch_deg_per_unit)


def _rot_x(deg):
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _rot_y(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _rot_z(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def _affine(p: np.ndarray, rot: np.ndarray, centre: np.ndarray, shift=None) -> np.ndarray:
    """Rotate contiguous (n, 3) points about ``centre`` and shift them. Large arrays are done one output column at
    a time (three matrix-vector products), about twice as fast as a (n, 3) @ (3, 3) product with a broadcast add."""
    rot = rot.astype(np.float32)
    t = centre - centre @ rot.T.astype(np.float64)
    if shift is not None:
        t = t + shift
    t = t.astype(np.float32)
    if len(p) < 4096:
        out = p @ rot.T
        out += t
        return out
    out = np.empty_like(p)
    for k in range(3):
        column = p @ rot[k]
        column += t[k]
        out[:, k] = column
    return out


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def neck_weight(p: np.ndarray, jaw_line=DEFAULT_JAW_LINE) -> np.ndarray:
    """How much of the head pose a vertex takes: 1 for the whole head (everything above the line under the jaw,
    which rises towards the nape), fading down the neck to 0 at the bust. Measuring from the jaw line rather than
    from a fixed height keeps the chin and jaw fully rigid with the skull when the head turns."""
    p = np.asarray(p, np.float64)
    above = p[:, 1] - (jaw_line[0] + jaw_line[1] * np.clip(p[:, 2], -8.0, 9.0))
    return _smoothstep(-NECK_BLEND_CM, -0.6, above).astype(np.float32)


class HeadModel:
    """Use ``HeadModel.load()``; ``evaluate(values)`` maps one (180,) frame to {part: (n, 3) float32}."""

    def __init__(self, geometry: HeadGeometry, control_names: list[str]):
        geometry = _jaw_first_layout(geometry)
        self.geometry = geometry
        self.control_names = list(control_names)
        self.channel_names = self.control_names + list(HEAD_CHANNELS)
        self.num_controls = len(self.control_names)
        self._index = {n: i for i, n in enumerate(self.channel_names)}
        self.part_names = list(geometry.parts)          # tongue, lower teeth, skin first: see _jaw_first_layout
        self.rest = {n: p.points.astype(np.float32) for n, p in geometry.parts.items()}
        self.faces = {n: p.faces for n, p in geometry.parts.items()}
        self.colors = {n: p.colors for n, p in geometry.parts.items()}
        lm = geometry.landmarks
        self._hinge = lm["jaw_hinge"].astype(np.float64)
        self._neck_pivot = lm["neck_pivot"].astype(np.float64)
        self._eye_centre = {"L": lm["eye_L"].astype(np.float64), "R": lm["eye_R"].astype(np.float64)}
        self._lid_rest = {"upper": float(lm["lid_params"][0]), "lower": float(lm["lid_params"][1])}
        tilt = float(lm["lid_params"][2])
        self._lid_frame = {"L": _rot_z(tilt), "R": _rot_z(-tilt)}
        self._mouth_line = lm["mouth_line"].astype(np.float64)
        self._jaw_line = tuple(lm["jaw_line"][:2]) if "jaw_line" in lm else DEFAULT_JAW_LINE
        self._eye_deg = _eye_degrees()
        self._n_ctrl_features = 2 * self.num_controls
        self._corrective_pairs = [(b, d) for b in fields.NECK_BANDS for d in fields.POSE_DIRECTIONS]
        self.num_features = self._n_ctrl_features + len(self._corrective_pairs)
        self._multiplier_index = [self._index[f"CTRL_neckCorrectivesMultiplyer{b}-translateY"]
                                  for b in fields.NECK_BANDS]
        self._build()

    @classmethod
    def load(cls, path: Path | None = None) -> HeadModel:
        if path is None:
            return _default_model()
        return cls(load_head_geometry(path), _control_names())

    # ---- construction -------------------------------------------------------------------------------------
    def _ctx(self, part: str) -> fields.Ctx:
        p = self.rest[part].astype(np.float64)
        attrs = self.geometry.parts[part].attributes
        if "mouth_dy" in attrs:
            dy = attrs["mouth_dy"].astype(np.float64)
        else:
            y0, curve, _ = self._mouth_line
            dy = p[:, 1] - (y0 + curve * p[:, 0] ** 2)
        return fields.Ctx(p, dy)

    def _feature_sides(self):
        """(feature index, control name, Side, mirrored) for every control side that has a shape."""
        for i, name in enumerate(self.control_names):
            source, mirrored = name, False
            if name not in fields.SHAPES and "_R_" in name:
                source, mirrored = name.replace("_R_", "_L_"), True
            shape = fields.SHAPES.get(source)
            if shape is None:
                continue
            yield 2 * i, name, shape.pos, mirrored
            yield 2 * i + 1, name, shape.neg, mirrored

    def _build(self) -> None:
        ctx = {part: self._ctx(part) for part in self.part_names}
        mirrored_ctx = {part: c.mirrored() for part, c in ctx.items()}
        per_part: dict[str, dict[int, np.ndarray]] = {part: {} for part in self.part_names}
        seal_cols: dict[int, np.ndarray] = {}
        param_names: list[str] = []
        param_rows: list[tuple[int, int, float]] = []
        for feat, _name, side, mirrored in self._feature_sides():
            for group, fns in side.fields.items():
                for part in PART_GROUPS[group]:
                    c = mirrored_ctx[part] if mirrored else ctx[part]
                    d = sum(fn(c) for fn in fns)
                    if mirrored:
                        d = d * fields.MIRROR
                    if np.abs(d).max() > EPS:
                        per_part[part][feat] = per_part[part].get(feat, 0) + d
            if side.seal:
                c = mirrored_ctx["skin"] if mirrored else ctx["skin"]
                seal_cols[feat] = sum(np.broadcast_to(fn(c), (len(c.P),)) for fn in side.seal)
            for key, val in side.rig.items():
                if mirrored:
                    key = key.replace("_L", "_R") if key.endswith("_L") else key
                if key not in param_names:
                    param_names.append(key)
                param_rows.append((param_names.index(key), feat, val))
        for k, (band, direction) in enumerate(self._corrective_pairs):
            feat = self._n_ctrl_features + k
            for part in PART_GROUPS["skin"]:
                d = fields.neck_corrective(ctx[part], band, direction)
                if np.abs(d).max() > EPS:
                    per_part[part][feat] = d
        self._build_linear(per_part)
        self._param_names = param_names
        self._params = np.zeros((len(param_names), self.num_features), np.float32)
        for r, f, v in param_rows:
            self._params[r, f] += v
        self._build_jaw(ctx["skin"], seal_cols)
        weight = self._neck_weight(self._rest_all)
        blend = np.flatnonzero(weight < 1.0)
        self._head_slice = slice(int(blend[0]), int(blend[-1]) + 1) if len(blend) else slice(0, 0)
        self._head_w = weight[self._head_slice][:, None]

    def _build_linear(self, per_part: dict[str, dict[int, np.ndarray]]) -> None:
        """All displacement fields as one sparse (3 * vertices, features) matrix over the stacked parts: a few
        hundred thousand non-zeros, so one frame's blend is one sparse product."""
        offsets, start = {}, 0
        for part in self.part_names:
            offsets[part] = slice(start, start + len(self.rest[part]))
            start += len(self.rest[part])
        self._slices = offsets
        self._rest_all = np.concatenate([self.rest[p] for p in self.part_names]).astype(np.float32)
        dense_rows, cols, vals = [], [], []
        for part, feats in per_part.items():
            base = offsets[part].start
            for feat, d in feats.items():
                r, k = np.nonzero(np.abs(d) > EPS)
                dense_rows.append((base + r) * 3 + k)
                cols.append(np.full(len(r), feat))
                vals.append(d[r, k])
        self._linear = sparse.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(dense_rows), np.concatenate(cols))),
            shape=(3 * len(self._rest_all), self.num_features))
        self._rest_flat = self._rest_all.reshape(-1)

    def _build_jaw(self, c: fields.Ctx, seal_cols: dict[int, np.ndarray]) -> None:
        attrs = self.geometry.parts["skin"].attributes
        w = attrs["jaw_weight"].astype(np.float64)
        lip_u = fields.lip_band(c, True, 1.0)
        lip_d = fields.lip_band(c, False, 1.1)
        n_skin = int(self.geometry.parts["skin"].attributes["jaw_rows"][0])
        rows = np.arange(n_skin)
        # tongue and lower teeth (weight 1) come right before the skin's jaw rows: one contiguous slice
        start = self._slices["skin"].start
        self._jaw_slice = slice(0, start + n_skin)
        self._skin_jaw_offset = start
        self._jaw_w = np.concatenate([np.ones(start), w[:n_skin]]).astype(np.float32)[:, None]
        # with the seal fully on, both lips turn by half the jaw angle, so their contact lines stay together
        self._seal_gain = (0.5 * lip_u[rows] - 0.5 * lip_d[rows]).astype(np.float32)
        feats = sorted(seal_cols)
        self._seal_features = np.array(feats, int)
        self._seal_basis = (np.stack([seal_cols[f][rows] for f in feats]).astype(np.float32) if feats
                            else np.zeros((0, len(rows)), np.float32))

    def _neck_weight(self, p: np.ndarray) -> np.ndarray:
        return neck_weight(p, self._jaw_line)

    # ---- evaluation ---------------------------------------------------------------------------------------
    def features(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, np.float64)
        if v.shape != (len(self.channel_names),):
            raise HeadModelError(f"a frame must have {len(self.channel_names)} values, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise HeadModelError("frame values must be finite")
        ctrl = v[: self.num_controls]
        f = np.zeros(self.num_features, np.float32)
        f[0:self._n_ctrl_features:2] = np.maximum(ctrl, 0.0)
        f[1:self._n_ctrl_features:2] = np.maximum(-ctrl, 0.0)
        yaw, pitch, roll = v[self.num_controls:self.num_controls + 3] / POSE_SCALE_DEG
        pose = {"pitch+": max(pitch, 0), "pitch-": max(-pitch, 0), "yaw+": max(yaw, 0), "yaw-": max(-yaw, 0),
                "roll+": max(roll, 0), "roll-": max(-roll, 0)}
        mult = {b: v[i] for b, i in zip(fields.NECK_BANDS, self._multiplier_index, strict=True)}
        for k, (band, direction) in enumerate(self._corrective_pairs):
            f[self._n_ctrl_features + k] = mult[band] * min(pose[direction], 1.5)
        return f

    def evaluate(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """One frame (180,) -> {part name: (n, 3) float32 vertex positions}."""
        pts = self.evaluate_stacked(values)
        return {part: pts[sl] for part, sl in self._slices.items()}

    def evaluate_stacked(self, values: np.ndarray) -> np.ndarray:
        """One frame -> all parts' vertices stacked in ``part_names`` order, (total, 3) float32."""
        v = np.asarray(values, np.float64)
        f = self.features(v)
        prm = dict(zip(self._param_names, self._params @ f, strict=True))
        if f.any():
            pts = (self._rest_flat + self._linear @ f).reshape(-1, 3)
        else:
            pts = self._rest_all.copy()
        self._apply_jaw(pts, f, prm)
        self._apply_eyes(pts, prm)
        self._apply_head(pts, v)
        return pts

    def _jaw_transform(self, prm):
        rot = _rot_y(prm.get("jaw_yaw", 0.0)) @ _rot_x(prm.get("jaw_open", 0.0))
        shift = np.array([prm.get("jaw_tx", 0.0), 0.0, prm.get("jaw_tz", 0.0)])
        return rot, shift

    def _apply_jaw(self, pts, f, prm) -> None:
        rot, shift = self._jaw_transform(prm)
        if np.allclose(rot, np.eye(3)) and not shift.any():
            return
        w = self._jaw_w
        if len(self._seal_features) and f[self._seal_features].any():
            s = np.clip(f[self._seal_features] @ self._seal_basis, 0.0, 1.0)
            w = w.copy()
            w[self._skin_jaw_offset:, 0] += s * self._seal_gain
        p = pts[self._jaw_slice]                                   # a view: updated in place
        moved = _affine(p, rot, self._hinge, shift)
        moved -= p
        moved *= w
        p += moved

    def _rotate(self, pts, part, rot, centre) -> None:
        sl = self._slices[part]
        pts[sl] = _affine(pts[sl], rot, centre)

    def _apply_eyes(self, pts, prm) -> None:
        yaw_deg, pitch_deg = self._eye_deg
        verg = prm.get("vergence", 0.0) * (1.0 - np.clip(prm.get("parallel", 0.0), 0.0, 1.0))
        for side, inward in (("L", -1.0), ("R", 1.0)):
            yaw = np.clip(prm.get(f"eye_{side}_yaw", 0.0), -1, 1) * yaw_deg + inward * verg
            pitch = np.clip(prm.get(f"eye_{side}_pitch", 0.0), -1, 1) * pitch_deg
            c = self._eye_centre[side]
            if yaw or pitch:
                self._rotate(pts, f"eye_{side}", _rot_y(yaw) @ _rot_x(-pitch), c)
            up = self._lid_rest["upper"] + prm.get(f"lidU_{side}", 0.0) + LID_FOLLOW_UPPER * pitch
            lo = self._lid_rest["lower"] + prm.get(f"lidD_{side}", 0.0) + LID_FOLLOW_LOWER * pitch
            up = max(up, lo)                                   # a closing upper lid comes to rest on the lower
            frame = self._lid_frame[side]
            for lid, angle in (("upper", up - self._lid_rest["upper"]), ("lower", lo - self._lid_rest["lower"])):
                if angle:
                    self._rotate(pts, f"lid_{lid}_{side}", frame @ _rot_x(-angle) @ frame.T, c)

    def _apply_head(self, pts, v) -> None:
        yaw, pitch, roll, tx, ty, tz = v[self.num_controls:]
        if not (yaw or pitch or roll or tx or ty or tz):
            return
        rot = _rot_y(yaw) @ _rot_x(-pitch) @ _rot_z(roll)
        sl = self._head_slice
        before = pts[sl].copy()
        pts[:] = _affine(pts, rot, self._neck_pivot, np.array([tx, ty, tz]))
        blended = pts[sl]                                          # the neck blends back towards the bust
        blended -= before
        blended *= self._head_w
        blended += before

    # ---- helpers for views and tests ------------------------------------------------------------------------
    def rest_values(self) -> np.ndarray:
        return np.zeros(len(self.channel_names), np.float32)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise HeadModelError(f"unknown channel {name!r}") from None

    def influence(self, channel: str | int, value: float | None = None) -> dict[str, np.ndarray]:
        """Per-vertex displacement length (cm) when one channel alone is set to ``value`` (default: a full
        positive swing, or the negative one for a channel that only goes below zero)."""
        i = channel if isinstance(channel, int) else self.index(channel)
        frame = self.rest_values()
        frame[i] = 1.0 if value is None else value
        if i >= self.num_controls and value is None:
            frame[i] = 20.0
        posed = self.evaluate(frame)
        return {p: np.linalg.norm(posed[p] - self.rest[p], axis=1) for p in self.part_names}


def _jaw_first_layout(geometry: HeadGeometry) -> HeadGeometry:
    """Reorder parts and skin vertices so the vertices the jaw moves form one contiguous block (tongue, lower
    teeth, then the skin's jaw rows) and the neck vertices that blend the head pose form another. Per-frame
    work then runs on array slices instead of gathered index lists."""
    skin = geometry.parts["skin"]
    p = skin.points.astype(np.float64)
    c = fields.Ctx(p, skin.attributes["mouth_dy"].astype(np.float64))
    jaw = (skin.attributes["jaw_weight"] > EPS) | (fields.lip_band(c, True, 1.0) > EPS) | (
        fields.lip_band(c, False, 1.1) > EPS)
    lm = geometry.landmarks
    neck = neck_weight(p, tuple(lm["jaw_line"][:2]) if "jaw_line" in lm else DEFAULT_JAW_LINE) < 1.0
    order = np.concatenate([np.flatnonzero(jaw & ~neck), np.flatnonzero(jaw & neck),
                            np.flatnonzero(~jaw & neck), np.flatnonzero(~jaw & ~neck)])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    attrs = {k: v[order] for k, v in skin.attributes.items()}
    attrs["jaw_rows"] = np.array([jaw.sum()], np.float32)
    new_skin = Part("skin", skin.points[order], inverse[skin.faces].astype(np.int32), skin.colors[order], attrs)
    first = ("tongue", "teeth_lower", "skin")
    parts = {name: geometry.parts[name] for name in first}
    parts["skin"] = new_skin
    parts.update({n: q for n, q in geometry.parts.items() if n not in first})
    return HeadGeometry(parts, geometry.landmarks)


@functools.lru_cache(maxsize=1)
def _default_model() -> HeadModel:
    return HeadModel(load_head_geometry(), _control_names())
