import struct

import numpy as np
import pytest
import soundfile as sf

from app.io.audio import AudioError, load_audio, prepare_samples, resample_audio


def _tone(rate, seconds=1.0, freq=440.0, channels=1, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("fmt,subtype,ext", [
    ("WAV", "PCM_16", "wav"), ("WAV", "PCM_24", "wav"), ("WAV", "FLOAT", "wav"),
    ("FLAC", "PCM_16", "flac"), ("OGG", "VORBIS", "ogg"), ("AIFF", "PCM_16", "aiff"),
])
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_formats_and_rates(tmp_path, fmt, subtype, ext, rate):
    path = tmp_path / f"x.{ext}"
    sf.write(path, _tone(rate, channels=2), rate, format=fmt, subtype=subtype)
    clip = load_audio(path)
    assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert clip.duration == pytest.approx(1.0, abs=0.01)
    assert (clip.source_rate, clip.source_channels) == (rate, 2)
    # the tone survives: its frequency and level are kept
    spec = np.abs(np.fft.rfft(clip.samples[:16000]))
    assert abs(np.argmax(spec) - 440) <= 2
    assert np.sqrt(np.mean(clip.samples[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert len(clip.sha256) == 64


def test_downmix_averages_channels(tmp_path):
    left = _tone(16000, amp=0.4)
    stereo = np.stack([left, -left], axis=1)  # opposite phase cancels
    sf.write(tmp_path / "s.wav", np.stack([left, left * 0.5], axis=1), 16000)
    clip = load_audio(tmp_path / "s.wav")
    assert np.allclose(clip.samples, left * 0.75, atol=1e-4)
    sf.write(tmp_path / "c.wav", stereo, 16000)
    with pytest.raises(AudioError, match="silent"):
        load_audio(tmp_path / "c.wav")


def test_resampler_is_anti_aliased():
    rate = 44100
    high = _tone(rate, freq=12000.0)  # above the 8 kHz Nyquist limit of 16 kHz audio
    out = resample_audio(high, rate, 16000)
    assert np.sqrt(np.mean(out[500:-500] ** 2)) < 0.01


def test_missing_empty_and_garbage(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "none.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"this is not audio at all" * 20)
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(tmp_path / "junk.wav")
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)


def test_no_samples(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(tmp_path / "zero.wav")


def test_silent_and_nan(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match="silent"):
        load_audio(tmp_path / "quiet.wav")
    assert load_audio(tmp_path / "quiet.wav", allow_silent=True).duration == pytest.approx(1.0)
    x = _tone(16000)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")


def test_absurd_sample_rate(tmp_path):
    sf.write(tmp_path / "low.wav", _tone(1000, freq=100.0), 1000)
    with pytest.raises(AudioError, match="sample rate 1000 Hz"):
        load_audio(tmp_path / "low.wav")


def _wav_header(rate: int, frames: int) -> bytes:
    data_bytes = frames * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
            rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes))


def test_two_hour_file_is_refused_before_reading(tmp_path):
    # Two hours of 16 kHz audio as a sparse file (takes no disk space): the length check must come from the
    # header, before any sample is read.
    path = tmp_path / "long.wav"
    frames = 2 * 3600 * 16000
    with open(path, "wb") as fh:
        fh.write(_wav_header(16000, frames) + (_tone(16000) * 32767).astype("<i2").tobytes())
        fh.truncate(44 + frames * 2)
    with pytest.raises(AudioError, match=r"2\.0 h long; the limit is 30\.0 min"):
        load_audio(path)
    with pytest.raises(AudioError, match="limit is 0.5 s"):
        sf.write(tmp_path / "short.wav", _tone(16000), 16000)
        load_audio(tmp_path / "short.wav", max_seconds=0.5)


def test_truncated_file_reports_damage_or_loads_what_is_there(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _tone(16000, seconds=2.0), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    clip = load_audio(path)  # libsndfile reads the samples that exist
    assert 0.9 < clip.duration < 1.1


def test_prepare_samples_checks():
    with pytest.raises(AudioError, match="mono"):
        prepare_samples(np.zeros((10, 2)), 16000)
    with pytest.raises(AudioError, match="no audio"):
        prepare_samples(np.zeros(0), 16000)
    out = prepare_samples(_tone(48000), 48000)
    assert len(out) == 16000
