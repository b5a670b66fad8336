"""Training-time augmentation (never baked into the shards): recording conditions the corpus lacks.

:func:`augment` takes an audio crop and its frame-aligned targets and returns both changed consistently:
noise at a random SNR, a synthetic room impulse response, EQ (random peaking/shelving bands), telephone
band-limiting (300-3400 Hz at 8 kHz) or an 8 kHz low-pass, gain, clipping, and a small speed change that
resamples the targets with the same factor (so visemes stay on their sounds) or a pitch shift that keeps
timing. Each step is drawn independently; the description string says what was applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration


@dataclass(frozen=True)
class AugmentConfig:
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (5.0, 35.0)
    p_reverb: float = 0.35
    rt60_s: tuple[float, float] = (0.15, 0.8)
    p_eq: float = 0.4
    p_band: float = 0.2  # telephone band or 8 kHz low-pass
    p_gain: float = 0.8
    gain_db: tuple[float, float] = (-18.0, 6.0)
    p_clip: float = 0.1
    p_speed: float = 0.3
    speed: tuple[float, float] = (0.92, 1.08)
    p_pitch: float = 0.3
    pitch_semitones: tuple[float, float] = (-2.0, 2.0)


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """White, pink or brown noise at ``snr_db`` below the signal power."""
    kind = int(rng.integers(3))
    noise = rng.standard_normal(len(x)).astype(np.float32)
    if kind == 1:  # pink: -3 dB/octave via a simple three-pole filter
        noise = signal.lfilter([0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189],
                               noise).astype(np.float32)
    elif kind == 2:  # brown-ish: a leaky integrator (-6 dB/octave above ~50 Hz, no DC drift)
        noise = signal.lfilter([1.0], [1.0, -0.98], noise).astype(np.float32)
    p_sig = float(np.mean(x**2)) + 1e-10
    p_noise = float(np.mean(noise**2)) + 1e-10
    return x + noise * np.sqrt(p_sig / p_noise / 10 ** (snr_db / 10.0))


def synthetic_rir(rng: np.random.Generator, rt60: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Exponentially decaying noise tail after a direct path and a few early reflections."""
    n = int(rate * rt60)
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail[: int(0.003 * rate)] = 0.0
    rir = tail * 0.3
    rir[0] = 1.0
    for _ in range(4):
        k = int(rng.uniform(0.002, 0.02) * rate)
        if k < n:
            rir[k] += rng.uniform(0.2, 0.6) * rng.choice([-1, 1])
    return (rir / np.sqrt(np.sum(rir**2))).astype(np.float32)


def reverb(x: np.ndarray, rng: np.random.Generator, rt60: float, wet: float) -> np.ndarray:
    wet_sig = signal.fftconvolve(x, synthetic_rir(rng, rt60))[: len(x)]
    return ((1 - wet) * x + wet * wet_sig).astype(np.float32)


def random_eq(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two or three peaking bands of +-9 dB at random centre frequencies (microphone and room colour)."""
    y = x.astype(np.float64)
    for _ in range(int(rng.integers(2, 4))):
        f0 = float(np.exp(rng.uniform(np.log(100), np.log(6000))))
        gain = float(rng.uniform(-9, 9))
        q = float(rng.uniform(0.5, 2.0))
        a = 10 ** (gain / 40)
        w0 = 2 * np.pi * f0 / SAMPLE_RATE
        alpha = np.sin(w0) / (2 * q)
        b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
        den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
        y = signal.lfilter(b, den, y)
    return y.astype(np.float32)


def band_limit(x: np.ndarray, telephone: bool) -> np.ndarray:
    """Telephone band (300-3400 Hz, as an 8 kHz line carries) or plain 8 kHz sampling (4 kHz low-pass)."""
    if telephone:
        sos = signal.butter(6, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    else:
        sos = signal.butter(8, 3800, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    y = signal.sosfilt(sos, x)
    # Down to 8 kHz and back, so aliasing and the codec-like band edge are those of a real 8 kHz recording.
    return signal.resample_poly(signal.resample_poly(y, 1, 2), 2, 1)[: len(x)].astype(np.float32)


def change_speed(x: np.ndarray, targets: dict[str, np.ndarray], factor: float) -> tuple[np.ndarray, dict]:
    """Play ``factor`` times faster (pitch moves with it, as tape speed); every target is resampled in time by
    the same factor, so frame i still shows the sound at audio time i/60."""
    from fractions import Fraction

    ratio = Fraction(1.0 / factor).limit_denominator(200)
    y = signal.resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)
    out = {}
    n_new = frames_for_duration(len(y) / SAMPLE_RATE, FPS)  # the format's frame count for the new audio
    for key, value in targets.items():
        src = np.minimum(np.arange(n_new) * factor, len(value) - 1)
        if value.dtype.kind in "iu":  # categorical (emotion): nearest frame
            out[key] = value[np.rint(src).astype(np.int64)]
        else:
            i0 = np.floor(src).astype(np.int64)
            i1 = np.minimum(i0 + 1, len(value) - 1)
            w = (src - i0).reshape((-1,) + (1,) * (value.ndim - 1))
            out[key] = (value[i0] * (1 - w) + value[i1] * w).astype(value.dtype)
    return y, out


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch, keep duration: resample by the pitch ratio, then restore the length with a phase vocoder
    style overlap-add time stretch (timing error under one 10 ms hop, far below a frame at 60 fps)."""
    ratio = 2 ** (semitones / 12.0)
    from fractions import Fraction

    fr = Fraction(1.0 / ratio).limit_denominator(200)
    y = signal.resample_poly(x, fr.numerator, fr.denominator)  # faster and higher, shorter by 1/ratio
    return _ola_stretch(y, len(x)).astype(np.float32)


def _ola_stretch(x: np.ndarray, n_out: int, win: int = 512, hop_out: int = 160) -> np.ndarray:
    if len(x) < win or n_out < win:
        return np.interp(np.linspace(0, len(x) - 1, n_out), np.arange(len(x)), x)
    w = np.hanning(win)
    frames = int(np.ceil((n_out - win) / hop_out)) + 1
    hop_in = (len(x) - win) / max(frames - 1, 1)
    out = np.zeros(n_out + win)
    norm = np.zeros(n_out + win)
    prev_end = None
    for k in range(frames):
        pos = int(round(k * hop_in))
        # Waveform-similarity search (WSOLA): shift the input window a little so it continues the previous one.
        if prev_end is not None:
            lo, hi = max(0, pos - 80), min(len(x) - win, pos + 80)
            ref = prev_end
            best, best_score = pos, -np.inf
            for cand in range(lo, hi + 1, 4):
                score = float(np.dot(x[cand : cand + hop_out], ref))
                if score > best_score:
                    best, best_score = cand, score
            pos = best
        pos = min(max(pos, 0), len(x) - win)
        seg = x[pos : pos + win]
        o = k * hop_out
        out[o : o + win] += seg * w
        norm[o : o + win] += w
        prev_end = x[pos + hop_out : pos + 2 * hop_out] if pos + 2 * hop_out <= len(x) else seg[:hop_out]
    return out[:n_out] / np.maximum(norm[:n_out], 1e-3)


def augment(audio: np.ndarray, targets: dict[str, np.ndarray], rng: np.random.Generator,
            config: AugmentConfig | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """(audio, targets, description). ``targets`` maps names to arrays whose first axis is frames at 60 fps."""
    c = config or AugmentConfig()
    x = np.asarray(audio, dtype=np.float32)
    steps: list[str] = []
    if rng.random() < c.p_speed:
        factor = float(rng.uniform(*c.speed))
        x, targets = change_speed(x, targets, factor)
        steps.append(f"speed {factor:.3f}")
    elif rng.random() < c.p_pitch:
        st = float(rng.uniform(*c.pitch_semitones))
        x = pitch_shift(x, st)
        steps.append(f"pitch {st:+.2f} st")
    if rng.random() < c.p_eq:
        x = random_eq(x, rng)
        steps.append("eq")
    if rng.random() < c.p_reverb:
        rt60 = float(rng.uniform(*c.rt60_s))
        x = reverb(x, rng, rt60, float(rng.uniform(0.2, 0.7)))
        steps.append(f"reverb rt60 {rt60:.2f}")
    if rng.random() < c.p_band:
        tel = bool(rng.random() < 0.5)
        x = band_limit(x, tel)
        steps.append("telephone" if tel else "8 kHz")
    if rng.random() < c.p_noise:
        snr = float(rng.uniform(*c.snr_db))
        x = add_noise(x, rng, snr)
        steps.append(f"noise {snr:.0f} dB")
    if rng.random() < c.p_gain:
        g = float(rng.uniform(*c.gain_db))
        x = x * 10 ** (g / 20)
        steps.append(f"gain {g:+.1f} dB")
    if rng.random() < c.p_clip:
        level = float(rng.uniform(0.1, 0.5)) * (float(np.max(np.abs(x))) + 1e-6)
        x = np.clip(x, -level, level)
        steps.append("clipped")
    return x.astype(np.float32), targets, ", ".join(steps) or "none"


def frames_for_samples(num_samples: int) -> int:
    return int(num_samples * FPS // SAMPLE_RATE)
