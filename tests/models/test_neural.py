"""Neural engine on tiny configs: shapes, determinism, training reduces the loss, checkpoints, sampler joins,
inpainting. A small synthetic corpus in the shared shard format stands in for the real one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.core.rig import load_rig
from models import corpus_tensors as CT
from models.audio2latents import Audio2LatentsConfig
from models.audio_encoder import AudioEncoderConfig
from models.checkpoint import CheckpointError, read_checkpoint
from models.latents2rig import Latents2RigConfig
from models.pipeline import Locked, NeuralModel
from models.rig_channels import RigChannels
from models.sampling import Cancelled, plan_windows, sample_sequence
from models.train import TrainConfig, TrainingState, autoencoder_stage, train

SPF = 16000 / 60
CHANNELS = RigChannels.from_names(load_rig().channel_names)  # the runtime is told where the rig keeps them


def tiny_configs():
    return (AudioEncoderConfig(channels=16, dilations=(1, 2)), Latents2RigConfig(latent_dim=4, hidden=32),
            Audio2LatentsConfig(latent_dim=4, audio_dim=16, d_model=16, n_layers=1, n_heads=2, window=30, context=5))


def write_corpus(path, n=6, seed=0):
    """Smooth random curves driven by the audio's envelope, in the shard format."""
    rng = np.random.default_rng(seed)
    audios, curves, samples = [], [], []
    for i in range(n):
        frames = int(rng.integers(70, 130))
        env = np.abs(np.convolve(rng.normal(size=frames), np.ones(9) / 9, mode="same"))
        t = np.arange(int(frames * SPF)) / 16000
        audios.append((np.sin(2 * np.pi * 150 * t) * np.repeat(env, int(np.ceil(SPF)))[:len(t)]).astype(np.float32))
        c = np.zeros((frames, 180), np.float32)
        c[:, :20] = env[:, None] * rng.uniform(0.2, 1.0, 20)
        c[:, 20:40] = np.cumsum(rng.normal(0, 0.02, (frames, 20)), axis=0)
        curves.append(c)
        samples.append({"shard": "shard_000.npz", "index": i, "split": "train" if i < n - 1 else "val_voice",
                        "real": False, "labelled": True, "phones": [["M", 0.1, 0.2], ["AA", 0.2, 0.4]]})
    total = sum(len(c) for c in curves)
    np.savez(path / "shard_000.npz", audio=np.concatenate(audios),
             audio_offsets=np.cumsum([0] + [len(a) for a in audios]), curves=np.concatenate(curves),
             frame_offsets=np.cumsum([0] + [len(c) for c in curves]), emotion=np.zeros(total, np.int8),
             intensity=np.ones(total, np.float32), gaze=np.zeros((total, 2), np.float32),
             head_distance=np.full(total, 60.0, np.float32))
    (path / "manifest.json").write_text(json.dumps({"samples": samples}))
    return path


@pytest.fixture
def corpus(tmp_path):
    return CT.load(write_corpus(tmp_path))


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return NeuralModel.create(*tiny_configs()).eval()


def conds(n):
    w = np.zeros((n, 8), np.float32)
    w[:, 1] = 0.7
    return w, np.zeros((n, 2), np.float32), np.full(n, 60.0, np.float32)


def test_corpus_crops_are_aligned(corpus):
    g = torch.Generator().manual_seed(0)
    batch = corpus.crops(corpus.indices("train"), 3, 40, g)
    assert batch["audio"].shape == (3, round(40 * SPF)) and batch["curves"].shape == (3, 40, 180)
    assert batch["mask"].all()


def test_pack_round_trip(corpus, tmp_path):
    CT.pack(corpus, tmp_path / "p.npz")
    back = CT.load(tmp_path / "p.npz")
    assert torch.allclose(back.curves, corpus.curves, atol=1e-3)
    x = corpus.audio.clamp(-1, 1)  # 8-bit mu-law: error relative to the level, clipped beyond full scale
    assert ((back.audio - x).abs() <= 0.04 * x.abs() + 2e-3).all() and back.split == corpus.split


def test_generate_shapes_and_determinism():
    model = tiny_model()
    n = 75
    audio = np.random.default_rng(0).normal(0, 0.1, int(n * SPF)).astype(np.float32)
    a = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=5, steps=3)
    b = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=5, steps=3)
    c = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=6, steps=3)
    assert a.shape == (n, 180) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-4
    seq = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=5, steps=3, mode="sequential")
    assert seq.shape == (n, 180) and np.isfinite(seq).all()



def test_the_runtime_is_told_where_the_rig_keeps_its_channels():
    from models.rig_channels import CLOSING_CONTROLS, SHARP_CHANNELS

    rig = load_rig()
    assert CHANNELS.sharp == tuple(rig.index(name) for name in SHARP_CHANNELS)
    assert CHANNELS.closing == tuple(rig.index(name) for name in CLOSING_CONTROLS)
    with pytest.raises(ValueError, match="no channel 'CTRL_L_eye_blink-translateY'"):
        RigChannels.from_names([name for name in rig.channel_names if "blink" not in name])
    model = tiny_model()
    n = 30
    audio = np.random.default_rng(0).normal(0, 0.1, int(n * SPF)).astype(np.float32)
    with pytest.raises(ValueError, match="rig's channels"):
        model.generate(audio, n, *conds(n), seed=5, steps=2)  # smoothing keeps the blinks: it needs their columns
    raw = model.generate(audio, n, *conds(n), seed=5, steps=2, smooth=0)  # nothing to find: no channels needed
    assert np.array_equal(raw, model.generate(audio, n, *conds(n), channels=CHANNELS, seed=5, steps=2, smooth=0))

def test_training_steps_reduce_loss(corpus):
    model = NeuralModel.create(*tiny_configs())
    cfg = TrainConfig(*tiny_configs(), ae_steps=60, ae_batch=128, ae_lr=3e-3)
    state = TrainingState(None)
    autoencoder_stage(model, corpus, cfg, state, lambda m: None)
    losses = [v for _, v in state.history["autoencoder/train"]]
    assert losses[-1] < 0.7 * losses[0]


def test_flow_training_reduces_loss_and_checkpoint_round_trip(corpus, tmp_path):
    cfg = TrainConfig(*tiny_configs(), ae_steps=40, ae_batch=128, pretrain_steps=5, a2l_steps=60, batch=8,
                      lr=3e-3, val_every=59, augment=False)
    model = train(corpus, tmp_path / "m.pt", cfg, report=lambda m: None)
    hist = json.loads(read_checkpoint(tmp_path / "m.pt")["extra"]["history"])["flow/train"]
    assert np.mean([v for _, v in hist[-1:]]) < hist[0][1]
    assert (tmp_path / "m.pt.png").stat().st_size > 1000
    loaded, _ = NeuralModel.load(tmp_path / "m.pt")
    n = 50
    audio = corpus.sample_audio(0)[: int(n * SPF)]
    assert np.array_equal(model.generate(audio, n, *conds(n), channels=CHANNELS, seed=1, steps=2),
                          loaded.generate(audio, n, *conds(n), channels=CHANNELS, seed=1, steps=2))


def test_checkpoint_mismatch_errors(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "ok.pt")
    payload = torch.load(tmp_path / "ok.pt", weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        NeuralModel.load(tmp_path / "old.pt")
    payload["version"] = 1
    payload["configs"]["audio2latents"]["d_model"] = 32
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        NeuralModel.load(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        NeuralModel.load(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        NeuralModel.load(tmp_path / "missing.pt")


def test_plan_windows_cover_clip():
    plans = plan_windows(250, 120, 12)
    assert plans[0].gen_from == 0 and plans[-1].stop == 250
    assert all(b.gen_from == a.stop and b.gen_from - b.start == 12 for a, b in zip(plans, plans[1:], strict=False))


def test_sequential_windows_continue_from_context():
    # A denoiser whose clean target is the context's last value (or 1.0 without context): continuity through the
    # context makes every window continue the first one exactly.
    def denoiser(x, t, starts, n, ctx, ctx_mask):
        target = torch.ones_like(x)
        for j in range(x.shape[0]):
            if ctx_mask[j].any():
                target[j] = ctx[j, int(ctx_mask[j].sum()) - 1]
        return (target - x) / (1 - t[:, None, None] + 1e-9) if t[0] < 1 else target - x

    out = sample_sequence(denoiser, 300, 3, window=60, context=8, steps=4, seed=0, mode="sequential")
    assert torch.allclose(out, torch.ones_like(out), atol=1e-5)


def test_lockstep_joins_are_smooth():
    # Each window aims at its own constant: without the join smoothing every join would step by 1.
    def denoiser(x, t, starts, n, ctx, ctx_mask):
        target = torch.stack([torch.full(x.shape[1:], s / 52.0) for s in starts])
        return (target - x) / (1 - t[:, None, None])

    out = sample_sequence(denoiser, 300, 2, window=60, context=8, steps=3, seed=0)
    for p in plan_windows(300, 60, 8)[1:]:
        g = p.gen_from
        assert torch.allclose(out[g], 2 * out[g - 1] - out[g - 2], atol=1e-5)
    steps = (out[1:] - out[:-1]).abs().max()
    assert steps < 0.2


def test_cancel_stops_sampling():
    model = tiny_model()
    n = 100
    audio = np.zeros(int(n * SPF), np.float32)
    seen = []
    with pytest.raises(Cancelled):
        model.generate(audio, n, *conds(n), channels=CHANNELS, steps=4, callback=seen.append,
                       cancel=lambda: len(seen) >= 2)
    assert len(seen) == 2 and 0 < seen[-1]["fraction"] < 1


def test_inpainting_keeps_locked_values_exactly():
    model = tiny_model()
    n = 80
    audio = np.random.default_rng(1).normal(0, 0.1, int(n * SPF)).astype(np.float32)
    free = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=2, steps=3)
    mask = np.zeros((n, 180), bool)
    mask[10:30] = True  # whole frames
    mask[40:70, 5] = True  # one channel
    values = free + np.float32(0.123)
    out = model.generate(audio, n, *conds(n), channels=CHANNELS, seed=2, steps=3, locked=Locked(mask, values))
    assert np.array_equal(out[mask], values[mask])
    assert not np.array_equal(out[~mask], free[~mask])  # the rest was regenerated around the locks
    with pytest.raises(ValueError, match="locked"):
        model.generate(audio, n, *conds(n), channels=CHANNELS, locked=Locked(mask[:5], values[:5]))
