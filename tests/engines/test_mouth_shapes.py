"""The audio-only phonetic front end (app/engines/phonetics/mouth_shapes.py): decoding the recogniser's
probabilities into phones, unsure frames, the engines using it, and audio that holds no speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.timebase import FPS, SAMPLE_RATE
from app.engines import metrics as M
from app.engines.generate import GenerationSettings, generate_take
from app.engines.phonetics.mouth_shapes import (
    CLASS_PHONES,
    CLOSURE_THRESHOLD,
    DEFAULT_THRESHOLD,
    UNSURE_PHONE,
    MouthShapes,
    decide,
    frame_phones,
    frames_to_segments,
    recognise,
)
from app.engines.phonetics.segments import PhoneticsError
from app.io.audio import AudioClip

CLIP = Path("/usr/share/asterisk/sounds/en/agent-pass.wav")
K = len(CLASS_PHONES)


def probs_for(classes, conf=0.9):
    p = np.full((len(classes), K), (1 - conf) / (K - 1), np.float32)
    for i, c in enumerate(classes):
        p[i, c] = conf
    return p


def test_segments_follow_the_classes_and_cover_the_clip():
    classes = [0] * 5 + [1] * 4 + [10] * 6 + [0] * 3
    segs = frames_to_segments(probs_for(classes), 0.5)
    assert [s.phone for s in segs] == ["SIL", "B", "AH", "SIL"]
    assert segs[0].start == 0.0 and segs[-1].end == pytest.approx((len(classes) - 0.5) / FPS)
    assert all(a.end == b.start for a, b in zip(segs, segs[1:], strict=False))
    # Frame i (time i/FPS) lies inside the segment of its class, as the closure figure reads it.
    b = segs[1]
    assert b.start <= 5 / FPS < b.end and b.start <= 8 / FPS < b.end and not b.start <= 9 / FPS < b.end


def test_unsure_frames_never_commit_to_a_closure():
    p = probs_for([10, 1, 1, 10])
    p[1:3] = 0.0
    p[1:3, 1] = 0.4  # p/b/m is the best class but below both thresholds
    p[1:3, 10] = 0.35
    p[1:3, 0] = 0.25
    codes = frame_phones(p, 0.5, 0.5)
    assert codes[1] == K and codes[2] == K  # the unsure vowel, not B
    assert "B" not in [s.phone for s in frames_to_segments(p, 0.5, 0.5)]
    assert any(s.phone == UNSURE_PHONE for s in frames_to_segments(p, 0.5, 0.5))
    p[1:3, 0] = 0.45  # silence now at least as likely as any speech class
    p[1:3, 1] = 0.3
    assert frame_phones(p, 0.5, 0.5)[1] == 0


def test_the_default_closure_threshold_closes_on_weaker_p_b_m_evidence():
    p = probs_for([10, 1, 1, 10])
    p[1:3] = 0.0
    p[1:3, 10] = 0.7  # an open vowel is far more likely ...
    p[1:3, 1] = 0.25  # ... but p/b/m reaches CLOSURE_THRESHOLD (0.15): a missed closure shows more than a brief one
    p[1:3, 0] = 0.05
    assert CLOSURE_THRESHOLD < 0.25
    assert frame_phones(p, 0.5).tolist() == [10, 1, 1, 10]
    assert "B" in [s.phone for s in frames_to_segments(p, 0.5)]
    p[1:3, 1] = 0.1
    p[1:3, 10] = 0.85
    assert CLOSURE_THRESHOLD > 0.1
    assert frame_phones(p, 0.5).tolist() == [10, 10, 10, 10]


def test_decide_marks_unsure_frames_and_takes_closures_at_their_own_threshold():
    probs = np.full((4, K), 0.02, np.float32)
    probs[0, 1] = 0.8
    probs[1, 4] = 0.3
    probs[2, 0] = 0.6
    probs[3, 10], probs[3, 1] = 0.55, 0.35
    assert decide(probs, 0.5, 0.5).tolist() == [1, -1, 0, 10]
    assert decide(probs, 0.5, 0.3).tolist() == [1, -1, 0, 1]


def test_single_frame_flickers_are_absorbed_except_closures():
    assert frame_phones(probs_for([10, 4, 10]), 0.5).tolist() == [10, 10, 10]
    assert frame_phones(probs_for([10, 1, 10]), 0.5).tolist() == [10, 1, 10]


def test_summary_records_what_was_unsure():
    p = probs_for([0] * 10 + [10] * 20 + [4] * 10)
    p[12:18] = 1.0 / K
    shapes = MouthShapes(p, 0.5, 0.01)
    s = shapes.summary()
    assert s["phones_source"] == "recognised"
    assert s["unsure_fraction"] == pytest.approx(6 / 30, abs=0.01)
    assert s["unsure_spans"] == [[pytest.approx(12 / FPS, abs=1e-3), pytest.approx(18 / FPS, abs=1e-3)]]
    assert (shapes.track[12:18] == -1).all() and shapes.track[0] == 0 and shapes.track[25] == 10


def test_bad_settings_are_phonetics_errors():
    with pytest.raises(PhoneticsError, match="16000 Hz"):
        recognise(np.zeros(800, np.float32), 8000)
    with pytest.raises(PhoneticsError, match="threshold"):
        recognise(np.zeros(800, np.float32), SAMPLE_RATE, threshold=2.0)


@pytest.fixture(scope="module")
def clip():
    if not CLIP.is_file():
        pytest.skip("asterisk-core-sounds-en-wav is not installed")
    from app.io.audio import load_audio

    return load_audio(CLIP)


def test_recogniser_hears_the_closures_of_real_speech(clip):
    """Allison's "Please enter your password ... pound key" through a telephone line: the p/b/m of the
    transcript's alignment are found by the recogniser from the audio alone."""
    from app.engines.phonetics.pocketsphinx_aligner import align_audio

    truth = align_audio(clip.samples, clip.sample_rate, "Please enter your password followed by the pound key.")
    shapes = recognise(clip.samples)
    n = len(shapes.probs)
    assert n == int(clip.duration * FPS) + 1
    found = shapes.track == 1
    hits = [bool(found[M.segment_frames([p], n, FPS, pad=1)].any()) for p in truth.phones if p.phone in "PBM"]
    assert len(hits) >= 3 and sum(hits) >= len(hits) - 1
    assert shapes.summary()["unsure_fraction"] < 0.6


@pytest.mark.parametrize("engine", ["procedural", "neural"])
def test_both_engines_use_the_recogniser_without_a_transcript(clip, engine):
    from app.engines.phonetics.pocketsphinx_aligner import align_audio

    take = generate_take(clip, GenerationSettings.of(engine=engine, seed=1))
    assert take.meta.provenance.phones_source == "recognised"
    truth = align_audio(clip.samples, clip.sample_rate, "Please enter your password followed by the pound key.")
    fig = M.evaluate(take.evaluate(), truth.phones, clip.samples, clip.sample_rate)
    assert fig.bilabials >= 3 and fig.closed >= fig.bilabials - 1


def _clip(samples):
    return AudioClip(samples=np.asarray(samples, np.float32), sample_rate=SAMPLE_RATE, path=None,
                     source_rate=SAMPLE_RATE, source_channels=1, sha256="0" * 64)


@pytest.mark.parametrize("kind", ["silence", "noise", "hum", "clipped noise"])
@pytest.mark.parametrize("engine", ["procedural", "neural"])
def test_no_speech_gives_a_resting_mouth(engine, kind):
    rng = np.random.default_rng(0)
    n = SAMPLE_RATE * 3
    t = np.arange(n) / SAMPLE_RATE
    audio = {"silence": np.zeros(n), "noise": rng.normal(0, 0.01, n),
             "hum": 0.2 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 100 * t),
             "clipped noise": np.clip(rng.normal(0, 0.5, n), -0.2, 0.2)}[kind]
    take = generate_take(_clip(audio), GenerationSettings.of(engine=engine, seed=0))
    opening = M.mouth_opening(take.evaluate())
    assert np.isfinite(take.base).all()
    assert np.percentile(opening, 90) < 0.12, f"{kind}: the mouth opens to {np.percentile(opening, 90):.3f}"


def test_the_settings_default_is_the_front_ends_closure_threshold():
    from app.core.settings import RANGES

    assert RANGES["closure_threshold"].default == CLOSURE_THRESHOLD
    assert RANGES["threshold"].default == DEFAULT_THRESHOLD
