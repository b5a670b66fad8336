"""The mouth-shape head on the neural engine's encoder: fitted on a tiny corpus, kept in the engine's checkpoint,
refused when it does not fit the encoder, read by the front end (averaged with the recogniser) and by the engines
without encoding the audio twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.settings import Provenance
from app.core.timebase import FPS, SAMPLE_RATE
from models import corpus_tensors as CT
from models.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from models.fit_shape_head import features, fit, frame_scores
from models.pipeline import Locked, NeuralModel
from models.train_visemes import Sampler, class_weights
from models.visemes import NUM_CLASSES, SHAPE_HEAD_NAME, ShapeHead, ShapeHeadConfig, VisemeRecogniser

from .test_neural import CHANNELS, conds, tiny_model, write_corpus
from .test_visemes import TINY

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "weights" / "neural.pt"


@pytest.fixture
def corpus(tmp_path):
    return CT.load(write_corpus(tmp_path, n=8)).with_visemes()


def test_fitting_learns_the_classes_and_the_head_round_trips_in_the_checkpoint(corpus, tmp_path):
    model = tiny_model()
    sampler = Sampler([corpus], ("train",))
    x, y = features(model, sampler, batches=3)
    assert x.shape[1] == model.encoder.config.channels and len(x) == len(y) and bool((y >= 0).all())
    head = fit(x, y, class_weights(sampler), steps=150, batch=256, hidden=32)
    with torch.no_grad():
        acc = float((head(x.float()).argmax(1) == y).float().mean())
    majority = float(torch.bincount(y).max()) / len(y)
    assert acc > majority  # it learnt something beyond the most common class
    model.shapes = head
    path = tmp_path / "m.pt"
    model.save(path)
    again, _ = NeuralModel.load(path)
    assert isinstance(again.shapes, ShapeHead)
    feats = again.encode(np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE).astype(np.float32), 61)
    probs = again.shape_probabilities(feats)
    assert probs.shape == (61, NUM_CLASSES)
    np.testing.assert_allclose(probs, head.probabilities(feats), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Scores of the recogniser, the head and their mean on whole clips.
    recogniser = VisemeRecogniser(TINY).eval()
    scores = frame_scores(again, recogniser, Sampler([corpus], ("val_voice",)).clips())
    assert set(scores) == {"recogniser", "head", "mean"}
    assert all(0.0 <= a <= 1.0 for a, _ in scores.values())


def test_a_head_that_does_not_fit_the_encoder_is_refused(tmp_path):
    model = tiny_model()
    wrong = ShapeHead(ShapeHeadConfig(channels=model.encoder.config.channels + 4, hidden=8))
    path = tmp_path / "bad.pt"
    save_checkpoint(path, {**model.modules_by_name(), SHAPE_HEAD_NAME: wrong})
    with pytest.raises(CheckpointError, match="mouth-shape head reads"):
        NeuralModel.load(path)
    # Weights that do not match the head's own config: refused, never a partial load.
    model.shapes = ShapeHead(ShapeHeadConfig(channels=model.encoder.config.channels, hidden=8))
    model.save(path)
    payload = read_checkpoint(path)
    payload["configs"][SHAPE_HEAD_NAME]["hidden"] = 9
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="shape_head"):
        NeuralModel.load(path)


def test_given_features_give_the_same_curves_as_encoding_again():
    model = tiny_model()
    n = 90
    audio = np.random.default_rng(1).normal(0, 0.1, int(n * SAMPLE_RATE / FPS) + 300).astype(np.float32)
    w, g, d = conds(n)
    feats = model.encode(audio, n)
    a = model.generate(audio, n, w, g, d, seed=3, channels=CHANNELS)
    b = model.generate(audio, n, w, g, d, seed=3, channels=CHANNELS, features=feats)
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="features must be"):
        model.generate(audio, n, w, g, d, channels=CHANNELS, features=feats[:-1])
    # Inpainting takes gradients: features made under inference mode must still be usable there.
    with torch.inference_mode():
        frozen = model.encode(audio, n).clone()
    mask = np.zeros((n, 180), bool)
    mask[10:20, :5] = True
    values = np.full((n, 180), 0.25, np.float32)
    out = model.generate(audio, n, w, g, d, channels=CHANNELS, features=frozen, locked=Locked(mask, values))
    np.testing.assert_array_equal(out[mask], values[mask])


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped weights are not in this checkout")
def test_the_front_end_averages_both_readers_of_the_shipped_weights():
    from app.engines.neural import load_model
    from app.engines.phonetics.mouth_shapes import HEAD_WEIGHT, RECOGNISER, SHAPE_HEAD, recognise
    from app.io.audio import load_audio

    model = load_model(SHIPPED, "cpu")
    assert model.shapes is not None and model.shapes.config.channels == model.encoder.config.channels
    clip = load_audio(Path(__file__).resolve().parents[1] / "engines" / "data" / "asterisk-agent-pass.wav")
    both = recognise(clip.samples, second=model)
    alone = recognise(clip.samples)
    assert both.readers == (RECOGNISER, SHAPE_HEAD) and alone.readers == (RECOGNISER,)
    assert both.summary()["readers"] == [RECOGNISER, SHAPE_HEAD]
    n = len(both.probs)
    head = model.shape_probabilities(model.encode(clip.samples, n))
    speech = both.probs[:, 0] < 0.999  # the speech gate leaves these frames to the readers
    assert speech.sum() > n // 4
    mean = (1 - HEAD_WEIGHT) * alone.probs + HEAD_WEIGHT * head
    assert 0.0 < HEAD_WEIGHT < 1.0
    np.testing.assert_allclose(both.probs[speech], mean[speech], atol=1e-5)
    # Features handed in by the neural engine give the same reading without encoding again.
    given = recognise(clip.samples, second=model, features=model.encode(clip.samples, n))
    np.testing.assert_allclose(given.probs, both.probs, atol=1e-6)


def test_provenance_keeps_the_readers():
    p = Provenance(phones_source="recognised", readers=("recogniser", "encoder head"))
    data = p.to_json()
    assert data["readers"] == ["recogniser", "encoder head"]
    assert Provenance.from_json(data).readers == ("recogniser", "encoder head")
    assert "readers" not in Provenance().to_json()


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped weights are not in this checkout")
@pytest.mark.parametrize("engine", ["procedural", "neural"])
def test_both_engines_read_with_both_readers_and_encode_once(engine, monkeypatch):
    from app.engines.generate import GenerationSettings, generate_take
    from app.engines.phonetics.mouth_shapes import RECOGNISER, SHAPE_HEAD
    from app.io.audio import load_audio

    calls = []
    encode = NeuralModel.encode

    def counted(self, audio, n):
        calls.append(n)
        return encode(self, audio, n)

    monkeypatch.setattr(NeuralModel, "encode", counted)
    clip = load_audio(Path(__file__).resolve().parents[1] / "engines" / "data" / "asterisk-agent-pass.wav")
    take = generate_take(clip, GenerationSettings.of(engine=engine, seed=0))
    assert take.meta.provenance.readers == (RECOGNISER, SHAPE_HEAD)
    assert len(calls) == 1  # the neural engine's motion model reads the same features as the head
