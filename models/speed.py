"""Speed of the neural engine on a 60 s clip on this machine's CPU, with a breakdown by stage.

    python -m models.speed [CKPT] [--steps 1,2,4] [--threads 2] [--repeats 5]

The clip is resources/examples/example_dialogue.wav repeated to 60 s (speed does not depend on what is said).
Whole-call figures are the median and the best of ``repeats`` runs after one warm-up, stage figures the best, all
timed with time.perf_counter; the load average is printed too, because the CPU is shared and other jobs slow every
figure down.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from app.core.timebase import SAMPLE_RATE

from .audio_encoder import encode_long
from .pipeline import NeuralModel

CLIP_SECONDS = 60.0
EXAMPLE = Path(__file__).resolve().parents[1] / "resources" / "examples" / "example_dialogue.wav"


def clip_60s() -> np.ndarray:
    from app.io.audio import load_audio

    mono = load_audio(EXAMPLE).samples  # mono, 16 kHz
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    return np.tile(mono, int(np.ceil(n / len(mono))))[:n]


def timings(fn, repeats: int) -> tuple[float, float]:
    """(median, best) seconds of ``repeats`` runs after a warm-up. Other jobs on a shared CPU only ever add
    time, so the best run is the figure for an uncontended machine and the median the typical one."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main(argv: list[str]) -> int:
    ckpt = next((a for a in argv if a.endswith(".pt")), None)
    steps_list = [int(x) for x in (argv[argv.index("--steps") + 1] if "--steps" in argv else "1,2,4").split(",")]
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 2
    repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 5
    torch.set_num_threads(threads)
    from app.engines.neural import DEFAULT_CHECKPOINT, rig_channels

    model, _ = NeuralModel.load(ckpt or DEFAULT_CHECKPOINT, "cpu")
    audio = clip_60s()
    n = int(CLIP_SECONDS * 60)
    w, g, d = np.zeros((n, 8), np.float32), np.zeros((n, 2), np.float32), np.full(n, 60.0, np.float32)
    channels = rig_channels()
    print(f"60 s clip, {threads} threads, load average before: {os.getloadavg()[0]:.2f}")
    with torch.inference_mode():
        a = torch.from_numpy(audio)
        t_mel = timings(lambda: model.encoder.logmel(a[None], n), repeats)[1]
        mel = model.encoder.logmel(a[None], n)
        t_enc = timings(lambda: model.encoder.forward_mel(mel), repeats)[1]
        t_long = timings(lambda: encode_long(model.encoder, a, n), repeats)[1]
        z = torch.randn(n, model.rig.config.latent_dim)
        t_dec = timings(lambda: model.rig.decode(z), repeats)[1]
    print(f"best of {repeats}: log-mel {t_mel * 1000:.0f} ms | encoder convs {t_enc * 1000:.0f} ms | encode_long "
          f"(both, chunked) {t_long * 1000:.0f} ms | Latents2Rig decode {t_dec * 1000:.0f} ms")
    for steps in steps_list:
        med, best = timings(lambda s=steps: model.generate(audio, n, w, g, d, seed=0, steps=s, channels=channels),
                             repeats)
        print(f"steps={steps}: whole generate median {med:.3f} s = {CLIP_SECONDS / med:.0f}x real time, best "
              f"{best:.3f} s = {CLIP_SECONDS / best:.0f}x (sampling + smoothing about "
              f"{(best - t_long - t_dec) * 1000:.0f} ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
