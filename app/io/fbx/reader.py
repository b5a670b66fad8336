"""Read animation curves back from a binary FBX file.

Made for the files write_fbx_curves produces, and tolerant of other files with the same structure:
animated user-defined properties on joints (AnimationCurveNode -> property, one AnimationCurve per
channel), and Lcl Rotation / Lcl Translation curves on the head joint. Key values are taken as linear
keys; files with cubic keys are read key by key (the tangents are ignored).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .binary import FbxFormatError, FbxNode, decode_document
from .convention import (
    AXIS_CHANNELS,
    HEAD_ROTATION_CHANNELS,
    HEAD_TRANSLATION_CHANNELS,
    LCL_ROTATION,
    LCL_SCALING,
    LCL_TRANSLATION,
    fbx_rotation_to_ue,
    fbx_translation_to_ue,
)
from .ktime import TIME_MODE_CUSTOM, TIME_MODE_RATES, ticks_to_seconds

Keys = tuple[np.ndarray, np.ndarray]  # (times in seconds, values)
_TRANSFORM_PROPS = frozenset({LCL_TRANSLATION, LCL_ROTATION, LCL_SCALING})


@dataclass
class FbxCurves:
    """Curves read from an FBX take. Times are in seconds; values as stored (float32 -> float64)."""

    fps: float
    take_name: str
    start_time: float
    stop_time: float
    curves: dict[str, Keys] = field(default_factory=dict)
    # Head pose in UE terms: channel name ("head_yaw", "head_pitch", "head_roll" in degrees;
    # "head_tx", "head_ty", "head_tz" in cm) -> keys. Empty when the file has no such curves.
    head_rotation: dict[str, Keys] = field(default_factory=dict)
    head_translation: dict[str, Keys] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Frames from start to stop inclusive at ``fps``."""
        return int(round((self.stop_time - self.start_time) * self.fps)) + 1

    def frame_times(self) -> np.ndarray:
        return self.start_time + np.arange(self.num_frames, dtype=np.float64) / self.fps

    def sample(self, times: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every curve and head channel linearly interpolated at ``times`` (default: each frame).

        Before the first key and after the last the end values hold, as FBX constant extrapolation does.
        """
        times = self.frame_times() if times is None else np.asarray(times, dtype=np.float64)
        out = {}
        for group in (self.curves, self.head_rotation, self.head_translation):
            for name, (t, v) in group.items():
                out[name] = np.interp(times, t, v)
        return out


def read_fbx_curves(path: str | os.PathLike, *, head_name: str = "head") -> FbxCurves:
    """Read a binary FBX file; raises FbxFormatError for corrupt, truncated or non-FBX files."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FbxFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        _, nodes = decode_document(data)
        return _interpret(nodes, head_name)
    except FbxFormatError as exc:
        raise FbxFormatError(f"{path.name}: {exc}") from None


def _top(nodes: list[FbxNode], name: str) -> FbxNode | None:
    for node in nodes:
        if node.name == name:
            return node
    return None


def _props70(node: FbxNode | None) -> dict[str, list]:
    """Properties70 entries of ``node``: property name -> values after the (type, label, flags) fields."""
    block = node.find("Properties70") if node is not None else None
    out = {}
    for p in block.find_all("P") if block is not None else []:
        if p.props and isinstance(p.props[0], str):
            out[p.props[0]] = p.props[4:]
    return out


def _object_name(node: FbxNode) -> str:
    raw = node.props[1] if len(node.props) > 1 and isinstance(node.props[1], str) else ""
    if "\x00\x01" in raw:
        return raw.split("\x00\x01", 1)[0]
    return raw.split("::", 1)[-1]  # ASCII-style "Class::name"


def _fps(settings: dict[str, list]) -> float:
    mode = int(settings.get("TimeMode", [0])[0] or 0)
    custom = float(settings.get("CustomFrameRate", [-1.0])[0])
    if mode == TIME_MODE_CUSTOM and custom > 0:
        return custom
    # Mode 0 ("default") means 30 fps for the FBX SDK.
    return TIME_MODE_RATES.get(mode, custom if custom > 0 else 30.0)


def _curve_keys(node: FbxNode) -> Keys:
    times_node, values_node = node.find("KeyTime"), node.find("KeyValueFloat")
    if times_node is None or values_node is None or not times_node.props or not values_node.props:
        raise FbxFormatError("AnimationCurve without KeyTime/KeyValueFloat")
    ticks, values = times_node.props[0], values_node.props[0]
    if not isinstance(ticks, np.ndarray) or not isinstance(values, np.ndarray) or len(ticks) != len(values):
        raise FbxFormatError("AnimationCurve key arrays are malformed")
    times = ticks_to_seconds(ticks)
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise FbxFormatError("AnimationCurve key times are not increasing")
    return times, values.astype(np.float64)


def _interpret(nodes: list[FbxNode], head_name: str) -> FbxCurves:
    objects_node = _top(nodes, "Objects")
    connections = _top(nodes, "Connections")
    if objects_node is None or connections is None:
        raise FbxFormatError("no Objects/Connections section")
    objects = {n.props[0]: n for n in objects_node.children if n.props and isinstance(n.props[0], int)}

    settings = _props70(_top(nodes, "GlobalSettings"))
    fps = _fps(settings)

    # Connections: child -> parent (object-object) and curve(node) -> (parent, property/channel).
    parents: dict[int, list[int]] = {}
    prop_links: dict[int, list[tuple[int, str]]] = {}
    for c in connections.find_all("C"):
        if len(c.props) < 3 or not isinstance(c.props[1], int) or not isinstance(c.props[2], int):
            raise FbxFormatError("malformed connection record")
        kind, child, parent = c.props[0], c.props[1], c.props[2]
        if kind == "OO":
            parents.setdefault(child, []).append(parent)
        elif kind == "OP" and len(c.props) > 3 and isinstance(c.props[3], str):
            prop_links.setdefault(child, []).append((parent, c.props[3]))

    stacks = [o for o in objects.values() if o.name == "AnimationStack"]
    takes = _top(nodes, "Takes")
    current = takes.find("Current") if takes is not None else None
    wanted = current.props[0] if current is not None and current.props else None
    stack = next((s for s in stacks if _object_name(s) == wanted), stacks[0] if stacks else None)
    take_name = _object_name(stack) if stack is not None else (wanted or "")
    layers = {oid for oid, o in objects.items() if o.name == "AnimationLayer"
              and (stack is None or stack.props[0] in parents.get(oid, []))}

    # Channels of every curve node: node id -> {channel: keys}.
    channels: dict[int, dict[str, Keys]] = {}
    for oid, obj in objects.items():
        if obj.name != "AnimationCurve":
            continue
        for parent, channel in prop_links.get(oid, []):
            channels.setdefault(parent, {})[channel.removeprefix("d|")] = _curve_keys(obj)

    result = FbxCurves(fps=fps, take_name=take_name, start_time=0.0, stop_time=0.0)
    starts, stops = [], []
    for oid, obj in objects.items():
        if obj.name != "AnimationCurveNode" or oid not in channels:
            continue
        if layers and not layers.intersection(parents.get(oid, [])):
            continue  # belongs to another take
        for target_id, prop in prop_links.get(oid, []):
            target = objects.get(target_id)
            if target is None or target.name != "Model":
                continue
            keys = channels[oid]
            for t, _ in keys.values():
                starts.append(t[0])
                stops.append(t[-1])
            model = _object_name(target)
            if prop in _TRANSFORM_PROPS:
                if model == head_name:
                    _add_head(result, prop, keys)
                continue
            name = _object_name(obj) or prop
            if name in result.curves:
                name = f"{model}.{name}"
            result.curves[name] = next(iter(keys.values()))

    if stack is not None:
        stack_props = _props70(stack)
        if "LocalStart" in stack_props and "LocalStop" in stack_props:
            starts = [float(ticks_to_seconds(stack_props["LocalStart"][0]))]
            stops = [float(ticks_to_seconds(stack_props["LocalStop"][0]))]
    result.start_time = min(starts) if starts else 0.0
    result.stop_time = max(stops) if stops else 0.0
    return result


def _add_head(result: FbxCurves, prop: str, keys: dict[str, Keys]) -> None:
    """Convert head Lcl Rotation/Translation channels into UE yaw/pitch/roll and tx/ty/tz keys."""
    if prop == LCL_ROTATION:
        # yaw = -Z, pitch = -Y, roll = X (convention.py); sign flips only, so each channel maps alone.
        names, sources = HEAD_ROTATION_CHANNELS, ("Z", "Y", "X")
        convert = fbx_rotation_to_ue
        target = result.head_rotation
    elif prop == LCL_TRANSLATION:
        names, sources = HEAD_TRANSLATION_CHANNELS, AXIS_CHANNELS
        convert = fbx_translation_to_ue
        target = result.head_translation
    else:
        return
    for index, (name, axis) in enumerate(zip(names, sources, strict=True)):
        if axis not in keys:
            continue
        times, values = keys[axis]
        # Push a single axis through the full conversion to pick up its sign.
        probe = np.zeros((len(values), 3))
        probe[:, AXIS_CHANNELS.index(axis)] = values
        target[name] = (times, convert(probe)[:, index])
