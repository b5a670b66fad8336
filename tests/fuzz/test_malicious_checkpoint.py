"""A torch checkpoint carrying a pickle payload is refused by every path that loads weights, without running it."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this creates ``marker`` (the stand-in for arbitrary code); pickled as a call to builtins.open."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_files(tmp_path) -> list[Path]:
    """The payload as a bare torch file, inside a plausible neural checkpoint, in the legacy torch format, inside a
    rendered corpus, and as a plain pickle."""
    marker = tmp_path / "payload-ran"
    files = []
    bare = tmp_path / "bare.pt"
    torch.save(Payload(marker), bare)
    files.append(bare)
    ckpt = tmp_path / "neural.pt"
    torch.save({"format": "vasa-rig-neural", "version": 1, "configs": {}, "state": {}, "extra": Payload(marker)},
               ckpt)
    files.append(ckpt)
    legacy = tmp_path / "legacy.pt"
    torch.save({"format": "vasa-rig-neural", "version": 1, "w": torch.zeros(2), "x": Payload(marker)}, legacy,
               _use_new_zipfile_serialization=False)
    files.append(legacy)
    rendered = tmp_path / "rendered.pt"
    torch.save({"format": "vasa-rig-rendered", "corpus": Payload(marker)}, rendered)
    files.append(rendered)
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"format": "vasa-rig-neural", "x": Payload(marker)}))
    files.append(plain)
    return files


def loaders():
    """(name, call) for every function that reads weights or other torch files given a path."""
    from app.engines import neural
    from app.engines.phonetics import mouth_shapes
    from models import finetune, pipeline, visemes
    from models.checkpoint import read_checkpoint

    return [
        ("models.checkpoint.read_checkpoint", read_checkpoint),
        ("models.visemes.VisemeRecogniser.load", lambda p: visemes.VisemeRecogniser.load(p)),
        ("models.visemes.load_cached", lambda p: visemes.load_cached(p)),
        ("models.pipeline.NeuralModel.load", lambda p: pipeline.NeuralModel.load(p)),
        ("models.finetune.load_rendered", lambda p: finetune.load_rendered(str(p))),
        ("app.engines.neural.load_model", lambda p: neural.load_model(p, "cpu")),
        ("app.engines.phonetics.mouth_shapes.recognise",
         lambda p: mouth_shapes.recognise(np.zeros(1600, np.float32), weights=p)),
        ("torch.load(weights_only=True) (training resume: models.train, train_visemes, gpu_session)",
         lambda p: torch.load(p, map_location="cpu", weights_only=True)),
    ]


def test_load_rendered_refuses_with_its_own_error(tmp_path):
    from models.finetune import PackError, load_rendered

    with pytest.raises(PackError):
        load_rendered(str(hostile_files(tmp_path)[3]))


def test_the_payload_is_live(tmp_path):
    """Control: loaded with pickle allowed, the payload does create its marker, so the refusals below mean
    something."""
    bare = hostile_files(tmp_path)[0]
    torch.load(bare, weights_only=False)
    assert (tmp_path / "payload-ran").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("index", range(8), ids=lambda i: f"loader{i}")
def test_every_weights_loader_refuses_a_pickle_payload(tmp_path, tally, index):
    name, load = loaders()[index]
    marker = tmp_path / "payload-ran"
    tally["loaders"] += 1
    for path in hostile_files(tmp_path):
        with pytest.raises(Exception) as info:  # noqa: B017 - each loader has its own error type, checked below
            load(path)
        if marker.exists():
            tally["payloads_run"] += 1
        assert not marker.exists(), f"{name} ran the payload in {path.name}"
        message = str(info.value)
        if not name.startswith("torch.load"):
            # A clear one-line refusal of the loader's own kind, not an unpickling traceback.
            assert type(info.value).__name__ in ("CheckpointError", "NeuralEngineError", "RecogniserError",
                                                 "PackError"), f"{name} on {path.name}: {type(info.value)}"
            assert message and Path(path).name in message, f"{name} on {path.name}: {message[:200]}"


def test_checkpoint_refusal_is_one_line_without_unsafe_advice(tmp_path):
    from models.checkpoint import CheckpointError, read_checkpoint

    with pytest.raises(CheckpointError) as info:
        read_checkpoint(hostile_files(tmp_path)[0])
    message = str(info.value)
    assert "\n" not in message.strip() and "weights_only" not in message


def test_every_torch_load_in_the_code_refuses_pickled_code():
    """Every torch.load call in app/ and models/ passes weights_only=True, and no np.load allows pickles: the
    resume paths of training, which the test above cannot reach without a training run, included."""
    bad = []
    calls = 0
    for path in sorted(list((ROOT / "app").rglob("*.py")) + list((ROOT / "models").rglob("*.py"))):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and node.func.attr == "load" and owner.id in ("torch", "np")):
                continue
            calls += 1
            kw = {k.arg: k.value for k in node.keywords}
            if owner.id == "torch":
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
            else:
                ok = not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is True)
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls >= 10
    assert not bad, f"loads that may run pickled code: {bad}"
