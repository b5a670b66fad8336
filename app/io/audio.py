"""Audio input: any file soundfile can decode, as 16 kHz mono float32, with clear errors for bad input.

Large files are read block by block and downmixed on the fly, so the multichannel file is never held in memory; only
the mono signal at the source rate and the resampled result exist at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from app.core.take import AudioRef
from app.core.timebase import SAMPLE_RATE

DEFAULT_MAX_SECONDS = 30 * 60.0
MIN_SOURCE_RATE = 4_000
MAX_SOURCE_RATE = 384_000
MAX_CHANNELS = 64
SILENCE_PEAK = 1e-4  # about -80 dBFS: below this nothing can be heard or animated
BLOCK_FRAMES = 1 << 18


class AudioError(Exception):
    """The audio cannot be used; the message says why in words a user understands."""


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray  # float32 mono at sample_rate
    sample_rate: int
    path: str | None
    source_rate: int
    source_channels: int
    sha256: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def ref(self) -> AudioRef:
        if self.path is None:
            raise ValueError("clip has no file path")
        return AudioRef(path=self.path, sha256=self.sha256, duration=self.duration, sample_rate=self.source_rate)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def probe_audio(path: str | Path) -> tuple[int, int, int]:
    """(sample rate, channels, frames) of a file, with AudioError for anything unreadable."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path.name} is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, TypeError) as exc:
        reason = _reason(exc).rstrip(".")
        raise AudioError(f"cannot read {path.name} as audio: {reason}. Supported: WAV, FLAC, OGG/Vorbis, "
                         "Opus, AIFF, MP3 and other formats of libsndfile") from None
    return int(info.samplerate), int(info.channels), int(info.frames)


def load_audio(path: str | Path, *, max_seconds: float | None = DEFAULT_MAX_SECONDS,
               target_rate: int = SAMPLE_RATE, allow_silent: bool = False) -> AudioClip:
    """Load ``path`` as mono float32 at ``target_rate``."""
    import soundfile as sf

    path = Path(path)
    rate, channels, frames = probe_audio(path)
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise AudioError(f"{path.name}: sample rate {rate} Hz is outside the supported "
                         f"{MIN_SOURCE_RATE}-{MAX_SOURCE_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{path.name}: {channels} channels is not a usable recording")
    if frames <= 0:
        raise AudioError(f"{path.name} contains no audio samples")
    duration = frames / rate
    if max_seconds is not None and duration > max_seconds:
        raise AudioError(f"{path.name} is {_fmt_duration(duration)} long; the limit is {_fmt_duration(max_seconds)}. "
                         "Split the dialogue into shorter takes or raise the limit.")
    mono = np.empty(frames, dtype=np.float32)
    filled = 0
    try:
        with sf.SoundFile(str(path)) as fh:
            for block in fh.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                n = min(len(block), frames - filled)
                mono[filled:filled + n] = block[:n].mean(axis=1)
                filled += n
                if filled >= frames:
                    break
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path.name} is damaged: reading stopped after {filled / rate:.2f} s ({_reason(exc)})") \
            from None
    mono = mono[:filled]
    if filled == 0:
        raise AudioError(f"{path.name} contains no audio samples")
    clip_samples = prepare_samples(mono, rate, target_rate, label=path.name, allow_silent=allow_silent)
    return AudioClip(samples=clip_samples, sample_rate=target_rate, path=str(path.resolve()), source_rate=rate,
                     source_channels=channels, sha256=file_sha256(path))


def prepare_samples(mono: np.ndarray, rate: int, target_rate: int = SAMPLE_RATE, *, label: str = "audio",
                    allow_silent: bool = False) -> np.ndarray:
    """Validate a mono signal and resample it to ``target_rate`` (polyphase, anti-aliased)."""
    mono = np.asarray(mono, dtype=np.float32)
    if mono.ndim != 1:
        raise AudioError(f"{label}: expected a mono signal")
    if len(mono) == 0:
        raise AudioError(f"{label} contains no audio samples")
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{label} contains invalid samples (NaN or infinity); the file is damaged")
    peak = float(np.max(np.abs(mono)))
    if peak < SILENCE_PEAK and not allow_silent:
        raise AudioError(f"{label} is silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS): "
                         "there is no speech to animate")
    out = resample_audio(mono, rate, target_rate)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def resample_audio(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return np.ascontiguousarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(dst_rate, src_rate).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    from app.core.atomic import atomic_write

    with atomic_write(path, "wb") as fh:
        sf.write(fh, np.asarray(samples, dtype=np.float32), rate, format="WAV", subtype="PCM_16")


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def _fmt_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
