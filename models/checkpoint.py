"""Checkpoints: weights + the dataclass configs that built them + a format version, in one torch file.

Loading uses ``torch.load(weights_only=True)`` (no pickled code runs) and strict state-dict loading; any mismatch
raises CheckpointError with a message that says what does not fit, never a silent partial load.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from app.core.atomic import atomic_write

FORMAT = "vasa-rig-neural"
VERSION = 1


class CheckpointError(Exception):
    """The checkpoint cannot be used: missing, unreadable, from another version, or not matching its configs."""


def _config_dict(cfg: Any) -> dict:
    d = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def save_checkpoint(path: str | os.PathLike, modules: dict[str, torch.nn.Module], *,
                    extra: dict[str, Any] | None = None) -> None:
    """Write {name: module} (each with a ``config`` dataclass) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "configs": {name: _config_dict(m.config) for name, m in modules.items()},
        "state": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()} for name, m in modules.items()},
        "extra": extra or {},
    }
    with atomic_write(path) as f:
        torch.save(payload, f)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw payload, after the format and version checks."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message advises loading with weights_only=False, which would run whatever the file holds.
        raise CheckpointError(f"checkpoint {path.name} holds objects other than tensors and plain data; it was "
                              "refused without running them") from None
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path.name} cannot be read: {_first_line(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a VASA-Rig neural engine checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path.name} has checkpoint version {payload.get('version')}, this program reads "
                              f"version {VERSION}; retrain or use a matching release")
    return payload


def build_module(payload: dict, name: str, config_cls: type, module_cls: type) -> torch.nn.Module:
    """Instantiate ``module_cls(config_cls(**saved config))`` and load its weights strictly."""
    if name not in payload["configs"] or name not in payload["state"]:
        raise CheckpointError(f"checkpoint has no '{name}' model")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    saved = payload["configs"][name]
    unknown = set(saved) - fields
    if unknown:
        raise CheckpointError(f"checkpoint's '{name}' config has fields this program does not know: "
                              f"{', '.join(sorted(unknown))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
    module = module_cls(config_cls(**kwargs))
    try:
        module.load_state_dict(payload["state"][name], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise CheckpointError(f"checkpoint's '{name}' weights do not match its config: {' '.join(first)}") from exc
    return module
