"""Binary FBX 7.4 export and import of animation curves (custom attribute curves + head joint).

    write_fbx_curves(path, {name: per-frame values}, fps, take_name=..., head_rotation=..., ...) -> Path
    read_fbx_curves(path) -> FbxCurves; FbxCurves.sample() -> {name: per-frame values}, head channels
        under the rig names in HEAD_ROTATION_CHANNELS / HEAD_TRANSLATION_CHANNELS
"""
from .binary import FbxFormatError
from .convention import HEAD_ROTATION_CHANNELS, HEAD_TRANSLATION_CHANNELS
from .keyreduce import reduce_keys
from .ktime import TICKS_PER_SECOND
from .reader import FbxCurves, read_fbx_curves
from .writer import FbxExportError, write_fbx_curves

__all__ = ["HEAD_ROTATION_CHANNELS", "HEAD_TRANSLATION_CHANNELS", "TICKS_PER_SECOND", "FbxCurves",
           "FbxExportError", "FbxFormatError", "read_fbx_curves", "reduce_keys", "write_fbx_curves"]
