"""Fine-tuning additions on tiny configs: selective corpus loading, p/b/m frame flags, the closure-weighted loss,
the latent pack round trip, smoothing, fine-tuning from a checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models import corpus_tensors as CT
from models import finetune as FT
from models.pipeline import NeuralModel, smooth_time
from models.train import TrainConfig, TrainingState, a2l_batch_loss, a2l_stage, train


def _load_sibling(name: str):
    """The shared tiny fixtures of test_neural.py (tests are imported in importlib mode, without packages)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(f"_vasa_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_T = _load_sibling("test_neural")
SPF, conds, tiny_configs, tiny_model, write_corpus = _T.SPF, _T.conds, _T.tiny_configs, _T.tiny_model, _T.write_corpus


def test_bilabial_frames_match_the_closure_window():
    flags = CT.bilabial_frames([["SIL", 0.0, 0.1], ["M", 0.1, 0.2], ["AA", 0.2, 0.4]], 30)
    # M covers frames 6..11 (times 0.1..0.2 s at 60 fps), widened by one frame either side.
    assert np.flatnonzero(flags).tolist() == list(range(5, 13))


def test_load_select_and_bilabial_flags(tmp_path):
    write_corpus(tmp_path)
    full = CT.load(tmp_path)
    val = CT.load(tmp_path, select=lambda s: s["split"] == "val_voice").with_bilabial()
    assert val.split == ["val_voice"] and int(val.num_frames[0]) == int(full.num_frames[-1])
    assert torch.equal(val.curves, full.curves[full.sample_frames(len(full.split) - 1)])
    assert val.bilabial.sum() == 8  # the synthetic phones hold one M of 6 frames
    batch = val.crops(val.indices("val_voice"), 2, 40, torch.Generator().manual_seed(0))
    assert batch["bilabial"].dtype == torch.bool and batch["bilabial"].any()


def test_closure_weight_raises_the_loss_on_bilabial_frames(tmp_path):
    corpus = CT.load(write_corpus(tmp_path)).with_bilabial()
    model = tiny_model()
    cfg = tiny_configs()[2]
    batch = corpus.crops(corpus.indices("train"), 4, 30, torch.Generator().manual_seed(1))
    batch["bilabial"][:] = False
    batch["bilabial"][:, 10:20] = True
    plain = a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=False)
    weighted = a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=False, closure_weight=5.0)
    assert torch.isfinite(weighted) and not torch.isclose(plain, weighted)
    nothing = dict(batch, bilabial=torch.zeros_like(batch["bilabial"]))
    same = a2l_batch_loss(model, nothing, cfg, torch.Generator().manual_seed(2), train=False, closure_weight=5.0)
    assert torch.isclose(plain, same)


def test_latent_pack_round_trip_and_finetune_step(tmp_path):
    (tmp_path / "c").mkdir()
    corpus_dir = write_corpus(tmp_path / "c", n=6)
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    for k, s in enumerate(manifest["samples"]):
        s.update(id=f"s{k}", source="flite", duration=1.5)
    (corpus_dir / "manifest.json").write_text(json.dumps(manifest))
    model = tiny_model()
    model.save(tmp_path / "m.pt")
    FT.pack(str(corpus_dir), str(tmp_path / "m.pt"), str(tmp_path / "p.npz"), {"flite": 100.0})
    packed = FT.load_pack(str(tmp_path / "p.npz"))
    assert packed.latent_targets and packed.curves.shape[1] == 4 and packed.bilabial.any()
    full = CT.load(corpus_dir)
    with torch.no_grad():
        z = model.rig.encode(full.curves)
    order = [int(s["index"]) for s in manifest["samples"]]  # every clip selected: same frames, same order
    assert sorted(order) == order and packed.curves.shape[0] == z.shape[0]
    assert (packed.curves - z).abs().max() <= 0.5 / FT.LATENT_SCALE + 1e-6
    cfg = TrainConfig(*tiny_configs(), a2l_steps=3, batch=4, val_every=100, augment=False, closure_weight=3.0)
    ema = a2l_stage(model, packed, cfg, TrainingState(None), lambda m: None, lambda m: None)
    n = 40
    out = ema.generate(full.sample_audio(0)[: int(n * SPF)], n, *conds(n), seed=0, steps=2)
    assert out.shape == (n, 180) and np.isfinite(out).all()


def test_smooth_time_keeps_constants_and_lowers_jitter():
    z = torch.cumsum(torch.randn(200, 3, generator=torch.Generator().manual_seed(0)), 0)
    s = smooth_time(z, 1)
    assert s.shape == z.shape
    assert torch.allclose(smooth_time(torch.full((10, 2), 3.0), 2), torch.full((10, 2), 3.0))
    assert (s.diff(n=2, dim=0).abs().mean() < 0.6 * z.diff(n=2, dim=0).abs().mean())
    assert torch.equal(smooth_time(z, 0), z)


def test_generate_with_smoothing_is_deterministic():
    model: NeuralModel = tiny_model()
    n = 60
    audio = np.random.default_rng(0).normal(0, 0.1, int(n * SPF)).astype(np.float32)
    a = model.generate(audio, n, *conds(n), seed=3, steps=2, smooth=1)
    assert np.array_equal(a, model.generate(audio, n, *conds(n), seed=3, steps=2, smooth=1))
    raw = model.generate(audio, n, *conds(n), seed=3, steps=2, smooth=0)
    assert not np.array_equal(a, raw)
    from app.core.rig import load_rig
    from models.pipeline import SHARP_CHANNELS

    sharp = [load_rig().index(name) for name in SHARP_CHANNELS]
    assert np.array_equal(a[:, sharp], raw[:, sharp])  # blinks keep their shape


def test_train_init_finetunes_a_checkpoint(tmp_path):
    corpus = CT.load(write_corpus(tmp_path))
    start = tiny_model()
    start.save(tmp_path / "start.pt")
    cfg = TrainConfig(a2l_steps=3, batch=4, val_every=100, augment=False, closure_weight=3.0)
    tuned = train(corpus, tmp_path / "tuned.pt", cfg, report=lambda m: None, init=tmp_path / "start.pt")
    # The configs came from the checkpoint (the defaults would build a far larger model), the autoencoder is
    # unchanged and the Audio2Latents weights moved.
    assert tuned.a2l.config == start.a2l.config
    assert torch.equal(tuned.rig.decoder[0].weight, start.rig.decoder[0].weight)
    assert not torch.equal(tuned.a2l.out.weight, start.a2l.out.weight)
    assert NeuralModel.load(tmp_path / "tuned.pt")[0].a2l.config == start.a2l.config
    regression = TrainConfig(a2l_steps=1, batch=4)
    regression.audio2latents.objective = "regression"
    with pytest.raises(ValueError, match="flow model"):
        train(corpus, tmp_path / "r.pt", regression, report=lambda m: None, init=tmp_path / "start.pt")


def test_app_default_steps_match_the_model_default():
    from app.ui.engine_bridge import GenerationRequest
    from models.pipeline import DEFAULT_STEPS

    assert GenerationRequest().steps == DEFAULT_STEPS
