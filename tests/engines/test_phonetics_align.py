"""PocketSphinx alignment on real speech (Asterisk prompts copied into tests/engines/data, 8 kHz)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

pytest.importorskip("pocketsphinx")

from app.core.cancel import Cancelled  # noqa: E402
from app.engines.phonetics import (  # noqa: E402
    ARPABET_PHONES,
    SILENCE,
    PhoneticsError,
    TranscriptMismatchError,
    normalise_transcript,
)
from app.engines.phonetics.chunking import speech_mask, split_at_pauses  # noqa: E402
from app.engines.phonetics.lts import rule_phones  # noqa: E402
from app.engines.phonetics.pocketsphinx_aligner import PocketSphinxAligner  # noqa: E402

DATA = Path(__file__).parent / "data"
CLIPS = {
    "agent-pass": "Please enter your password followed by the pound key.",
    "conf-getchannel": "Please enter the channel number followed by the pound key.",
    "all-circuits-busy-now": "All circuits are busy now.",
}


def _clip(name: str) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(DATA / f"asterisk-{name}.wav", dtype="float32")
    return samples, rate


@pytest.fixture(scope="module")
def aligner():
    return PocketSphinxAligner()


def _check_tiling(alignment, duration):
    phones = alignment.phones
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration, abs=0.011)
    for a, b in zip(phones, phones[1:], strict=False):
        assert a.end == pytest.approx(b.start, abs=1e-9)
        assert b.end > b.start
        assert not (a.phone == SILENCE and b.phone == SILENCE)
    for p in phones:
        assert p.phone in ARPABET_PHONES
        assert 0.0 <= p.confidence <= 1.0
        assert (p.word_index is None) == (p.phone == SILENCE)


def test_forced_alignment_of_a_known_sentence(aligner):
    samples, rate = _clip("agent-pass")
    alignment = aligner.align(samples, rate, CLIPS["agent-pass"])
    assert alignment.source == "forced"
    assert [w.word for w in alignment.words] == normalise_transcript(CLIPS["agent-pass"])
    _check_tiling(alignment, len(samples) / rate)
    # The phones of "password" come out in dictionary order inside the word's span.
    index = [w.word for w in alignment.words].index("password")
    phones = [p for p in alignment.phones if p.word_index == index]
    assert [p.phone for p in phones] == ["P", "AE", "S", "W", "ER", "D"]
    word = alignment.words[index]
    assert phones[0].start == pytest.approx(word.start) and phones[-1].end == pytest.approx(word.end)
    # Words cover the speech: nearly every energetic 10 ms frame lies inside a word.
    audio16 = resample_poly(samples, 2, 1)
    mask = speech_mask(audio16, 16000)
    covered = np.zeros_like(mask)
    for w in alignment.words:
        covered[int(w.start * 100) : int(np.ceil(w.end * 100))] = True
    assert covered[mask].mean() > 0.9
    onset = np.flatnonzero(mask)[0] / 100
    assert abs(alignment.words[0].start - onset) < 0.1
    assert np.mean([w.confidence for w in alignment.words]) > 0.4


def test_resampling_matches_16k_input(aligner):
    samples, rate = _clip("all-circuits-busy-now")
    a = aligner.align(samples, rate, CLIPS["all-circuits-busy-now"])
    b = aligner.align(resample_poly(samples, 2, 1).astype(np.float32), 16000, CLIPS["all-circuits-busy-now"])
    assert [p.phone for p in a.phones] == [p.phone for p in b.phones]
    assert max(abs(p.start - q.start) for p, q in zip(a.phones, b.phones, strict=True)) <= 0.011


def test_unknown_word_gets_a_pronunciation(aligner):
    samples, rate = _clip("agent-pass")
    decoder = aligner._align_decoder()
    assert decoder.lookup_word("passwerd") is None
    alignment = aligner.align(samples, rate, "Please enter your passwerd followed by the pound key")
    index = [w.word for w in alignment.words].index("passwerd")
    assert [p.phone for p in alignment.phones if p.word_index == index] == rule_phones("passwerd")
    assert aligner.pronunciation("passwerd") == ["P", "AE", "S", "W", "ER", "D"]


@pytest.mark.parametrize(
    "transcript",
    ["All circuits are busy now.", "The weather today is sunny with a chance of rain later this evening."],
)
def test_mismatched_transcript_raises(aligner, transcript):
    samples, rate = _clip("agent-pass")
    with pytest.raises(TranscriptMismatchError, match="does not match"):
        aligner.align(samples, rate, transcript)


def test_bad_input_raises_clear_errors(aligner):
    with pytest.raises(PhoneticsError, match="no words"):
        aligner.align(np.zeros(16000, np.float32), 16000, "?!")
    with pytest.raises(PhoneticsError, match="mono"):
        aligner.align(np.zeros((16000, 2), np.float32), 16000, "hello")
    with pytest.raises(PhoneticsError, match="too short"):
        aligner.align(np.zeros(100, np.float32), 16000, "hello")


def _three_prompts():
    pieces, transcript, starts = [], [], []
    gap = np.zeros(int(0.6 * 16000), np.float32)
    t = 0
    for name in ("agent-pass", "conf-getchannel", "all-circuits-busy-now"):
        samples, rate = _clip(name)
        audio = resample_poly(samples, 16000 // rate, 1).astype(np.float32)
        starts.append(t / 16000)
        pieces += [audio, gap]
        t += len(audio) + len(gap)
        transcript.append(CLIPS[name])
    return np.concatenate(pieces), " ".join(transcript), starts


def test_long_audio_is_aligned_in_chunks_with_the_same_result(aligner):
    audio, transcript, starts = _three_prompts()
    chunked = PocketSphinxAligner(max_chunk_s=4.0)
    assert len(split_at_pauses(audio, 16000, 4.0)) >= 3
    progress = []
    a = chunked.align(audio, 16000, transcript, progress=progress.append)
    b = aligner.align(audio, 16000, transcript)
    assert [w.word for w in a.words] == normalise_transcript(transcript)
    assert [w.word for w in a.words] == [w.word for w in b.words]
    differences = [abs(w.start - v.start) for w, v in zip(a.words, b.words, strict=True)]
    assert np.mean(differences) < 0.02, differences
    assert max(differences) < 0.1, differences
    # Each prompt's first word starts after that prompt's audio begins (times are absolute in the clip).
    firsts = [0, len(normalise_transcript(CLIPS["agent-pass"])),
              len(normalise_transcript(CLIPS["agent-pass"] + " " + CLIPS["conf-getchannel"]))]  # fmt: skip
    for index, start in zip(firsts, starts, strict=True):
        assert start <= a.words[index].start < start + 0.5
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3


def test_cancel_between_chunks():
    audio, transcript, _ = _three_prompts()
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        PocketSphinxAligner(max_chunk_s=4.0).align(audio, 16000, transcript, cancel=cancel)
    assert len(calls) == 2


@pytest.mark.slow  # loads the 27 MB language model; recognition is about real time on a busy 2-core box
def test_recognition_without_transcript(aligner):
    samples, rate = _clip("agent-pass")
    alignment = aligner.align(samples, rate)
    assert alignment.source == "recognised"
    words = [w.word for w in alignment.words]
    assert {"password", "pound"} <= set(words)
    _check_tiling(alignment, len(samples) / rate)


def test_split_at_pauses_cuts_in_silence():
    rng = np.random.default_rng(3)
    rate = 16000
    pieces = []
    for length in (3.0, 2.5, 4.0, 1.0, 3.5):  # bursts of noise-like "speech" separated by 0.4 s pauses
        pieces += [0.3 * rng.standard_normal(int(length * rate)), np.zeros(int(0.4 * rate))]
    audio = np.concatenate(pieces).astype(np.float32)
    chunks = split_at_pauses(audio, rate, 6.0)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    assert all(end - start <= 6.0 * rate for start, end in chunks)
    for _start, end in chunks[:-1]:
        assert np.all(audio[end - 400 : end + 400] == 0.0)  # cut inside a pause, away from the bursts


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian package flite) is not installed")
def test_onsets_match_flite_phone_timings(aligner, tmp_path):
    text = "Many people watch the bright yellow boats move slowly across the bay."
    wav = tmp_path / "flite.wav"
    out = subprocess.run(["flite", "-voice", "slt", "-t", text, "-psdur", "-o", str(wav)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    reference, start = [], 0.0
    for item in out.split():
        label, end = item.rsplit(":", 1)
        if label != "pau":
            reference.append((label.upper().replace("AX", "AH"), start))
        start = float(end)
    samples, rate = sf.read(wav, dtype="float32")
    alignment = aligner.align(samples, rate, text)
    got = [(p.phone, p.start) for p in alignment.speech_phones()]
    assert len(got) == len(reference)
    errors = [abs(a[1] - b[1]) for a, b in zip(got, reference, strict=True)]
    assert np.mean(errors) < 0.03
