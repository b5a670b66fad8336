"""The mouth-shape recogniser: training on a tiny corpus, chunked inference equal to whole, checkpoints refused
when they are not a recogniser, the augmentation keeps shapes and levels sane, and the shipped weights load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import corpus_tensors as CT
from models.checkpoint import CheckpointError
from models.train_visemes import Sampler, augment_channel, class_weights, closure_loss, telephone, train
from models.visemes import DEFAULT_WEIGHTS, NUM_CLASSES, VisemeRecogniser, VisemeRecogniserConfig

from .test_neural import tiny_configs, tiny_model, write_corpus

TINY = VisemeRecogniserConfig(channels=16, dilations=(1, 2))


@pytest.fixture
def corpus(tmp_path):
    return CT.load(write_corpus(tmp_path, n=8))


def test_training_saves_a_recogniser_that_resumes(corpus, tmp_path):
    out = tmp_path / "v.pt"
    first = train([corpus], out, 3, batch=4, frames=60, report_every=100, config=TINY, log=lambda s: None)
    assert out.is_file() and (tmp_path / "v.pt.state").is_file()
    assert first["step"] > 0 and np.isfinite(first["loss"])
    again = train([corpus], out, 1, resume=True, batch=4, frames=60, report_every=100, config=TINY,
                  log=lambda s: None)
    assert again["step"] > first["step"]
    model = VisemeRecogniser.load(out)
    probs = model.probabilities(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32))
    assert probs.shape == (61, NUM_CLASSES)  # frames at 0, 1/60, ..., 1 s
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_closure_loss_rewards_one_peak_per_pbm_and_punishes_peaks_away_from_them():
    from app.core.speech import BILABIAL_CLASS as B

    labels = torch.full((2, 50), 5)
    labels[:, :3] = 0
    labels[0, 10:13] = B
    labels[1, 30:32] = B
    labels[1, 45:] = -1
    flat = torch.zeros(2, 50, NUM_CLASSES)
    peaked = flat.clone()
    peaked[0, 13, B] = 8.0  # one frame after the run still counts
    peaked[1, 30, B] = 8.0
    assert closure_loss(peaked, labels) < 0.5 * closure_loss(flat, labels)
    false = peaked.clone()
    false[0, 30, B] = 8.0  # far from any p/b/m in its crop
    assert closure_loss(false, labels) > closure_loss(peaked, labels) + 1.0
    pause = peaked.clone()
    pause[0, 1, B] = 8.0  # in silence: a closed mouth there is no error
    assert closure_loss(pause, labels) == pytest.approx(float(closure_loss(peaked, labels)))
    flat.requires_grad_(True)
    closure_loss(flat, labels).backward()
    assert flat.grad[0, 11, B] < 0 < flat.grad[0, 30, B]  # raise p/b/m in the run, lower it away from one


def test_fine_tuning_starts_from_saved_weights_with_the_closure_loss(corpus, tmp_path):
    start = tmp_path / "start.pt"
    train([corpus], start, 1, batch=4, frames=60, report_every=100, config=TINY, log=lambda s: None)
    lines = []
    out = tmp_path / "tuned.pt"
    last = train([corpus], out, 2, batch=4, frames=60, report_every=100, init=start, closure_weight=0.5,
                 log=lines.append)
    assert any(str(start) in line for line in lines) and np.isfinite(last["loss"])
    assert VisemeRecogniser.load(out).config.channels == TINY.channels  # the saved model's size, not the default


def test_chunked_inference_equals_whole():
    torch.manual_seed(0)
    model = VisemeRecogniser(TINY).eval()
    audio = np.random.default_rng(1).normal(0, 0.1, 16000 * 3).astype(np.float32)
    whole = model.probabilities(audio, 180, chunk_frames=10_000)
    chunked = model.probabilities(audio, 180, chunk_frames=40)
    np.testing.assert_allclose(whole, chunked, atol=2e-3)  # chunk starts round to the nearest sample
    assert model.probabilities(audio, 0).shape == (0, NUM_CLASSES)


def test_calibration_bias_moves_the_probabilities():
    torch.manual_seed(0)
    model = VisemeRecogniser(TINY).eval()
    audio = np.random.default_rng(2).normal(0, 0.1, 16000).astype(np.float32)
    before = model.probabilities(audio)[:, 1].mean()
    model.config.bias = tuple(3.0 if k == 1 else 0.0 for k in range(NUM_CLASSES))
    assert model.probabilities(audio)[:, 1].mean() > before + 0.1


def test_a_neural_checkpoint_is_not_a_recogniser(tmp_path):
    path = tmp_path / "neural.pt"
    tiny_model().save(path)
    with pytest.raises(CheckpointError, match="not a mouth-shape recogniser"):
        VisemeRecogniser.load(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        VisemeRecogniser.load(tmp_path / "missing.pt")
    assert tiny_configs()  # the same tiny configs the neural tests use


def test_augmentation_keeps_shape_and_stays_finite():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000 * 2) / 16000
    audio = (0.3 * torch.sin(2 * torch.pi * 220 * t)).repeat(16, 1)
    out = augment_channel(audio, g)
    assert out.shape == audio.shape and torch.isfinite(out).all()
    assert (out - audio).abs().amax(1).gt(1e-3).sum() >= 8  # most clips changed
    tel = telephone(audio)
    spec = torch.fft.rfft(tel[0]).abs()
    freqs = torch.fft.rfftfreq(tel.shape[1], 1 / 16000)
    assert spec[freqs > 3600].max() < 0.05 * spec.max()  # nothing above the telephone band


def test_class_weights_favour_rare_classes(corpus):
    w = class_weights(Sampler([corpus.with_visemes()], ("train",)))
    assert w.shape == (NUM_CLASSES,) and torch.isfinite(w).all()
    assert w[1] > w[0]  # p/b/m (rare in the tiny corpus) outweighs silence (common)


def test_shipped_weights_load_and_are_small():
    model = VisemeRecogniser.load(DEFAULT_WEIGHTS)
    assert model.config.classes == NUM_CLASSES
    assert DEFAULT_WEIGHTS.stat().st_size < 4_000_000


def test_threshold_sweep_runs_both_engines_at_each_pair():
    from app.engines.phonetics.segments import PhoneSegment
    from models.sweep_closure import sweep

    t = np.arange(24000) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    phones = [PhoneSegment("M", 0.0, 0.1), PhoneSegment("AA", 0.1, 0.6), PhoneSegment("B", 0.6, 0.7),
              PhoneSegment("AA", 0.7, 1.5)]
    figs = sweep({"val_voice": [(audio, phones)]}, ["procedural", "neural"], [(0.5, 0.2), (0.5, 0.5)])
    assert len(figs) == 2 * 2 * 2  # engines x pairs x (clean, telephone)
    assert all(f[0].bilabials == 2 for f in figs.values())
