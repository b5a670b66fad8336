"""models.audio_encoder.StreamingEncoder: the encoder on a sliding window, computing only what new audio changed,
gives what encoding each whole window gives."""

from __future__ import annotations

import pytest
import torch

from models.audio_encoder import AudioEncoder, AudioEncoderConfig, StreamingEncoder


def _encoder() -> AudioEncoder:
    torch.manual_seed(0)
    enc = AudioEncoder(AudioEncoderConfig(channels=24)).eval()
    with torch.no_grad():  # norms with offsets: zero padding of a block's input is not of its normalised input
        for module in enc.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.5)
    return enc


def _windows(steps: int, hop: int, margin: int = 48, lookahead: int = 2, mirror: int = 30):
    """(start, mel, final mel frames, lo, hi) as a live engine slides its window: each window's mel is the stream's,
    past its final frames a stand-in future that changes at every step."""
    g = torch.Generator().manual_seed(1)
    stream = torch.randn(1, 80, 2 * (steps * hop + lookahead + mirror + 8), generator=g)
    for i in range(steps):
        f0 = i * hop
        a = max(0, f0 - margin)
        a -= a % 3
        n_local = f0 + hop + lookahead - a
        n_ext = n_local + mirror
        mel = stream[:, :, 2 * a:2 * (a + n_ext)].clone()
        final = 2 * n_local - 3
        mel[:, :, final:] = torch.randn(1, 80, mel.shape[-1] - final, generator=g)
        yield a, mel, final, max(0, f0 - a - 12), n_local


@pytest.mark.parametrize("hop", [1, 2, 5])
def test_streaming_encoder_matches_encoding_each_window(hop):
    enc = _encoder()
    stream = StreamingEncoder(enc)
    with torch.inference_mode():
        for a, mel, final, lo, hi in _windows(60, hop):
            want = enc.forward_mel(mel).transpose(1, 2)[0][lo:hi]
            got = stream(mel, a, final, lo, hi)
            assert got.shape == want.shape
            torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_streaming_encoder_keeps_work_and_restarts_after_reset():
    enc = _encoder()
    stream = StreamingEncoder(enc)
    windows = list(_windows(40, 2))
    computed = []
    for layer in stream._layers:  # count the output frames each layer computes
        run = layer.run
        layer.run = lambda below, s, b, length, run=run: computed.append(b - s) or run(below, s, b, length)
    with torch.inference_mode():
        for a, mel, final, lo, hi in windows:
            computed.clear()
            stream(mel, a, final, lo, hi)
        # A steady-state step computes under half the frames encoding the whole window does.
        whole = mel.shape[-1] + (len(stream._layers) - 1) * mel.shape[-1] // 2
        assert 0 < sum(computed) < 0.5 * whole
        assert stream._cache[0] is not None and stream._cache[1] is not None  # the first layers keep frames
        assert all(c is None or c[1].shape[0] <= StreamingEncoder.KEEP for c in stream._cache)
        stream.reset()
        a, mel, final, lo, hi = windows[0]  # a new stream: nothing of the old one may leak in
        torch.testing.assert_close(stream(mel, a, final, lo, hi), enc.forward_mel(mel).transpose(1, 2)[0][lo:hi],
                                   atol=2e-5, rtol=1e-4)
