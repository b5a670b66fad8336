"""Phone timings from speech with PocketSphinx (the en-us model inside the `pocketsphinx` wheel).

With a transcript: forced alignment. Without: word recognition with the bundled language model, then forced
alignment of the hypothesis (phone-loop recognition is much noisier than aligning recognised words).

Long audio is cut at pauses (see chunking.py). A transcript is distributed over the chunks acoustically: each
chunk but the last is decoded with a grammar that starts at the next unaligned transcript word and may stop
after any number of words, so the decoder itself decides how many words the chunk holds; the last chunk must
take all words left. This costs two cheap grammar passes per chunk instead of a recognition pass (about 8x
slower), and it does not depend on the recogniser getting the words right.

Decoder quirks worked around here (pocketsphinx 5.1): hyp() and current_search() crash the process in
alignment mode or with no search set, so neither is called; a failed alignment is reported as no
segmentation (pass 1) or a RuntimeError from end_utt (pass 2).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.core.cancel import Cancelled
from app.core.timebase import SAMPLE_RATE  # the acoustic model's rate; other rates are resampled here

from .chunking import FRAME_RATE, speech_mask, split_at_pauses
from .lts import pronounce
from .segments import (
    SILENCE,
    Alignment,
    PhoneSegment,
    PhoneticsError,
    TranscriptMismatchError,
    WordSegment,
)
from .text import normalise_transcript

MAX_CHUNK_S = 25.0
# Silence added around every chunk: the alignment starts and ends with a silence of at least 3 frames, so it
# fails outright on clips whose speech starts in the first frame.
_PAD_S = 0.25
# Per-frame acoustic score (decoder units, 0 = best senone in every frame) at which confidence falls to 1/e.
# Measured on the Asterisk prompts: correctly aligned phones average about -20 per frame.
_CONFIDENCE_SCALE = 40.0
# A transcript is rejected when less than this fraction of the energetic (speech) frames fall in words...
_MIN_SPEECH_COVERAGE = 0.6
# ...or when the fit score is this low: wrong words forced onto speech get poor acoustic scores and phones
# squeezed to the minimum duration (3 frames). Fit = mean phone confidence - 0.5 * fraction of phones under
# 0.1 confidence - fraction at minimum duration. On 40 Asterisk prompts (>= 10 phones) correct transcripts
# scored 0.22..0.9 (5th percentile 0.28, median 0.58); on the 30 wrong-prompt transcripts that the decoder
# could align at all, median -0.08, 90th percentile 0.16 (those share phrases such as "press ... to").
# The threshold sits below every correct case: a false alarm costs the user more than a missed one.
_MIN_FIT = 0.12
_MIN_PHONES_FOR_FIT = 10  # fewer phones give too noisy a figure; only hard failures and coverage count
_MIN_TAIL_SPEECH_S = 0.15  # speech left after a chunk's last word that means a word is missing there
_ALT_PRON = re.compile(r"\(\d+\)$")
_FILLERS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "<unk>"})

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]


@dataclass
class _ChunkResult:
    words: list[tuple[str, int, int, list[tuple[str, int, int, int]]]]  # word, start, dur, phones (frames)

    def end_s(self) -> float:
        """End of the last real word, in seconds from the start of the chunk (without its padding)."""
        ends = [start + dur for name, start, dur, _p in self.words if _ALT_PRON.sub("", name) not in _FILLERS]
        return max(ends, default=0) / FRAME_RATE - _PAD_S


class PocketSphinxAligner:
    """Holds the decoders (loading takes ~0.2 s for alignment, ~0.8 s with the language model)."""

    def __init__(self, max_chunk_s: float = MAX_CHUNK_S):
        self.max_chunk_s = max_chunk_s
        self._aligner = None
        self._recogniser = None
        self._lock = threading.Lock()

    # -- decoders ------------------------------------------------------------------------------------------
    def _align_decoder(self):
        if self._aligner is None:
            from pocketsphinx import Decoder  # imported here: a few hundred ms, only when phonetics are used

            self._aligner = Decoder(lm=None, loglevel="FATAL")
        return self._aligner

    def _recognition_decoder(self):
        if self._recogniser is None:
            from pocketsphinx import Decoder

            # The first (tree) pass alone: on held-out LibriVox speech it recognised 29% faster than the default
            # three passes, with a lower word error rate (32% against 38%); forced alignment then fixes the timing.
            self._recogniser = Decoder(loglevel="FATAL", fwdflat=False, bestpath=False)
        return self._recogniser

    def pronunciation(self, word: str) -> list[str]:
        """Dictionary pronunciation, or one from letter-to-sound rules (added to the decoder's dictionary)."""
        decoder = self._align_decoder()
        known = decoder.lookup_word(word)
        if known:
            return known.split()
        phones = pronounce(word, lambda w: (decoder.lookup_word(w) or "").split() or None)
        decoder.add_word(word, " ".join(phones), True)
        return phones

    def knows(self, word: str) -> bool:
        """Whether ``word`` is in the dictionary (bundled or added)."""
        with self._lock:
            return bool(self._align_decoder().lookup_word(word))

    def add_pronunciation(self, word: str, phones: list[str]) -> None:
        """Add ``word`` (lower case, not yet in the dictionary) with the given ARPAbet pronunciation."""
        with self._lock:
            self._align_decoder().add_word(word, " ".join(phones), True)

    # -- public entry point --------------------------------------------------------------------------------
    def align(
        self,
        samples: np.ndarray,
        sample_rate: int = SAMPLE_RATE,
        transcript: str | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> Alignment:
        audio = _prepare_audio(samples, sample_rate)
        words = None
        if transcript is not None:
            words = normalise_transcript(transcript)
            if not words:
                raise PhoneticsError("The transcript contains no words to align.")
        with self._lock:
            for word in words or ():
                self.pronunciation(word)
            chunks = split_at_pauses(audio, SAMPLE_RATE, self.max_chunk_s)
            results = self._run_chunks(audio, chunks, words, progress, cancel)
        alignment = _assemble(results, len(audio) / SAMPLE_RATE, "forced" if words else "recognised")
        if words is not None:
            _check_fit(alignment, audio)
        if progress:
            progress(1.0)
        return alignment

    def _run_chunks(self, audio, chunks, words, progress, cancel):
        results: list[tuple[int, int, _ChunkResult]] = []
        mask = speech_mask(audio, SAMPLE_RATE) if words is not None and len(chunks) > 1 else None
        next_word = 0
        i = 0
        while i < len(chunks):
            if cancel is not None and cancel():
                raise Cancelled("Phone alignment was cancelled.")
            start, end = chunks[i]
            pad = _to_pcm(np.zeros(int(_PAD_S * SAMPLE_RATE), dtype=np.float32))
            # Leading silence only: trailing digital silence makes the grammar pass drop a weak last word
            # (seen on "...press two" in the Asterisk IVR prompt). Padding both ends is the fallback.
            pcm = (pad + _to_pcm(audio[start:end]), pad + _to_pcm(audio[start:end]) + pad)
            if words is None:
                chunk_words = self._recognise(pcm[0])
                result = (self._force_align(pcm, chunk_words) if chunk_words else None) or _ChunkResult([])
            elif i == len(chunks) - 1:
                chunk_words = words[next_word:]
                result = self._force_align(pcm, chunk_words) if chunk_words else _ChunkResult([])
            else:
                chunk_mask = mask[start * FRAME_RATE // SAMPLE_RATE : end * FRAME_RATE // SAMPLE_RATE]
                chunk_words, result = self._take_words(pcm, words[next_word:], chunk_mask, end - start)
            if result is None:
                if i + 1 < len(chunks):  # no pause where one was needed: try again joined with the next chunk
                    chunks = chunks[:i] + [(start, chunks[i + 1][1])] + chunks[i + 2 :]
                    continue
                raise _mismatch(start)
            next_word += len(chunk_words)
            results.append((start, end, result))
            if progress:
                progress(end / len(audio))
            i += 1
        return results

    def _take_words(self, pcm, remaining, chunk_mask, n_samples):
        """The transcript words spoken in this chunk (a prefix of ``remaining``) and their alignment."""
        max_words = int(math.ceil(n_samples / SAMPLE_RATE * 7.0)) + 3  # fast speech is ~6 words/s
        taken = self._count_words(pcm, remaining[:max_words])
        if taken is None:
            return [], None
        result = self._force_align(pcm, remaining[:taken]) if taken else _ChunkResult([])
        # The grammar pass sometimes lets silence swallow a weakly articulated last word. If clear speech is
        # left after the last aligned word, the next transcript words belong here too.
        for _extra in range(3):
            if result is None or taken >= len(remaining):
                break
            tail = chunk_mask[int(result.end_s() * FRAME_RATE) :]
            if np.count_nonzero(tail) < _MIN_TAIL_SPEECH_S * FRAME_RATE:
                break
            trial = self._force_align(pcm, remaining[: taken + 1])
            if trial is None:
                break
            taken, result = taken + 1, trial
        return remaining[:taken], result

    # -- decoding passes -----------------------------------------------------------------------------------
    def _recognise(self, pcm: bytes) -> list[str]:
        decoder = self._recognition_decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = decoder.seg()
        if segments is None:
            return []
        return [_ALT_PRON.sub("", s.word) for s in segments if s.word not in _FILLERS]

    @staticmethod
    def _first_success(variants: tuple[bytes, ...], attempt):
        """The first non-None result of ``attempt(pcm)`` over the audio variants (padding choices), else None."""
        for pcm in variants:
            result = attempt(pcm)
            if result is not None:
                return result
        return None

    def _count_words(self, variants: tuple[bytes, ...], candidates: list[str]) -> int | None:
        """How many of ``candidates`` (in order, from the first) are spoken in this audio; None on failure."""
        return self._first_success(variants, lambda pcm: self._count_words_once(pcm, candidates))

    def _force_align(self, variants: tuple[bytes, ...], words: list[str]) -> _ChunkResult | None:
        return self._first_success(variants, lambda pcm: self._force_align_once(pcm, words))

    def _count_words_once(self, pcm: bytes, candidates: list[str]) -> int | None:
        decoder = self._align_decoder()
        n = len(candidates)
        # States 0..n along the words, n+1 final; an epsilon from every state lets the chunk end there.
        transitions = [(j, j + 1, 1.0, w) for j, w in enumerate(candidates)]
        transitions += [(j, n + 1, 1.0) for j in range(n + 1)]
        fsg = decoder.create_fsg("chunk", 0, n + 1, transitions)
        decoder.add_fsg("chunk", fsg)
        decoder.activate_search("chunk")
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        try:
            decoder.end_utt()
        except RuntimeError:
            return None
        segments = decoder.seg()
        if segments is None:
            return None
        spoken = [_ALT_PRON.sub("", s.word) for s in segments if s.word not in _FILLERS]
        return len(spoken) if spoken == candidates[: len(spoken)] else None

    def _force_align_once(self, pcm: bytes, words: list[str]) -> _ChunkResult | None:
        decoder = self._align_decoder()
        try:
            decoder.set_align_text(" ".join(words))
            for _pass in range(2):  # word segmentation, then phone/state alignment from it
                decoder.start_utt()
                decoder.process_raw(pcm, full_utt=True)
                decoder.end_utt()
                if _pass == 0:
                    # When no path reaches the grammar's end the decoder may return the best partial path,
                    # missing the last words: accept only a segmentation with every word in it.
                    segments = decoder.seg()
                    if segments is None:
                        return None
                    spoken = [_ALT_PRON.sub("", s.word) for s in segments if s.word not in _FILLERS]
                    if spoken != list(words):
                        return None
                    decoder.set_alignment()
            alignment = decoder.get_alignment()
        except RuntimeError:
            return None
        if alignment is None:
            return None
        out = []
        for word in alignment:  # copy out now: the entries point into decoder memory
            phones = [(p.name, p.start, p.duration, p.score) for p in word]
            out.append((word.name, word.start, word.duration, phones))
        return _ChunkResult(out)


def _prepare_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(samples)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1:
        raise PhoneticsError(f"Expected mono audio (one channel), got an array of shape {audio.shape}.")
    if not np.issubdtype(audio.dtype, np.floating):
        raise PhoneticsError(f"Expected float samples in -1..1, got {audio.dtype}.")
    if sample_rate <= 0:
        raise PhoneticsError(f"Invalid sample rate {sample_rate}.")
    if not np.all(np.isfinite(audio)):
        raise PhoneticsError("The audio contains NaN or infinite samples.")
    if sample_rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        g = math.gcd(SAMPLE_RATE, int(sample_rate))
        audio = resample_poly(audio, SAMPLE_RATE // g, int(sample_rate) // g)
    if len(audio) < SAMPLE_RATE // 10:
        raise PhoneticsError("The audio is too short to align (under 0.1 s).")
    return audio.astype(np.float32, copy=False)


def _to_pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _confidence(score: int, frames: int) -> float:
    return float(math.exp(min(0.0, score) / max(frames, 1) / _CONFIDENCE_SCALE))


def _assemble(results: list[tuple[int, int, _ChunkResult]], duration: float, source: str) -> Alignment:
    """Absolute times, silence filling every gap, words indexed by their phones."""
    phones: list[PhoneSegment] = []
    words: list[WordSegment] = []

    def add_silence(start: float, end: float, confidence: float = 1.0) -> None:
        if end - start <= 1e-9:
            return
        if phones and phones[-1].phone == SILENCE:
            prev = phones.pop()
            start = prev.start
            confidence = min(confidence, prev.confidence)
        phones.append(PhoneSegment(SILENCE, start, end, confidence, None))

    for chunk_start, chunk_end, result in results:
        offset = chunk_start / SAMPLE_RATE - _PAD_S
        lo, hi = chunk_start / SAMPLE_RATE, chunk_end / SAMPLE_RATE
        for name, _wstart, _wdur, word_phones in result.words:
            word = _ALT_PRON.sub("", name)
            is_filler = word in _FILLERS or word.startswith("+")
            seg_phones = []
            for pname, pstart, pdur, pscore in word_phones:
                # Times inside the padding are clipped back onto the chunk (only silence can lie there).
                start = min(max(offset + pstart / FRAME_RATE, lo), hi)
                end = min(max(offset + (pstart + pdur) / FRAME_RATE, lo), hi)
                if end - start <= 1e-9:
                    continue
                seg_phones.append((pname, start, end, _confidence(pscore, pdur)))
            if not seg_phones:
                continue
            if phones and seg_phones[0][1] > phones[-1].end:
                add_silence(phones[-1].end, seg_phones[0][1])
            elif not phones and seg_phones[0][1] > 0:
                add_silence(0.0, seg_phones[0][1])
            if is_filler:
                for _name, start, end, conf in seg_phones:
                    add_silence(start, end, conf)
                continue
            index = len(words)
            for pname, start, end, conf in seg_phones:
                phone = pname if pname != "SIL" and not pname.startswith("+") else SILENCE
                phones.append(PhoneSegment(phone, start, end, conf, index if phone != SILENCE else None))
            total = sum(e - s for _n, s, e, _c in seg_phones)
            conf = sum((e - s) * c for _n, s, e, c in seg_phones) / total if total > 0 else 0.0
            words.append(WordSegment(word, seg_phones[0][1], seg_phones[-1][2], conf))
    add_silence(phones[-1].end if phones else 0.0, duration)
    return Alignment(phones, words, source)


def _mismatch(sample: int) -> TranscriptMismatchError:
    return TranscriptMismatchError(
        f"The transcript does not match the speech (alignment failed near {sample / SAMPLE_RATE:.1f} s). "
        "Check that the text is what is said in this recording, or leave the transcript out to recognise it."
    )


def _check_fit(alignment: Alignment, audio: np.ndarray) -> None:
    mask = speech_mask(audio, SAMPLE_RATE)
    if mask.any():
        in_words = np.zeros_like(mask)
        for w in alignment.words:
            in_words[int(w.start * FRAME_RATE) : int(math.ceil(w.end * FRAME_RATE))] = True
        coverage = float(np.mean(in_words[mask]))
        if coverage < _MIN_SPEECH_COVERAGE:
            raise TranscriptMismatchError(
                f"The transcript does not match the speech: only {coverage:.0%} of the speech was aligned to "
                "words. Check that the text is complete and belongs to this recording."
            )
    fit = fit_score(alignment)
    if fit is not None and fit < _MIN_FIT:
        raise TranscriptMismatchError(
            f"The transcript does not match the speech: the words fit the audio poorly (fit {fit:.2f}, "
            f"expected at least {_MIN_FIT}). Check that the text is what is said in this recording."
        )


def fit_score(alignment: Alignment) -> float | None:
    """How well the aligned phones fit the audio (see _MIN_FIT); None when there are too few phones to say."""
    phones = alignment.speech_phones()
    if len(phones) < _MIN_PHONES_FOR_FIT:
        return None
    confidence = np.array([p.confidence for p in phones])
    squeezed = np.array([p.duration < 3.5 / FRAME_RATE for p in phones])
    return float(confidence.mean() - 0.5 * np.mean(confidence < 0.1) - squeezed.mean())


_default: PocketSphinxAligner | None = None
_default_lock = threading.Lock()


def align_audio(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    transcript: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Alignment:
    """Phone and word timings for mono float audio; see the module docstring. Times are in seconds."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PocketSphinxAligner()
    return _default.align(samples, sample_rate, transcript, progress, cancel)
