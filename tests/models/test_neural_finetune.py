"""Fine-tuning additions on tiny configs: selective corpus loading, p/b/m frame flags, the closure-weighted loss,
the pack / render round trip, the lip-closure pass, smoothing, fine-tuning from a checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.core.rig import load_rig
from models import corpus_tensors as CT
from models import finetune as FT
from models.checkpoint import CheckpointError
from models.closure import CLOSING_CONTROLS, RAMP, ClosureHead
from models.fit_closure import fit
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
CHANNELS = _T.CHANNELS


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


def test_viseme_frames_follow_the_phone_under_each_frame():
    v = CT.viseme_frames([["SIL", 0.0, 0.1], ["M", 0.1, 0.2], ["AA", 0.2, 0.3], ["XX", 0.3, 0.4]], 30)
    assert v[:6].tolist() == [0] * 6 and v[6:12].tolist() == [1] * 6  # frames 6-11 (0.100-0.183 s) fall in M
    open_class = [k for k, group in enumerate(CT.VISEME_CLASSES) if "AA" in group][0]
    assert v[12:18].tolist() == [open_class] * 6 and v[18:24].tolist() == [0] * 6  # unknown phones: class 0


def test_viseme_loss_trains_the_encoder_through_its_head(tmp_path):
    corpus = CT.load(write_corpus(tmp_path)).with_visemes()
    model = tiny_model()
    cfg = tiny_configs()[2]
    batch = corpus.crops(corpus.indices("train"), 4, 30, torch.Generator().manual_seed(1))
    assert batch["viseme"].dtype == torch.long and (batch["viseme"][~batch["mask"]] == -1).all()
    head = torch.nn.Linear(model.encoder.config.channels, len(CT.VISEME_CLASSES))
    plain = a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=False)
    total = a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=False, viseme_head=head,
                           viseme_weight=0.5)
    assert total > plain  # cross-entropy is positive
    total.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert model.encoder.inp.weight.grad.abs().sum() > 0
    unlabelled = dict(batch, viseme=torch.full_like(batch["viseme"], -1))
    same = a2l_batch_loss(model, unlabelled, cfg, torch.Generator().manual_seed(2), train=False, viseme_head=head,
                          viseme_weight=0.5)
    assert torch.isclose(same, plain)  # no labelled frame: no auxiliary term, no NaN
    cfg_train = TrainConfig(*tiny_configs(), a2l_steps=2, batch=4, val_every=100, augment=False, viseme_weight=0.5)
    ema = a2l_stage(model, corpus, cfg_train, TrainingState(None), lambda m: None, lambda m: None)
    assert set(ema.state_dict()) == set(tiny_model().state_dict())  # the head is not part of the model


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


def _pack_fixture(tmp_path):
    """A tiny corpus whose clips carry phones and drawn conditions (what a pack needs), plus one unlabelled
    real clip; returns the corpus folder."""
    (tmp_path / "c").mkdir()
    corpus_dir = write_corpus(tmp_path / "c", n=6)
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    cond = {"emotion_keys": [[0.0, "happy", 0.6]], "gaze": [2.0, -1.0], "eye_contact": 0.8,
            "head_distance": 70.0, "articulation": 1.0, "seed": 5}
    for k, s in enumerate(manifest["samples"]):
        s.update(id=f"s{k}", source="flite", duration=1.5, conditions=cond)
    manifest["samples"][1].update(labelled=False, real=True, source="fillets", phones=None)
    (corpus_dir / "manifest.json").write_text(json.dumps(manifest))
    return corpus_dir


def test_pack_render_round_trip_and_finetune_step(tmp_path):
    from models.data.build import cond_from_meta, render_targets

    corpus_dir = _pack_fixture(tmp_path)
    FT.pack([str(corpus_dir)], str(tmp_path / "p.npz"), {"flite": 100.0}, unlabelled_minutes=1.0)
    header, _z = FT.read_pack_header(str(tmp_path / "p.npz"))
    assert [c["labelled"] for c in header["clips"]].count(False) == 1
    FT.render(str(tmp_path / "p.npz"), str(tmp_path / "r.pt"), workers=1)
    rendered = FT.load_rendered(str(tmp_path / "r.pt"))
    full = CT.load(corpus_dir)
    # Every clip is kept (4 labelled training clips, the unlabelled one, the validation clip) with its audio
    # length; the Opus audio stays close to the original.
    assert sorted(rendered.split) == sorted(full.split) and rendered.bilabial.any()
    assert len(rendered.audio) == len(full.audio)
    assert not bool(rendered.labelled[[c["labelled"] for c in header["clips"]].index(False)])
    k = [c["labelled"] for c in header["clips"]].index(True)
    row = header["clips"][k]
    a = rendered.audio[int(rendered.audio_start[k]):int(rendered.audio_start[k]) + row["samples"]].numpy()
    j = int(row["id"][1:])  # the fixture's ids are s0..s5 in corpus order
    orig = full.audio[int(full.audio_start[j]):int(full.audio_start[j]) + row["samples"]].numpy()
    assert a.shape == orig.shape and np.isfinite(a).all()
    from models.features import log_rms_envelope  # a lossy codec: the loudness envelope survives, not the waveform

    n = int(rendered.num_frames[k])
    assert np.corrcoef(log_rms_envelope(a, n), log_rms_envelope(orig, n))[0, 1] > 0.9
    # The teacher is rendered from the phones, the decoded audio and the conditions.
    from app.engines.phonetics import PhoneSegment

    expect = render_targets([PhoneSegment(p, s, e) for p, s, e in row["phones"]], a,
                            cond_from_meta(row["conditions"]))
    np.testing.assert_allclose(rendered.curves[rendered.sample_frames(k)].numpy(), expect.curves, atol=1e-5)
    model = tiny_model()
    latents = FT.to_latents(model, rendered)
    assert latents.latent_targets and latents.curves.shape == (rendered.curves.shape[0], 4)
    cfg = TrainConfig(*tiny_configs(), a2l_steps=3, batch=4, val_every=100, augment=False, closure_weight=3.0)
    ema = a2l_stage(model, latents, cfg, TrainingState(None), lambda m: None, lambda m: None)
    n = 40
    out = ema.generate(full.sample_audio(0)[: int(n * SPF)], n, *conds(n), channels=CHANNELS, seed=0, steps=2)
    assert out.shape == (n, 180) and np.isfinite(out).all()


def test_pack_of_another_version_is_refused(tmp_path):
    corpus_dir = _pack_fixture(tmp_path)
    FT.pack([str(corpus_dir)], str(tmp_path / "p.npz"), {})
    with np.load(tmp_path / "p.npz") as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header"]))
    header["version"] = 1
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(FT.PackError, match="version 1"):
        FT.read_pack_header(str(tmp_path / "old.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a pack")
    with pytest.raises(FT.PackError, match="not a readable"):
        FT.read_pack_header(str(tmp_path / "junk.npz"))
    with pytest.raises(FT.PackError, match="not a rendered corpus"):
        FT.load_rendered(str(tmp_path / "p.npz"))


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
    a = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=3, steps=2, smooth=1)
    assert np.array_equal(a, model.generate(audio, n, *conds(n), channels=CHANNELS, seed=3, steps=2, smooth=1))
    raw = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=3, steps=2, smooth=0)
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
    from app.core.settings import DEFAULT_GUIDANCE, DEFAULT_STEPS, GenerationSettings
    from models.pipeline import DEFAULT_GUIDANCE as MODEL_GUIDANCE
    from models.pipeline import DEFAULT_STEPS as MODEL_STEPS

    assert GenerationSettings().options.steps == DEFAULT_STEPS == MODEL_STEPS
    assert GenerationSettings().options.guidance == DEFAULT_GUIDANCE == MODEL_GUIDANCE


# --- lip-closure pass (models/closure.py) ---
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
    out = head.apply(curves, feats, CHANNELS.closing)
    others = [c for c in range(180) if c not in cols]
    assert torch.equal(out[:, others], curves[:, others])
    assert torch.allclose(out[6, cols], torch.tensor(head.pose))  # full weight on the detected frame
    assert torch.equal(out[:3], curves[:3])
    assert not torch.equal(out[5, cols], curves[5, cols])  # the ramp reaches the neighbours


def test_fit_finds_bilabials_and_the_closed_pose(tmp_path):
    corpus = CT.load(write_corpus(tmp_path, n=8))
    model = tiny_model()
    head = fit(model, [corpus], iters=50, channels=CHANNELS)
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
    on = loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=1, steps=2)
    off = loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=1, steps=2, closure=False)
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


def test_room_reverb_adds_a_decaying_tail_and_keeps_the_level():
    from models.train import room_reverb

    clicks = torch.zeros(3, 16000)
    clicks[:, 1000] = 1.0
    g = torch.Generator().manual_seed(0)
    wet = room_reverb(clicks, g, fraction=1.0)
    assert torch.allclose(wet.pow(2).mean(1), clicks.pow(2).mean(1), rtol=1e-3)
    before, early, late = wet[:, :1000], wet[:, 1001:2600].abs().mean(1), wet[:, 8000:9600].abs().mean(1)
    assert before.abs().max() < 1e-4  # causal: nothing before the click
    assert (early > 0).all() and (late < early).all()  # a tail that decays
    assert torch.equal(room_reverb(clicks, g, fraction=0.0), clicks)


def test_warp_mel_moves_a_tone_like_a_vocal_tract_length_change():
    import math

    from models.features import LogMel
    from models.train import augment_mel, warp_mel

    t = torch.arange(16000) / 16000
    logmel = LogMel()

    def mel_of(f):
        return logmel(0.3 * torch.sin(2 * math.pi * f * t)[None], 120)

    for f in (300.0, 1000.0, 3000.0):
        for alpha in (0.9, 1.1):
            warped = warp_mel(mel_of(f), torch.tensor([alpha])).mean(2)[0].argmax()
            assert abs(int(warped) - int(mel_of(f * alpha).mean(2)[0].argmax())) <= 1
    mel = mel_of(1000.0).repeat(8, 1, 1)
    assert torch.allclose(warp_mel(mel, torch.ones(8)), mel, atol=1e-4)
    out = augment_mel(mel, torch.Generator().manual_seed(1))
    assert out.shape == mel.shape and torch.isfinite(out).all() and not torch.equal(out, mel)


def test_strong_augmentation_trains(tmp_path):
    corpus = CT.load(write_corpus(tmp_path))
    model = tiny_model()
    before = [p.detach().clone() for p in model.encoder.parameters()]
    cfg = TrainConfig(*tiny_configs(), a2l_steps=3, batch=4, val_every=100, strong_augment=True)
    ema = a2l_stage(model, corpus, cfg, TrainingState(None), lambda m: None, lambda m: None)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.encoder.parameters(), strict=True))
    n = 40
    out = ema.generate(corpus.sample_audio(0)[: int(n * SPF)], n, *conds(n), channels=CHANNELS, seed=0, steps=2)
    assert np.isfinite(out).all()


def test_time_grid_is_uniform_by_default_and_shift_moves_steps_towards_noise():
    from models.sampling import time_grid

    assert time_grid(4) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    shifted = time_grid(2, 1.5)
    assert shifted == pytest.approx([0.0, 0.4, 1.0])
    assert all(a < b for a, b in zip(time_grid(5, 3.0), time_grid(5, 3.0)[1:], strict=False))
    assert time_grid(3, 0.5)[1] > 1 / 3 > time_grid(3, 2.0)[1]
    with pytest.raises(ValueError):
        time_grid(0)


def test_checkpoint_carries_its_time_shift(tmp_path):
    model = tiny_model()
    n = 40
    audio = np.random.default_rng(0).standard_normal(int(n * SPF)).astype(np.float32) * 0.1
    uniform = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2)
    model.time_shift = 1.5
    model.save(tmp_path / "m.pt")
    loaded, extra = NeuralModel.load(tmp_path / "m.pt")
    assert loaded.time_shift == 1.5 and extra["time_shift"] == 1.5
    shifted = loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2)
    assert not np.allclose(shifted, uniform)
    np.testing.assert_allclose(loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2,
                                               time_shift=1.0), uniform, atol=1e-5)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["extra"]["time_shift"] = "fast"
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="time_shift"):
        NeuralModel.load(tmp_path / "bad.pt")


def test_train_command_finetunes_with_the_shipped_recipe(tmp_path, capsys):
    from app.__main__ import main

    data = write_corpus(tmp_path)
    init = tiny_model()
    init.time_shift = 1.5
    init.save(tmp_path / "init.pt")
    out = tmp_path / "out.pt"
    assert main(["train", "--data", str(data), "--out", str(out), "--init", str(tmp_path / "init.pt"),
                 "--steps", "3", "--device", "cpu"]) == 0
    model, extra = NeuralModel.load(out)
    cfg = json.loads(extra["train_config"])
    assert cfg["strong_augment"] and cfg["augment"] and cfg["viseme_weight"] == 1.5
    assert cfg["closure_weight"] == 16.0 and model.time_shift == 1.5  # the sampler setting carries over
    assert main(["train", "--data", str(data), "--out", str(out), "--init", str(tmp_path / "init.pt"),
                 "--steps", "2", "--device", "cpu", "--phones"]) == 0
    assert NeuralModel.load(out)[0].uses_phones  # the phone track was added to the model and trained
    assert main(["train", "--data", str(data), "--out", str(out), "--steps", "3", "--viseme-weight", "-1"]) != 0
    assert "must not be negative" in capsys.readouterr().err


def test_guidance_runs_on_the_first_step_only():
    model = tiny_model()
    n = 40
    audio = np.random.default_rng(1).standard_normal(int(n * SPF)).astype(np.float32) * 0.1
    batches = []
    forward = model.a2l.forward

    def spy(x, t, *rest, **kw):
        batches.append((float(t[0]), x.shape[0]))
        return forward(x, t, *rest, **kw)

    model.a2l.forward = spy
    plain = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=3)
    plain_calls = list(batches)
    batches.clear()
    guided = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=3, guidance=2.0)
    assert [t for t, _ in batches] == [t for t, _ in plain_calls] and any(t > 0 for t, _ in batches)
    # The conditioned and unconditioned halves run as one doubled batch, at t = 0 only.
    assert [b for _, b in batches] == [2 * b if t == 0 else b for t, b in plain_calls]
    assert not np.allclose(plain, guided)
    np.testing.assert_array_equal(guided, model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=3,
                                                         guidance=2.0))


def test_grid_fraction_trains_at_the_samplers_step_times(tmp_path):
    corpus = CT.load(write_corpus(tmp_path))
    model = tiny_model()
    cfg = tiny_configs()[2]
    batch = corpus.crops(corpus.indices("train"), 64, 30, torch.Generator().manual_seed(1))
    seen = []
    forward = model.a2l.forward

    def spy(x, t, *rest):
        seen.append(t.clone())
        return forward(x, t, *rest)

    model.a2l.forward = spy
    grid = (0.0, 0.4)
    a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=True, t_grid=grid, grid_fraction=1.0)
    on_grid = (seen[-1] == 0) | ((seen[-1] - 0.4).abs() < 1e-6)
    assert bool(on_grid.all()) and (seen[-1] == 0).any() and not bool((seen[-1] == 0).all())
    a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=True, t_grid=grid, grid_fraction=0.5)
    on_grid = (seen[-1] == 0) | ((seen[-1] - 0.4).abs() < 1e-6)
    assert 10 < int(on_grid.sum()) < 54  # about half of the 64 windows
    a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=True)
    assert not (seen[-1] == 0).any()  # logit-normal t never reaches the noise end
    # The training stage takes the grid from the config and still trains.
    cfg_t = TrainConfig(*tiny_configs(), a2l_steps=2, batch=4, val_every=100, grid_t=0.5)
    a2l_stage(model, corpus, cfg_t, TrainingState(None), lambda m: None, lambda m: None)
    assert any(bool((t == 0).any()) for t in seen[-6:])


def test_phone_input_starts_neutral_then_trains_and_round_trips(tmp_path):
    from models.audio2latents import add_phone_input

    corpus = CT.load(write_corpus(tmp_path))
    model = tiny_model()
    n = 40
    audio = corpus.sample_audio(0)[: int(n * SPF)]
    track = CT.viseme_frames([["M", 0.1, 0.2], ["AA", 0.2, 0.5]], n)
    before = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2)
    assert not model.uses_phones
    np.testing.assert_array_equal(model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2,
                                                 phones=track), before)
    model.a2l = add_phone_input(model.a2l, len(CT.VISEME_CLASSES))
    assert model.uses_phones and add_phone_input(model.a2l, len(CT.VISEME_CLASSES)) is model.a2l
    with pytest.raises(ValueError, match="classes"):
        add_phone_input(model.a2l, 5)
    # Zero at first: the model is what it was, with or without a track.
    np.testing.assert_allclose(model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track),
                               before, atol=1e-6)
    cfg = TrainConfig(*tiny_configs(), a2l_steps=3, batch=4, val_every=100)
    cfg.audio2latents = model.a2l.config
    ema = a2l_stage(model, corpus, cfg, TrainingState(None), lambda m: None, lambda m: None)
    assert model.a2l.phone_in.weight.abs().sum() > 0  # the track's embedding learned something
    with_track = ema.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track)
    assert np.abs(with_track - ema.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2)).max() > 1e-4
    assert np.abs(with_track - ema.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track,
                                            guidance=1.5)).max() > 1e-4
    with pytest.raises(ValueError, match="one class per frame"):
        ema.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track[:-1])
    ema.save(tmp_path / "p.pt")
    loaded, _ = NeuralModel.load(tmp_path / "p.pt")
    assert loaded.a2l.config.phone_classes == len(CT.VISEME_CLASSES)
    np.testing.assert_allclose(loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2,
                                               phones=track), with_track, atol=1e-5)


def test_phone_windows_are_hidden_in_validation_and_sometimes_in_training(tmp_path):
    from models.audio2latents import add_phone_input

    corpus = CT.load(write_corpus(tmp_path)).with_visemes()
    model = tiny_model()
    model.a2l = add_phone_input(model.a2l, len(CT.VISEME_CLASSES))
    batch = corpus.crops(corpus.indices("train"), 64, 30, torch.Generator().manual_seed(1))
    seen = []
    forward = model.a2l.forward

    def spy(*args):
        seen.append(args[-1])
        return forward(*args)

    model.a2l.forward = spy
    cfg = model.a2l.config
    a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=True)
    given = (seen[-1] > 0).any(1)
    assert 10 < int(given.sum()) < 54  # about half of the windows see the track (p_drop_phones 0.5)
    # Where given, it is the corpus's class + 1 (0 where unknown).
    expect = (batch["viseme"] + 1).clamp_min(0)
    assert torch.equal(seen[-1][given], expect[given])
    a2l_batch_loss(model, batch, cfg, torch.Generator().manual_seed(2), train=False)
    assert not (seen[-1] > 0).any()


def test_finetune_spec_adds_the_phone_input(tmp_path, monkeypatch):
    monkeypatch.setenv("VASA_RIG_PLOT", "0")
    corpus_dir = _pack_fixture(tmp_path)
    FT.pack([str(corpus_dir)], str(tmp_path / "p.npz"), {"flite": 100.0})
    FT.render(str(tmp_path / "p.npz"), str(tmp_path / "r.pt"), workers=1)
    tiny_model().save(tmp_path / "i.pt")
    assert FT.main(["train", str(tmp_path / "r.pt"), str(tmp_path / "out"), "2",
                    f"v={tmp_path / 'i.pt'}:flow:16:0:1.5:1:0:1"]) == 0
    model, extra = NeuralModel.load(tmp_path / "out" / "v.pt")
    assert model.uses_phones and extra["phones"] is True and extra["strong_augment"] is True


def test_phone_guidance_pushes_along_the_phone_track_on_the_first_step():
    from models.audio2latents import add_phone_input

    model = tiny_model()
    model.a2l = add_phone_input(model.a2l, len(CT.VISEME_CLASSES))
    torch.nn.init.normal_(model.a2l.phone_in.weight, std=0.5)  # as if trained
    n = 40
    audio = np.random.default_rng(1).standard_normal(int(n * SPF)).astype(np.float32) * 0.1
    track = CT.viseme_frames([["M", 0.1, 0.2], ["AA", 0.2, 0.5]], n)

    def run(**kw):
        return model.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, **kw)

    plain, heard = run(), run(phones=track)
    pushed = run(phones=track, phone_guidance=2.0)
    assert np.abs(pushed - heard).max() > 1e-4
    # Without a track there is nothing to guide along: the setting changes nothing.
    np.testing.assert_array_equal(run(phone_guidance=2.0), plain)
    # At 0 the first step ignores the track (the pass without it), so the take moves towards the audio-only one.
    assert np.abs(run(phones=track, phone_guidance=0.0) - plain).mean() < np.abs(heard - plain).mean()
    both = run(phones=track, guidance=1.5, phone_guidance=2.0)
    assert np.isfinite(both).all() and np.abs(both - run(phones=track, guidance=1.5)).max() > 1e-4


def test_checkpoint_carries_its_phone_guidance(tmp_path):
    from models.audio2latents import add_phone_input

    model = tiny_model()
    model.a2l = add_phone_input(model.a2l, len(CT.VISEME_CLASSES))
    torch.nn.init.normal_(model.a2l.phone_in.weight, std=0.5)
    model.phone_guidance = 2.5
    model.save(tmp_path / "m.pt")
    loaded, extra = NeuralModel.load(tmp_path / "m.pt")
    assert loaded.phone_guidance == 2.5 and extra["phone_guidance"] == 2.5
    n = 40
    audio = np.random.default_rng(1).standard_normal(int(n * SPF)).astype(np.float32) * 0.1
    track = CT.viseme_frames([["M", 0.1, 0.2], ["AA", 0.2, 0.5]], n)
    np.testing.assert_allclose(loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track),
                               loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=0, steps=2, phones=track,
                                               phone_guidance=2.5),
                               atol=1e-6)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["extra"]["phone_guidance"] = -3
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="phone_guidance"):
        NeuralModel.load(tmp_path / "bad.pt")
