"""The lip-closure pass: detector head fitting, the closing ramp, checkpoint round trip, generate integration."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.rig import load_rig
from models import corpus_tensors as CT
from models.checkpoint import CheckpointError
from models.closure import CLOSING_CONTROLS, RAMP, ClosureHead, fit
from models.pipeline import NeuralModel


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(f"_vasa_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_T = _sibling("test_neural")
SPF, conds, tiny_model, write_corpus = _T.SPF, _T.conds, _T.tiny_model, _T.write_corpus


def _head(channels: int, threshold: float = 0.5) -> ClosureHead:
    return ClosureHead(weight=[1.0] + [0.0] * (channels - 1), bias=0.0, threshold=threshold,
                       pose=[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])


def test_closing_weight_ramps_around_detected_frames():
    head = _head(4)
    prob = torch.zeros(12)
    prob[6] = 0.9
    w = head.closing_weight(prob)
    assert w[6] == 1.0 and torch.allclose(w[4:9], torch.tensor(RAMP))
    assert w[:4].abs().sum() == 0 and w[9:].abs().sum() == 0


def test_apply_moves_only_the_lip_closing_controls():
    rig = load_rig()
    cols = [rig.index(n) for n in CLOSING_CONTROLS]
    head = _head(4)
    curves = torch.rand(12, 180)
    feats = torch.full((12, 4), -5.0)
    feats[6, 0] = 5.0  # one frame detected
    out = head.apply(curves, feats)
    others = [c for c in range(180) if c not in cols]
    assert torch.equal(out[:, others], curves[:, others])
    assert torch.allclose(out[6, cols], torch.tensor(head.pose))  # full weight on the detected frame
    assert torch.equal(out[:3], curves[:3])
    assert not torch.equal(out[5, cols], curves[5, cols])  # the ramp reaches the neighbours


def test_fit_finds_bilabials_and_the_closed_pose(tmp_path):
    corpus = CT.load(write_corpus(tmp_path, n=8))
    model = tiny_model()
    head = fit(model, [corpus], iters=50)
    assert len(head.weight) == model.encoder.config.channels and len(head.pose) == len(CLOSING_CONTROLS)
    assert 0.0 < head.threshold < 1.0 and np.isfinite(head.bias)
    rig = load_rig()
    cols = [rig.index(n) for n in CLOSING_CONTROLS]
    i = corpus.indices("train", labelled=True)[0].item()
    flags = CT.bilabial_frames(corpus.phones[i], int(corpus.num_frames[i]))
    values = corpus.curves[corpus.sample_frames(i)][torch.from_numpy(flags)][:, cols]
    assert values.min(0).values.le(torch.tensor(head.pose) + 1e-6).all()  # a median of bilabial frames
    with torch.no_grad():
        feats = model.encoder(torch.from_numpy(corpus.sample_audio(i))[None], len(flags))[0]
    prob = head.probability(feats)
    assert prob[torch.from_numpy(flags)].mean() > prob[~torch.from_numpy(flags)].mean()


def test_checkpoint_keeps_the_head_and_generate_uses_it(tmp_path):
    model = tiny_model()
    model.closure = _head(model.encoder.config.channels, threshold=0.0)  # every frame detected
    model.save(tmp_path / "m.pt")
    loaded = NeuralModel.load(tmp_path / "m.pt")[0]
    assert loaded.closure == model.closure
    n = 60
    audio = np.random.default_rng(0).normal(0, 0.1, int(n * SPF)).astype(np.float32)
    on = loaded.generate(audio, n, *conds(n), seed=1, steps=2)
    off = loaded.generate(audio, n, *conds(n), seed=1, steps=2, closure=False)
    rig = load_rig()
    cols = [rig.index(c) for c in CLOSING_CONTROLS]
    others = [c for c in range(180) if c not in cols]
    assert np.array_equal(on[:, others], off[:, others])
    np.testing.assert_allclose(on[:, cols], np.tile(model.closure.pose, (n, 1)), atol=1e-6)


def test_malformed_head_is_refused(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "m.pt", extra={"closure": {"weight": [1.0, 2.0], "bias": 0.0, "threshold": 0.5,
                                                     "pose": [0.0] * 7}})
    with pytest.raises(CheckpointError, match="closure head"):
        NeuralModel.load(tmp_path / "m.pt")
