"""The neural engine on audio as it arrives: a few 60 fps frames at a time, with a fixed, stated lookahead.

Offline, the neural engine sees the whole clip. Live, frame ``f`` must be final once the audio up to ``f +
lookahead`` frames has been heard. :class:`StreamingEngine` keeps a short history of audio and of the motion it has
already sent, and every ``hop`` frames:

1. encodes the newest audio (the audio encoder and the mouth-shape recogniser are convolutions, so frames far
   enough from the newest sample come out exactly as offline; the newest ``lookahead`` frames hear less future);
   what no later audio can change is kept from hop to hop (models.audio_encoder.StreamingEncoder), so a hop
   computes only the frames its new audio reaches,
2. runs the speech gate and decides the mouth-shape track as the offline front end does, with the loudest frame so
   far in place of the clip's loudest frame,
3. samples a short window with the sampler of the offline engine (one step, :data:`LIVE_STEPS`): the last
   ``context`` frames already sent as clean context (as the window joins of a long clip), then ``hop + lookahead``
   new frames,
4. decodes, smooths and closes the lips on p/b/m as offline, and returns the first ``hop`` new frames; the
   lookahead frames are sampled again at the next hop, with more audio.

The performance controls (emotion, gaze, eye contact, head distance, articulation) are read at every hop, so they
can change while live. Latency from a sample to the frame it drives is ``lookahead`` frames plus up to ``hop - 1``
frames of waiting, plus the compute time of one hop (:attr:`StreamingEngine.latency_frames`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np

from app.core.timebase import FPS, SAMPLE_RATE

SAMPLES_PER_FRAME = SAMPLE_RATE / FPS
DEFAULT_HOP = 2  # frames per step (33 ms)
DEFAULT_LOOKAHEAD = 1  # frames of future audio each frame waits for (17 ms), beyond the newest frame's analysis window
# Sampler steps live. One step closes the lips on more p/b/m with a few frames of future than the offline default of
# two (held-out sets, 38 clips, lookahead 1: closure 0.820 against 0.748, aperture 1.43 against 1.18) and costs a
# third less; its extra frame-to-frame noise is taken out by SETTLE_MOUTH.
LIVE_STEPS = 1
# Audio kept before the oldest frame a step needs: more than the encoders' receptive field, so every frame but the
# newest few is encoded exactly as offline.
_MARGIN_FRAMES = 46
# A window starts on a multiple of 3 frames (800 samples), so its log-mel frames fall on the same samples in every
# window: the frames one window encoded are then exactly those the next would, and can be kept.
_GRID_FRAMES = 3
# Frames of stand-in future after the newest sample: the newest audio mirrored in time. Silence there (zero padding)
# reads to the encoders as speech stopping, which closes the mouth early on every hop.
_MIRROR_FRAMES = 30
SETTLE = 0.5  # one-pole low-pass factor of the upper face and head (1: off); a lag of about one frame (17 ms)
# The same for the mouth's shaping controls (not the ones that open and close the lips): 0.4 brings the one-step
# sampler's jitter (0.0077) to that of two steps with 0.7 (0.0060 against 0.0061), closure and aperture unchanged.
SETTLE_MOUTH = 0.4
# The head pose live: each hop continues the motion of the frames sent before it, and with a join every two frames
# the head wanders far more than offline (34 s of Asterisk prompts: yaw / pitch / roll SD 5.1 / 7.9 / 6.5 degrees
# and the roll at -17 on average, against 1.6 / 1.4 / 0.8 and -0.4 offline). Its running mean over about 1.7 s
# (HEAD_RATE per frame) is taken off and the rest scaled by HEAD_GAIN about the pose the emotion holds, which gives
# 1.3 / 1.5 / 1.1 degrees; the nods and turns that go with the speech stay. The emotions' poses are the model's own,
# measured offline when the engine starts (sad, for one, holds the head about 4 degrees lower than neutral).
HEAD_GAIN = 0.4
HEAD_RATE = 0.01
_NOISE_CHUNK = 600  # frames of noise drawn at a time
_SACCADE_CHUNK = 600


class StreamingError(Exception):
    """The live engine cannot run: no model, a model without the needed parts, or bad settings."""


@dataclass(frozen=True)
class LiveControls:
    """The director's controls while live; replace the whole object to change them (it is read once per hop)."""

    emotion: str = "neutral"
    intensity: float = 0.0
    gaze: tuple[float, float] = (0.0, 0.0)  # yaw, pitch degrees
    eye_contact: float = 1.0  # 0..1: 1 keeps the eyes on the gaze target, lower lets them wander further
    head_distance: float = 60.0  # cm
    articulation: float = 1.0

    def __post_init__(self) -> None:
        from app.core.settings import EMOTIONS, RANGES, SettingsError

        if self.emotion not in EMOTIONS:
            raise SettingsError(f"unknown emotion {self.emotion!r}; choose one of {', '.join(EMOTIONS)}")
        for name in ("intensity", "eye_contact", "head_distance", "articulation"):
            RANGES[name].check(getattr(self, name))
        RANGES["gaze_yaw"].check(self.gaze[0])
        RANGES["gaze_pitch"].check(self.gaze[1])

    @classmethod
    def from_performance(cls, performance, seconds: float = 0.0) -> LiveControls:
        """Live controls from the app's PerformanceControls, with the emotion key in effect at ``seconds``."""
        key = performance.key_at(seconds)
        return cls(emotion=key.emotion, intensity=key.intensity, gaze=tuple(performance.gaze),
                   eye_contact=performance.eye_contact, head_distance=performance.head_distance,
                   articulation=performance.articulation)

    def emotion_weights(self) -> np.ndarray:
        from app.core.settings import EMOTIONS

        w = np.zeros(len(EMOTIONS), np.float32)
        w[EMOTIONS.index(self.emotion)] = float(self.intensity)
        return w

    def changed(self, **changes) -> LiveControls:
        return replace(self, **changes)


@dataclass
class StepTiming:
    """What one hop did: the frames it made final and how long it took."""

    first_frame: int
    frames: int
    seconds: float


@dataclass
class _History:
    latents: object = None  # torch (k, L) latents of the last frames sent (clean context), k <= context
    curves: np.ndarray = field(default_factory=lambda: np.zeros((0, 180), np.float32))  # last frames sent
    loudest_db: float = -120.0


class StreamingEngine:
    """Feed 16 kHz mono audio in blocks of any size with :meth:`push`; each call returns the (k, 180) frames made
    final by it (k may be 0). :meth:`finish` returns the rest once the input has ended."""

    def __init__(self, *, hop: int = DEFAULT_HOP, lookahead: int = DEFAULT_LOOKAHEAD, seed: int = 0,
                 controls: LiveControls | None = None, steps: int | None = None, guidance: float | None = None,
                 phone_guidance: float | None = None, checkpoint=None, device: str | None = None) -> None:
        if hop < 1 or lookahead < 0:
            raise StreamingError(f"hop must be >= 1 frame and lookahead >= 0, got {hop} and {lookahead}")
        from app.engines import neural

        try:
            self.model = neural.load_model(checkpoint, device)
        except neural.NeuralEngineError as exc:
            raise StreamingError(str(exc)) from None
        from models.pipeline import DEFAULT_GUIDANCE
        from models.visemes import RECOGNISED_PHONE_GUIDANCE

        self.hop, self.lookahead, self.seed = int(hop), int(lookahead), int(seed)
        self.steps = int(steps or LIVE_STEPS)
        self.guidance = DEFAULT_GUIDANCE if guidance is None else float(guidance)
        self.phone_guidance = RECOGNISED_PHONE_GUIDANCE if phone_guidance is None else float(phone_guidance)
        self._controls = controls or LiveControls()
        self.closure = self.model.closure
        # p/b/m probability that makes a frame a closure: the offline value. Lower ones chosen on training speakers
        # (0.12: closure 0.833 -> 0.851 there) closed fewer p/b/m on the held-out sets (0.793 -> 0.775).
        from app.engines.phonetics.mouth_shapes import CLOSURE_THRESHOLD

        self.closure_threshold = CLOSURE_THRESHOLD
        from app.core.rig import load_rig
        from app.engines.neural import ARTICULATED_REGIONS
        from models.closure import CLOSING_CONTROLS
        from models.pipeline import SHARP_CHANNELS

        self.rig = rig = load_rig()
        # Channels the settling low-pass reads (see _settle): the upper face and head, and the mouth's shaping
        # controls; never the blinks or the controls that open and close the lips.
        self._slow_cols = np.array([i for i, name in enumerate(rig.channel_names)
                                    if rig.region(name) not in ARTICULATED_REGIONS and name not in SHARP_CHANNELS])
        self._shape_cols = np.array([i for i, name in enumerate(rig.channel_names)
                                     if rig.region(name) in ARTICULATED_REGIONS and name not in CLOSING_CONTROLS])
        self._blink_cols = np.array([rig.index(name) for name in SHARP_CHANNELS])
        self._head_cols = np.array([i for i, name in enumerate(rig.channel_names) if name.startswith("head_")])
        self._emotion_heads = self._emotion_head_poses()
        self._lock = threading.Lock()
        self._recogniser = None
        if self.model.uses_phones:
            from app.engines.phonetics.mouth_shapes import RecogniserError
            from models.checkpoint import CheckpointError
            from models.visemes import load_cached

            try:
                self._recogniser = load_cached(None, str(self.model.device))
            except (CheckpointError, RecogniserError) as exc:
                raise StreamingError(f"the mouth-shape recogniser cannot be loaded: {exc}") from None
        from models.audio_encoder import StreamingEncoder

        # Both encoders keep the frames no later audio can change and compute only the rest at each hop (False:
        # every hop encodes its whole window, as before; the same figures, about twice the encoder time).
        self.incremental = True
        self._encoders = [StreamingEncoder(self.model.encoder)]
        if self._recogniser is not None:
            self._encoders.append(StreamingEncoder(self._recogniser.encoder))
        self.reset()

    def reset(self) -> None:
        """Forget all audio and motion: the next push starts a new performance."""
        self._audio = np.zeros(0, np.float32)  # samples from absolute sample self._audio_start on
        self._audio_start = 0
        self._received = 0  # samples pushed so far
        self._next = 0  # first frame not yet returned
        self._hist = _History()
        self._index = 0  # hops done
        self._noise_cache: dict = {}
        self._rng = np.random.default_rng(self.seed + 7)
        self._saccades = np.zeros((0, 2))
        self._saccade_start = 0
        self.timings: list[StepTiming] = []
        self.unsure_frames = 0
        self.speech_frames = 0
        self._blink_rng = np.random.default_rng(self.seed + 11)
        self._since_blink = 0  # frames since the last blink (the model's or the keeper's)
        self._blink_gap = self._draw_blink_gap()
        self._blink_pos = -1  # frame of the keeper's blink in progress, -1 when none
        for encoder in self._encoders:
            encoder.reset()
        self._head_mean = None

    def warm_up(self) -> None:
        """Run a few hops on silence and forget them, so the first live frames do not pay for the first calls
        into the network (memory allocation, kernel selection)."""
        self.push(np.zeros(int(0.3 * SAMPLE_RATE), np.float32))
        self.reset()

    # --- controls -------------------------------------------------------------------------------------------
    @property
    def controls(self) -> LiveControls:
        with self._lock:
            return self._controls

    @controls.setter
    def controls(self, value: LiveControls) -> None:
        with self._lock:
            self._controls = value

    @property
    def latency_frames(self) -> float:
        """Mean algorithmic latency in frames: the lookahead plus the mean wait for a hop to fill."""
        return self.lookahead + (self.hop - 1) / 2

    @property
    def frames_done(self) -> int:
        return self._next

    # --- input ------------------------------------------------------------------------------------------------
    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add audio; returns the frames now final ((k, 180) float32, k >= 0)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if x.size:
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
            self._audio = np.concatenate([self._audio, x])
            self._received += x.size
        out = []
        while self._ready(self._next + self.hop + self.lookahead):
            out.append(self._step(self.hop))
        return np.concatenate(out) if out else np.zeros((0, 180), np.float32)

    def finish(self) -> np.ndarray:
        """The frames left once the input has ended (the audio after the last sample is silence)."""
        from app.core.timebase import frames_for_duration

        total = frames_for_duration(self._received / SAMPLE_RATE) if self._received else 0
        out = []
        pad = np.zeros(int((self.hop + self.lookahead + 2) * SAMPLES_PER_FRAME) + 1, np.float32)
        self._audio = np.concatenate([self._audio, pad])
        while self._next < total:
            out.append(self._step(min(self.hop, total - self._next)))
        return np.concatenate(out) if out else np.zeros((0, 180), np.float32)

    def _ready(self, stop_frame: int) -> bool:
        """Whether the audio heard so far covers frames up to ``stop_frame`` (their analysis windows included)."""
        return self._received >= _audio_needed(stop_frame)

    # --- one hop ----------------------------------------------------------------------------------------------
    def _step(self, count: int) -> np.ndarray:
        import time

        import torch

        t0 = time.perf_counter()
        f0 = self._next
        gen_stop = f0 + count + self.lookahead  # frames f0..gen_stop-1 are sampled; f0..f0+count-1 are returned
        a = _window_start(f0)
        s0 = _frame_sample(a)
        piece = self._audio[s0 - self._audio_start:]
        n_local = gen_stop - a
        with torch.inference_mode():
            curves = self._sample(piece, a, f0, gen_stop, n_local)
        out = self._settle(curves[:count])
        out = self._keep_blinking(out)
        out = self._looks_away(out, f0)
        self._hist.curves = np.concatenate([self._hist.curves, out])[-4:]
        out = self._steady_head(out)
        self._next = f0 + count
        self._index += 1
        # Drop audio no later hop needs.
        keep_from = _frame_sample(_window_start(self._next))
        if keep_from > self._audio_start:
            self._audio = self._audio[keep_from - self._audio_start:]
            self._audio_start = keep_from
        self.timings.append(StepTiming(f0, count, time.perf_counter() - t0))
        return out

    def _settle(self, curves: np.ndarray) -> np.ndarray:
        """The upper face and head through a one-pole low-pass from the last frame sent (half way each frame):
        each hop samples its frames afresh, and without it the brows, eyes and nose step at every join."""
        if not len(self._hist.curves):
            return curves
        out = curves.copy()
        for cols, factor in ((self._slow_cols, SETTLE), (self._shape_cols, SETTLE_MOUTH)):
            y = self._hist.curves[-1, cols]
            for k in range(len(out)):
                y = y + factor * (out[k, cols] - y)
                out[k, cols] = y
        return out

    def _draw_blink_gap(self) -> int:
        from app.engines.procedural.upper_face import BLINK_CLAMP, BLINK_LOG_MU, BLINK_LOG_SIGMA, BLINK_UNIT_S

        seconds = float(np.clip(np.exp(self._blink_rng.normal(BLINK_LOG_MU, BLINK_LOG_SIGMA)), *BLINK_CLAMP))
        return int(round(seconds * BLINK_UNIT_S * FPS))

    def _keep_blinking(self, curves: np.ndarray) -> np.ndarray:
        """A blink of the procedural engine's shape whenever the model has not blinked for a natural interval
        (inter-blink times as the procedural engine draws them, median 3.4 s). With a few frames of future the
        model blinks far less than offline (13.8 a minute in speech, 3 in silence, 2 with one frame of lookahead,
        against 17 offline); the model's own blinks keep their timing."""
        from app.engines.procedural.upper_face import BLINK_PROFILE

        cols = self._blink_cols
        for k in range(len(curves)):
            if self._blink_pos < 0 and curves[k, cols].max() >= 0.5:
                self._since_blink, self._blink_gap = 0, self._draw_blink_gap()
            elif self._blink_pos < 0 and self._since_blink >= self._blink_gap:
                self._blink_pos = 0
            if self._blink_pos >= 0:
                curves[k, cols] = np.maximum(curves[k, cols], BLINK_PROFILE[self._blink_pos])
                self._blink_pos += 1
                if self._blink_pos == len(BLINK_PROFILE):
                    self._blink_pos, self._since_blink, self._blink_gap = -1, 0, self._draw_blink_gap()
            self._since_blink += 1
        return curves

    def _looks_away(self, curves: np.ndarray, f0: int) -> np.ndarray:
        """Eye contact below 1 adds looks away from the gaze target (the procedural engine's saccades, scaled by
        how much contact is given up); at 1 the eyes move as the model made them."""
        away = 1.0 - float(self.controls.eye_contact)
        if away <= 0.0:
            return curves
        from app.engines.procedural.poses import indices
        from app.engines.procedural.upper_face import saccades

        n = curves.shape[0]
        while self._saccade_start + len(self._saccades) < f0 + n:
            more = saccades(self._rng, _SACCADE_CHUNK, FPS, 0.0, np.ones(_SACCADE_CHUNK))
            keep = self._saccades[max(0, f0 - self._saccade_start):]
            self._saccade_start += len(self._saccades) - len(keep)
            self._saccades = np.concatenate([keep, more])
        sac = away * self._saccades[f0 - self._saccade_start:f0 - self._saccade_start + n]
        out = curves.copy()
        out[:, indices("C_eye.x")] += sac[:, :1]
        out[:, indices("C_eye")] += sac[:, 1:]
        return self.rig.clamp(out).astype(np.float32)

    def _encode(self, which: int, mel, a: int, mel_final: int, lo: int, hi: int):
        """Encoder ``which`` (0: the motion model's, 1: the recogniser's) on local frames lo..hi-1."""
        if self.incremental:
            return self._encoders[which](mel, a, mel_final, lo, hi)
        return self._encoders[which].encoder.forward_mel(mel).transpose(1, 2)[0][lo:hi]

    def _track(self, piece: np.ndarray, mel, a: int, f0: int, n_local: int, lo: int,
               mel_final: int, feats=None) -> np.ndarray | None:
        """The mouth-shape class per local frame (-1 = unsure), gated for speech as offline; frames before ``lo``
        (no longer needed) are left at silence. ``feats``: the motion model's encoder features of frames lo.., which
        its mouth-shape head reads (when the checkpoint has one) to average with the recogniser, as offline."""
        if self._recogniser is None:
            return None
        import torch

        from app.engines.phonetics import mouth_shapes as S

        rec = self._recogniser
        logits = rec.head(self._encode(1, mel, a, mel_final, lo, n_local)).float()
        logits = logits + torch.tensor(rec.config.bias, dtype=torch.float32, device=logits.device)
        probs = np.zeros((n_local, logits.shape[1]), np.float32)
        probs[:lo, 0] = 1.0
        probs[lo:] = torch.softmax(logits, dim=-1).cpu().numpy()
        if feats is not None and self.model.shapes is not None:
            w = S.HEAD_WEIGHT
            probs[lo:] = (1.0 - w) * probs[lo:] + w * self.model.shape_probabilities(feats)
        # The gate's band level and flatness on the frames that matter: from far enough before ``lo`` that the
        # short-run rule and the flatness average see what they would on the whole window (a start on the 3-frame
        # grid, so the frames fall on the same samples), to a flatness average past the newest frame.
        g0 = max(0, lo - 12)
        g0 -= g0 % _GRID_FRAMES
        level = np.full(n_local, -120.0, np.float32)
        flatness = np.ones(n_local, np.float32)
        part = piece[_frame_sample(g0):]
        lv, fl = S._band_features(part, n_local - g0 + S._FLATNESS_FRAMES // 2 + 1)
        level[g0:], flatness[g0:] = lv[:n_local - g0], fl[:n_local - g0]
        new = slice(f0 - a, n_local)
        self._hist.loudest_db = max(self._hist.loudest_db, float(level[new].max()))
        speech = (level >= max(S.GATE_FLOOR_DB, self._hist.loudest_db - S.GATE_RANGE_DB)) & \
                 (flatness < S.GATE_MAX_FLATNESS)
        # Runs of speech too short to be speech (clicks); a run reaching the newest frame may still grow.
        for start, stop, value in S._runs(speech.astype(np.int8)):
            if value and stop - start < S.MIN_SPEECH_FRAMES and stop < n_local:
                speech[start:stop] = False
        probs[~speech] = 0.0
        probs[~speech, 0] = 1.0
        track = S.decide(probs, S.DEFAULT_THRESHOLD, self.closure_threshold).astype(np.int64)
        hop_frames = slice(f0 - a, min(n_local, f0 - a + self.hop))
        self.speech_frames += int(speech[hop_frames].sum())
        self.unsure_frames += int(((track < 0) & speech)[hop_frames].sum())
        return track

    def _emotion_head_poses(self) -> np.ndarray:
        """(emotions, head channels): the head pose the offline engine holds for each emotion at full intensity,
        less neutral's, over 2 s of near silence (about 0.5 s for all eight)."""
        from app.core.settings import EMOTIONS

        n = int(2 * FPS)
        audio = (np.random.default_rng(self.seed).standard_normal(int(2 * SAMPLE_RATE)) * 1e-4).astype(np.float32)
        means = []
        for k in range(len(EMOTIONS)):
            weights = np.zeros((n, len(EMOTIONS)), np.float32)
            weights[:, k] = 1.0
            curves = self.model.generate(audio, n, weights, np.zeros((n, 2), np.float32),
                                         np.full(n, 60.0, np.float32), seed=self.seed, smooth=0, closure=False)
            means.append(np.asarray(curves)[:, self._head_cols].mean(axis=0))
        return (np.array(means) - means[0]).astype(np.float32)

    def _steady_head(self, curves: np.ndarray) -> np.ndarray:
        """The head pose without its slow wander (see HEAD_GAIN), held about the pose of the live emotion, on the
        frames sent; the frames kept for the next hop's joins stay the model's own, so its smoothing sees the head
        it made."""
        cols = self._head_cols
        rest = self.rig.rest[cols] + self.controls.emotion_weights() @ self._emotion_heads
        m = self._head_mean
        out = curves.copy()
        for k in range(len(out)):
            x = out[k, cols]
            m = x.astype(np.float64) if m is None else m + HEAD_RATE * (x - m)
            out[k, cols] = rest + HEAD_GAIN * (x - m)
        self._head_mean = m
        return out

    def _noise(self, first: int, n: int, dim: int):
        """Noise for frames first..first+n-1, the same for a frame at every hop that samples it: a frame sampled
        again with more audio moves only as far as the audio tells it to, which keeps the motion smooth."""
        import torch

        from models.sampling import window_noise

        chunk = _NOISE_CHUNK
        parts = []
        for c in range(max(first, 0) // chunk, (first + n - 1) // chunk + 1):
            if c not in self._noise_cache:
                self._noise_cache = {k: v for k, v in self._noise_cache.items() if k >= c - 1}
                self._noise_cache[c] = window_noise(self.seed, c, (chunk, dim))
            parts.append(self._noise_cache[c])
        block = torch.cat(parts)
        off = first - (max(first, 0) // chunk) * chunk
        return block[off:off + n][None]

    def _sample(self, piece: np.ndarray, a: int, f0: int, gen_stop: int, n_local: int) -> np.ndarray:
        import torch

        from models.audio2latents import condition_features
        from models.closure import CLOSING_CONTROLS
        from models.pipeline import smooth_time
        from models.sampling import euler_step, time_grid

        model = self.model
        dev = model.device
        cfg = model.a2l.config
        controls = self.controls
        real = min(len(piece), _audio_needed(gen_stop) - _frame_sample(a))  # heard, not stood in
        mirrored = _with_mirrored_future(piece, real)
        n_ext = n_local + _MIRROR_FRAMES
        audio = torch.from_numpy(mirrored).to(dev)
        mel = model.encoder.logmel(audio[None], n_ext)  # one log-mel for both networks (they use the same)
        mel_final = _final_mel_frames(real, mel.shape[-1])
        ctx_lat = self._hist.latents
        n_ctx = 0 if ctx_lat is None else int(ctx_lat.shape[0])
        lo = f0 - a - n_ctx  # local index of the window's first frame
        n = n_ctx + gen_stop - f0
        # The lip-closure pass's ramp reaches two frames back: detect on the two frames before the new ones too.
        back = min(2, f0 - a)
        first = min(lo, f0 - a - back)
        feats_all = self._encode(0, mel, a, mel_final, first, n_local)  # (n_local - first, C): frames first..
        track = self._track(mirrored, mel, a, f0, n_local, lo, mel_final, feats_all[lo - first:])
        feats = feats_all[lo - first:lo - first + n]
        w = torch.from_numpy(np.tile(controls.emotion_weights(), (n, 1))).to(dev)
        gaze = torch.tensor([controls.gaze], dtype=torch.float32, device=dev).expand(n, 2)
        ew, other = condition_features(w, torch.ones(n, device=dev), gaze,
                                       torch.full((n,), float(controls.head_distance), device=dev))
        p = None
        if track is not None:
            p = (torch.from_numpy(track[lo:lo + n]).to(dev) + 1).clamp(0, cfg.phone_classes)[None]
        ctx = torch.zeros(1, n, cfg.latent_dim, device=dev)
        mask = torch.zeros(1, n, dtype=torch.bool, device=dev)
        if n_ctx:
            ctx[0, :n_ctx] = ctx_lat
            mask[0, :n_ctx] = True
        regression = cfg.objective == "regression"
        guidance = 1.0 if regression else self.guidance
        phone_guidance = 1.0 if regression or p is None else self.phone_guidance
        x = self._noise(f0 - n_ctx, n, cfg.latent_dim).to(dev)
        if regression:
            z = model.a2l(torch.zeros_like(x), torch.zeros(1, device=dev), feats[None], ew[None], other[None],
                          ctx, mask, phones=p)
        else:
            ts = time_grid(self.steps, model.time_shift)
            for i in range(self.steps):
                t = torch.full((1,), float(ts[i]), device=dev)
                v = model.guided_velocity(x, t, feats[None], ew[None], other[None], ctx, mask, p, guidance,
                                          phone_guidance)
                x, z = euler_step(x, v, float(ts[i]), float(ts[i + 1]), i == self.steps - 1)
        z = z[0, n_ctx:]
        keep = min(self.hop, z.shape[0])
        lat_hist = z[:keep] if ctx_lat is None else torch.cat([ctx_lat, z[:keep]])
        self._hist.latents = lat_hist[-cfg.context:].clone()
        closure_feats = feats_all[f0 - a - back - first:gen_stop - a - first]
        curves = model.rig.decode(z).float()
        # Smoothing and lip closure as offline, with the frames already sent as the left edge.
        prev = torch.from_numpy(self._hist.curves).to(dev)
        k = prev.shape[0]
        joined = torch.cat([prev, curves])
        rig = self.rig
        sharp = self._blink_cols
        smoothed = smooth_time(joined, 1)
        # The upper face and head get a 5-frame kernel: their motion is slow, and sampling a few frames at a time
        # leaves about three times the offline frame-to-frame noise there. The kernel reaches two frames ahead,
        # which the lookahead has already sampled, so it adds no latency. Mouth, jaw and tongue keep the offline
        # kernel (closures must stay sharp); blinks none.
        wide = self._slow_cols
        smoothed[:, wide] = smooth_time(joined[:, wide], 2)
        smoothed[:, sharp] = joined[:, sharp]
        curves = smoothed[k:]
        if self.closure is not None:
            head = self.closure
            weight = head.closing_weight(head.probability(closure_feats.float()))[back:, None]
            cols = [rig.index(name) for name in CLOSING_CONTROLS]
            pose = torch.tensor(head.pose, dtype=curves.dtype, device=dev)[None]
            curves = curves.clone()
            curves[:, cols] = curves[:, cols] + weight * (pose - curves[:, cols])
        out = curves.cpu().numpy()
        if controls.articulation != 1.0:
            from app.engines.neural import ARTICULATED_REGIONS

            cols = [i for i, name in enumerate(rig.channel_names) if rig.region(name) in ARTICULATED_REGIONS]
            rest = rig.rest[cols]
            out[:, cols] = rest + controls.articulation * (out[:, cols] - rest)
            out = rig.clamp(out)
        return out.astype(np.float32)


def _audio_needed(stop_frame: int) -> int:
    """Samples that cover frames before ``stop_frame`` with their analysis windows (a quarter frame and half a
    25 ms window past the last frame's instant): without that real audio, p/b/m closures are found far less often
    (pooled closure 0.70 against 0.78 on the held-out sets)."""
    # In whole numbers: float rounding at an exact sample would make a window's own count disagree by one sample
    # with the stream's, so that the result depended on the size of the blocks pushed.
    return -(-(4 * int(stop_frame) + 1) * int(SAMPLE_RATE) // (4 * int(FPS))) + 200


def _window_start(first_frame: int) -> int:
    """The first frame of the window a step that returns ``first_frame`` encodes."""
    a = max(0, first_frame - _MARGIN_FRAMES)
    return a - a % _GRID_FRAMES


def _frame_sample(frame: int) -> int:
    """The sample a window starting at ``frame`` starts on (exact for frames on the 3-frame grid)."""
    return int(round(frame * SAMPLES_PER_FRAME))


def _final_mel_frames(real_samples: int, count: int) -> int:
    """How many of a window's ``count`` log-mel frames (models.features.LogMel) lie wholly in its first
    ``real_samples`` samples: those no later audio changes."""
    from models.features import FEATURES_PER_FRAME, WIN

    step = SAMPLE_RATE / (FPS * FEATURES_PER_FRAME)
    centres = np.round(np.arange(count) * step)
    return int(np.sum(centres + WIN // 2 <= real_samples))


def _with_mirrored_future(piece: np.ndarray, end: int) -> np.ndarray:
    """``piece`` cut after ``end`` samples and continued by ``_MIRROR_FRAMES`` frames of its own last samples
    played backwards (so the continuation joins without a step)."""
    body = piece[:end]
    need = int(np.ceil((_MIRROR_FRAMES + 1) * SAMPLES_PER_FRAME)) + 400
    tail = body[::-1][:need]
    if len(tail) < need:
        tail = np.pad(tail, (0, need - len(tail)))
    return np.ascontiguousarray(np.concatenate([body, tail]), dtype=np.float32)
