"""Write animation curves to a binary FBX 7.4 file that Unreal Engine imports as custom attribute curves.

Scene: a `root` joint (LimbNode Model + Skeleton NodeAttribute, parented to the scene root) with a child
`head` joint. Each curve becomes an animated user-defined double property on `root` (flags "A+U"),
driven by an AnimationCurveNode named after the curve (channel "d|<name>") and one AnimationCurve with
linear keys. Head rotation/translation, when given, animate the head joint's Lcl Rotation/Translation
(axis mapping in convention.py). One AnimationStack (named after the take) with one AnimationLayer.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.atomic import atomic_write_bytes

from .binary import CREATION_TIME, FILE_ID, WRITE_VERSION, FbxNode, encode_document
from .convention import (
    AXIS_CHANNELS,
    AXIS_SETTINGS,
    FLAGS_ANIMATABLE,
    FLAGS_ANIMATED,
    FLAGS_USER_ANIMATED,
    KEY_ATTR_DATA,
    KEY_FLAGS_LINEAR,
    KEY_VERSION,
    LCL_ROTATION,
    LCL_SCALING,
    LCL_TRANSLATION,
    UNIT_SCALE_CM,
    ue_rotation_to_fbx,
    ue_translation_to_fbx,
)
from .keyreduce import reduce_keys
from .ktime import TIME_MODE_CUSTOM, frames_to_ticks, time_mode_for

CREATOR = "VASA-Rig Studio FBX curve export"
APPLICATION_NAME = "VASA-Rig Studio"
SEP = "\x00\x01"  # separates object name and class in binary FBX object names

# Names written into the root joint's Properties70; curves may not reuse them.
_RESERVED_NAMES = frozenset({
    LCL_TRANSLATION, LCL_ROTATION, LCL_SCALING, "RotationActive", "InheritType", "ScalingMax",
    "DefaultAttributeIndex", "Visibility", "PreRotation", "PostRotation", "RotationOrder",
})


class FbxExportError(ValueError):
    """The curves cannot be exported as given (bad shapes, NaN, bad names) or the file cannot be written."""


@dataclass
class _Curve:
    name: str       # curve node name
    channel: str    # channel name, "d|<channel>"
    ticks: np.ndarray
    values: np.ndarray  # float32 key values


def _P(name: str, ptype: str, label: str, flags: str, *values) -> FbxNode:
    return FbxNode("P", [name, ptype, label, flags, *values])


def _as_2d(name: str, array, frames: int) -> np.ndarray:
    arr = np.asarray(array, dtype=np.float64)
    if arr.shape != (frames, 3):
        raise FbxExportError(f"{name} must have shape ({frames}, 3), got {arr.shape}")
    _check_finite(name, arr)
    return arr


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        raise FbxExportError(f"{name} holds NaN or infinite values (first at frame {frame}); nothing written")


def _key_indices(values: np.ndarray, tolerance: float | None) -> np.ndarray:
    if tolerance is None:
        return np.arange(len(values), dtype=np.int64)
    return reduce_keys(values, tolerance)


def _validate_curves(curves: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray, int]:
    names = list(curves)
    if not names:
        return [], np.zeros((0, 0)), -1
    arrays = []
    frames = None
    for name in names:
        if not isinstance(name, str) or not name or SEP in name or "\x00" in name:
            raise FbxExportError(f"invalid curve name {name!r}")
        if name in _RESERVED_NAMES:
            raise FbxExportError(f"curve name {name!r} clashes with a built-in FBX joint property")
        arr = np.asarray(curves[name], dtype=np.float64)
        if arr.ndim != 1:
            raise FbxExportError(f"curve {name!r} must be 1-D (one value per frame), got shape {arr.shape}")
        if frames is None:
            frames = len(arr)
        elif len(arr) != frames:
            raise FbxExportError(f"curve {name!r} has {len(arr)} frames, expected {frames} like the others")
        _check_finite(f"curve {name!r}", arr)
        arrays.append(arr)
    return names, np.stack(arrays), int(frames)


def write_fbx_curves(
    path: str | os.PathLike,
    curves: Mapping[str, np.ndarray],
    fps: float,
    *,
    take_name: str,
    root_name: str = "root",
    head_name: str = "head",
    head_rotation: np.ndarray | None = None,
    head_translation: np.ndarray | None = None,
    start_frame: int = 0,
    key_tolerance: float | None = 1e-4,
    drop_constant: bool = False,
    rest: Mapping[str, float] | None = None,
) -> Path:
    """Write ``curves`` (name -> per-frame values) as a binary FBX 7.4 take; return the path written.

    fps: frames per second of the samples; frame k sits at time (start_frame + k) / fps.
    head_rotation: (frames, 3) yaw, pitch, roll in degrees; head_translation: (frames, 3) cm (UE axes).
    key_tolerance: keys that linear interpolation between the kept keys reproduces within this absolute
        tolerance are dropped (first and last always kept); None keeps every key.
    drop_constant: skip curves whose every value equals their rest value (``rest[name]``, default 0)
        within key_tolerance (exactly, as float32, when key_tolerance is None).
    The file is written atomically: on any error no file (and no partial file) is left at ``path``.
    """
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise FbxExportError(f"frame rate must be a positive number, got {fps}")
    if key_tolerance is not None and not (np.isfinite(key_tolerance) and key_tolerance >= 0):
        raise FbxExportError(f"key tolerance must be >= 0 or None, got {key_tolerance}")
    if not take_name or SEP in take_name:
        raise FbxExportError(f"invalid take name {take_name!r}")
    for label, joint in (("root", root_name), ("head", head_name)):
        if not joint or SEP in joint:
            raise FbxExportError(f"invalid {label} joint name {joint!r}")
    if root_name == head_name:
        raise FbxExportError("root and head joints need different names")

    names, data, frames = _validate_curves(curves)
    for arr in (head_rotation, head_translation):
        if arr is not None and frames < 0:
            frames = len(np.asarray(arr))
    if frames < 1:
        raise FbxExportError("nothing to export: no frames")
    rot = None if head_rotation is None else _as_2d("head_rotation", head_rotation, frames)
    trans = None if head_translation is None else _as_2d("head_translation", head_translation, frames)

    frame_numbers = int(start_frame) + np.arange(frames)
    ticks = frames_to_ticks(frame_numbers, fps)
    rest = rest or {}
    const_tol = 0.0 if key_tolerance is None else float(key_tolerance)

    user: list[_Curve] = []
    for name, values in zip(names, data, strict=True):
        if drop_constant:
            rest_value = float(rest.get(name, 0.0))
            stored = values.astype(np.float32).astype(np.float64)
            if np.max(np.abs(stored - np.float32(rest_value))) <= const_tol:
                continue
        keep = _key_indices(values, key_tolerance)
        user.append(_Curve(name, name, ticks[keep], values[keep].astype(np.float32)))

    head: dict[str, list[_Curve]] = {}
    for prop, arr, node_name in ((LCL_ROTATION, rot, "R"), (LCL_TRANSLATION, trans, "T")):
        if arr is None:
            continue
        fbx = ue_rotation_to_fbx(arr) if prop == LCL_ROTATION else ue_translation_to_fbx(arr)
        head[prop] = []
        for axis, column in zip(AXIS_CHANNELS, fbx.T, strict=True):
            keep = _key_indices(column, key_tolerance)
            head[prop].append(_Curve(node_name, axis, ticks[keep], column[keep].astype(np.float32)))

    nodes = _build_scene(user, head, fps, take_name, root_name, head_name, int(ticks[0]), int(ticks[-1]))
    return _atomic_write(Path(path), encode_document(nodes))


def _atomic_write(path: Path, payload: bytes) -> Path:
    try:
        atomic_write_bytes(path, payload)
    except OSError as exc:
        raise FbxExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


# ------------------------------------------------------------------------------------------ scene graph

class _Ids:
    """Deterministic object ids (any unique non-zero int64 will do; 0 is the scene root)."""

    def __init__(self) -> None:
        self._next = 1_000_000

    def new(self) -> np.int64:
        self._next += 1
        return np.int64(self._next)


def _joint(ids: _Ids, name: str, animated: set[str], user_props: list[FbxNode]) -> tuple[FbxNode, FbxNode]:
    model_id = ids.new()
    props = FbxNode("Properties70", children=[
        _P("RotationActive", "bool", "", "", 1),
        _P("InheritType", "enum", "", "", 1),
        _P("ScalingMax", "Vector3D", "Vector", "", 0.0, 0.0, 0.0),
        _P("DefaultAttributeIndex", "int", "Integer", "", 0),
        _P(LCL_TRANSLATION, LCL_TRANSLATION, "", FLAGS_ANIMATED if LCL_TRANSLATION in animated
           else FLAGS_ANIMATABLE, 0.0, 0.0, 0.0),
        _P(LCL_ROTATION, LCL_ROTATION, "", FLAGS_ANIMATED if LCL_ROTATION in animated else FLAGS_ANIMATABLE,
           0.0, 0.0, 0.0),
        _P(LCL_SCALING, LCL_SCALING, "", FLAGS_ANIMATABLE, 1.0, 1.0, 1.0),
        *user_props,
    ])
    model = FbxNode("Model", [model_id, f"{name}{SEP}Model", "LimbNode"], [
        FbxNode("Version", [232]),
        props,
        FbxNode("Shading", [True]),
        FbxNode("Culling", ["CullingOff"]),
    ])
    attr = FbxNode("NodeAttribute", [ids.new(), f"{name}{SEP}NodeAttribute", "LimbNode"], [
        FbxNode("Properties70", children=[_P("Size", "double", "Number", "", 1.0)]),
        FbxNode("TypeFlags", ["Skeleton"]),
    ])
    return model, attr


def _curve_nodes(ids: _Ids, curves: list[_Curve], node_name: str, layer_id, target_id, prop: str,
                 objects: list[FbxNode], links: list[FbxNode]) -> None:
    """AnimationCurveNode + one AnimationCurve per channel, connected to ``prop`` of ``target_id``."""
    node_id = ids.new()
    props = [_P(f"d|{c.channel}", "Number", "", FLAGS_ANIMATABLE, float(c.values[0])) for c in curves]
    objects.append(FbxNode("AnimationCurveNode", [node_id, f"{node_name}{SEP}AnimCurveNode", ""],
                           [FbxNode("Properties70", children=props)]))
    links.append(FbxNode("C", ["OO", node_id, layer_id]))
    links.append(FbxNode("C", ["OP", node_id, target_id, prop]))
    for curve in curves:
        curve_id = ids.new()
        objects.append(FbxNode("AnimationCurve", [curve_id, f"{SEP}AnimCurve", ""], [
            FbxNode("Default", [float(curve.values[0])]),
            FbxNode("KeyVer", [KEY_VERSION]),
            FbxNode("KeyTime", [np.ascontiguousarray(curve.ticks, dtype=np.int64)]),
            FbxNode("KeyValueFloat", [np.ascontiguousarray(curve.values, dtype=np.float32)]),
            FbxNode("KeyAttrFlags", [np.array([KEY_FLAGS_LINEAR], dtype=np.int32)]),
            FbxNode("KeyAttrDataFloat", [KEY_ATTR_DATA.copy()]),
            FbxNode("KeyAttrRefCount", [np.array([len(curve.ticks)], dtype=np.int32)]),
        ]))
        links.append(FbxNode("C", ["OP", curve_id, node_id, f"d|{curve.channel}"]))


def _build_scene(user: list[_Curve], head: dict[str, list[_Curve]], fps: float, take_name: str,
                 root_name: str, head_name: str, start: int, stop: int) -> list[FbxNode]:
    ids = _Ids()
    start_t, stop_t = np.int64(start), np.int64(stop)
    user_props = [_P(c.name, "double", "Number", FLAGS_USER_ANIMATED, float(c.values[0])) for c in user]
    root_model, root_attr = _joint(ids, root_name, set(), user_props)
    head_model, head_attr = _joint(ids, head_name, set(head), [])
    root_id, head_id = root_model.props[0], head_model.props[0]

    stack_id, layer_id = ids.new(), ids.new()
    stack = FbxNode("AnimationStack", [stack_id, f"{take_name}{SEP}AnimStack", ""], [
        FbxNode("Properties70", children=[
            _P("LocalStart", "KTime", "Time", "", start_t),
            _P("LocalStop", "KTime", "Time", "", stop_t),
            _P("ReferenceStart", "KTime", "Time", "", start_t),
            _P("ReferenceStop", "KTime", "Time", "", stop_t),
        ])])
    layer = FbxNode("AnimationLayer", [layer_id, f"BaseLayer{SEP}AnimLayer", ""])

    objects = [root_attr, head_attr, root_model, head_model, stack, layer]
    links = [
        FbxNode("C", ["OO", root_id, np.int64(0)]),
        FbxNode("C", ["OO", head_id, root_id]),
        FbxNode("C", ["OO", root_attr.props[0], root_id]),
        FbxNode("C", ["OO", head_attr.props[0], head_id]),
        FbxNode("C", ["OO", layer_id, stack_id]),
    ]
    for curve in user:
        _curve_nodes(ids, [curve], curve.name, layer_id, root_id, curve.name, objects, links)
    for prop, curves in head.items():
        _curve_nodes(ids, curves, curves[0].name, layer_id, head_id, prop, objects, links)

    counts = {"Model": 2, "NodeAttribute": 2, "AnimationStack": 1, "AnimationLayer": 1,
              "AnimationCurveNode": len(user) + len(head),
              "AnimationCurve": len(user) + sum(len(c) for c in head.values())}
    return [
        _header_extension(),
        FbxNode("FileId", [FILE_ID]),
        FbxNode("CreationTime", [CREATION_TIME]),
        FbxNode("Creator", [CREATOR]),
        _global_settings(fps, start_t, stop_t),
        FbxNode("Documents", children=[
            FbxNode("Count", [1]),
            FbxNode("Document", [ids.new(), "Scene", "Scene"], [
                FbxNode("Properties70", children=[
                    _P("SourceObject", "object", "", ""),
                    _P("ActiveAnimStackName", "KString", "", "", take_name),
                ]),
                FbxNode("RootNode", [np.int64(0)]),
            ]),
        ]),
        FbxNode("References"),
        _definitions(counts),
        FbxNode("Objects", children=objects),
        FbxNode("Connections", children=links),
        FbxNode("Takes", children=[
            FbxNode("Current", [take_name]),
            FbxNode("Take", [take_name], [
                FbxNode("FileName", [f"{take_name}.tak"]),
                FbxNode("LocalTime", [start_t, stop_t]),
                FbxNode("ReferenceTime", [start_t, stop_t]),
            ]),
        ]),
    ]


def _header_extension() -> FbxNode:
    now = datetime.datetime.now()
    stamp = FbxNode("CreationTimeStamp", children=[
        FbxNode(key, [value]) for key, value in (
            ("Version", 1000), ("Year", now.year), ("Month", now.month), ("Day", now.day),
            ("Hour", now.hour), ("Minute", now.minute), ("Second", now.second),
            ("Millisecond", now.microsecond // 1000))
    ])
    scene_info = FbxNode("SceneInfo", [f"GlobalInfo{SEP}SceneInfo", "UserData"], [
        FbxNode("Type", ["UserData"]),
        FbxNode("Version", [100]),
        FbxNode("MetaData", children=[FbxNode("Version", [100])] + [
            FbxNode(key, [""]) for key in ("Title", "Subject", "Author", "Keywords", "Revision", "Comment")]),
        FbxNode("Properties70", children=[
            _P("Original|ApplicationName", "KString", "", "", APPLICATION_NAME),
            _P("LastSaved|ApplicationName", "KString", "", "", APPLICATION_NAME),
        ]),
    ])
    return FbxNode("FBXHeaderExtension", children=[
        FbxNode("FBXHeaderVersion", [1003]),
        FbxNode("FBXVersion", [WRITE_VERSION]),
        FbxNode("EncryptionType", [0]),
        stamp,
        FbxNode("Creator", [CREATOR]),
        scene_info,
    ])


def _global_settings(fps: float, start: np.int64, stop: np.int64) -> FbxNode:
    mode = time_mode_for(fps)
    props = [_P(key, "int", "Integer", "", value) for key, value in AXIS_SETTINGS.items()]
    props += [
        _P("UnitScaleFactor", "double", "Number", "", UNIT_SCALE_CM),
        _P("OriginalUnitScaleFactor", "double", "Number", "", UNIT_SCALE_CM),
        _P("AmbientColor", "ColorRGB", "Color", "", 0.0, 0.0, 0.0),
        _P("DefaultCamera", "KString", "", "", "Producer Perspective"),
        _P("TimeMode", "enum", "", "", mode),
        _P("TimeProtocol", "enum", "", "", 2),
        _P("SnapOnFrameMode", "enum", "", "", 0),
        _P("TimeSpanStart", "KTime", "Time", "", start),
        _P("TimeSpanStop", "KTime", "Time", "", stop),
        _P("CustomFrameRate", "double", "Number", "", fps if mode == TIME_MODE_CUSTOM else -1.0),
        _P("CurrentTimeMarker", "int", "Integer", "", -1),
    ]
    return FbxNode("GlobalSettings", children=[FbxNode("Version", [1000]),
                                               FbxNode("Properties70", children=props)])


def _definitions(counts: dict[str, int]) -> FbxNode:
    types = [FbxNode("ObjectType", ["GlobalSettings"], [FbxNode("Count", [1])])]
    for name, count in counts.items():
        obj = FbxNode("ObjectType", [name], [FbxNode("Count", [count])])
        if name == "AnimationCurveNode":
            obj.children.append(FbxNode("PropertyTemplate", ["FbxAnimCurveNode"], [
                FbxNode("Properties70", children=[_P("d", "Compound", "", "")])]))
        types.append(obj)
    return FbxNode("Definitions", children=[
        FbxNode("Version", [100]),
        FbxNode("Count", [1 + sum(counts.values())]),
        *types,
    ])
