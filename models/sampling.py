"""Pure samplers: functions of a denoiser callable, noise seed and options; no model or state of their own.

Rectified flow convention: x_t = t * x1 + (1 - t) * x0 with x0 ~ N(0, I) noise and x1 the data; the network predicts
the velocity v = x1 - x0. Each step forms the clean estimate x1_hat = x_t + (1 - t) v and the noise estimate
x0_hat = x_t - t v and moves to x_{t'} = t' x1_hat + (1 - t') x0_hat, which is exactly an Euler step; written this
way an optional ``project`` can correct x1_hat between steps (inpainting: locked frames and channels).

Long clips are sampled window by window; each window after the first starts with the previous window's last
``context`` frames as clean context, so motion continues across the join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from app.core.cancel import Cancelled

# denoiser(x (B,n,L), t (B,), starts (first frame of each window), n, ctx (B,n,L), ctx_mask (B,n))
#   -> velocity (or latents, for a direct model) (B,n,L)
Denoiser = Callable[[torch.Tensor, torch.Tensor, list[int], int, torch.Tensor, torch.Tensor], torch.Tensor]
# project(x1_hat (1,n,L), start, stop, gen_from) -> corrected x1_hat; frames before gen_from are context
Projector = Callable[[torch.Tensor, int, int, int], torch.Tensor]


@dataclass(frozen=True)
class WindowPlan:
    start: int  # first frame of the window (context included)
    gen_from: int  # first generated frame (start + context, or start for the first window)
    stop: int


def plan_windows(num_frames: int, window: int, context: int) -> list[WindowPlan]:
    """Windows covering 0..num_frames: the first generates ``window`` frames, the rest ``window - context`` each
    after ``context`` frames of context."""
    if window <= context:
        raise ValueError("window must be longer than its context")
    plans, gen_from = [], 0
    while gen_from < num_frames:
        start = max(0, gen_from - context)
        stop = min(num_frames, start + window)
        plans.append(WindowPlan(start, gen_from, stop))
        gen_from = stop
    return plans


def window_noise(seed: int, index: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Noise for window ``index``: drawn on the CPU from a generator seeded by (seed, index), so a window's noise
    does not depend on the device, on other windows or on the clip's length."""
    g = torch.Generator(device="cpu")
    g.manual_seed((int(seed) * 1_000_003 + index * 7919) & 0x7FFF_FFFF_FFFF_FFFF)
    return torch.randn(shape, generator=g)


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    """The ``steps + 1`` times of the Euler steps from noise (0) to data (1): uniform for ``shift`` 1; a shift
    above 1 moves them towards the noise end (u / (u + shift (1 - u)) for uniform u), which gives the first step,
    where rare sharp events such as blinks are decided, less of the way to go in one jump."""
    if steps < 1 or shift <= 0:
        raise ValueError(f"need steps >= 1 and shift > 0, got {steps} and {shift}")
    u = [i / steps for i in range(steps + 1)]
    return [x / (x + shift * (1.0 - x)) if 0 < x < 1 else x for x in u]


def euler_step(x: torch.Tensor, v: torch.Tensor, t: float, t_next: float, last: bool,
               project: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler step from time ``t`` to ``t_next`` given the velocity ``v`` at ``x``: returns (the next x, the
    clean estimate x1_hat, after ``project`` if given). On the ``last`` step the next x is x1_hat itself."""
    x1 = x + (1.0 - t) * v
    if project is not None:
        x1 = project(x1)
    if last:
        return x1, x1
    x0 = x - t * v
    return t_next * x1 + (1.0 - t_next) * x0, x1


def _group(plans: list[WindowPlan]) -> list[list[int]]:
    """Window indices grouped by length, so each group runs as one batch."""
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(plans):
        groups.setdefault(p.stop - p.start, []).append(k)
    return list(groups.values())


def smooth_join(out: torch.Tensor, gen_from: int, stop: int, ramp: int) -> None:
    """Remove the step at a window join in place: the new window's first frames are shifted so its first frame
    continues the previous window's slope, the shift fading out linearly over ``ramp`` frames."""
    if gen_from < 2 or stop <= gen_from:
        return
    expected = 2 * out[gen_from - 1] - out[gen_from - 2]
    jump = out[gen_from] - expected
    n = min(ramp, stop - gen_from)
    fade = torch.linspace(1.0, 0.0, n + 1, device=out.device)[:n, None]
    out[gen_from:gen_from + n] -= fade * jump


def sample_sequence(denoiser: Denoiser, num_frames: int, latent_dim: int, *, window: int, context: int,
                    steps: int, seed: int, device: torch.device | str = "cpu", direct: bool = False,
                    shift: float = 1.0,
                    mode: str = "lockstep", join_ramp: int = 8, project: Projector | None = None,
                    callback: Callable[[dict], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> torch.Tensor:
    """Latents (num_frames, latent_dim) for a whole clip.

    ``mode="sequential"``: window after window, each conditioned on the previous window's final tail (exact, but
    one network call per window and step). ``mode="lockstep"``: all windows advance together, one batched call
    per step; each window's context is the previous window's clean estimate from the step before, and the small
    remaining step at each join is removed by :func:`smooth_join`. ``direct``: the denoiser returns latents in one
    pass (the regression baseline); ``steps`` is ignored. ``callback`` gets {"step", "steps", "fraction"} after
    every network call; ``cancel`` is polled there and raises app.core.cancel.Cancelled when it returns True.
    ``shift`` places the steps in time (:func:`time_grid`).
    """
    if mode not in ("lockstep", "sequential"):
        raise ValueError(f"unknown sampling mode {mode!r}")
    plans = plan_windows(num_frames, window, context)
    out = torch.zeros(num_frames, latent_dim, device=device)
    n_steps = 1 if direct else steps
    order = _group(plans) if mode == "lockstep" else [[k] for k in range(len(plans))]
    calls = [0, len(order) * n_steps]

    def tick() -> None:
        calls[0] += 1
        if callback is not None:
            callback({"step": calls[0], "steps": calls[1], "fraction": calls[0] / calls[1]})
        if cancel is not None and cancel():
            raise Cancelled("sampling was cancelled")

    # Lockstep keeps every window's latest clean estimate so the next window can read its tail as context.
    estimate = torch.zeros(num_frames, latent_dim, device=device)
    for group in order:
        ps = [plans[k] for k in group]
        b, n = len(ps), ps[0].stop - ps[0].start
        starts = [p.start for p in ps]
        n_ctx = [p.gen_from - p.start for p in ps]
        ctx_mask = torch.zeros(b, n, dtype=torch.bool, device=device)
        for j, c in enumerate(n_ctx):
            ctx_mask[j, :c] = True

        def context(source: torch.Tensor, ps=ps, n=n) -> torch.Tensor:
            return torch.stack([source[p.start:p.start + n] for p in ps])

        def proj(x1: torch.Tensor, ps=ps) -> torch.Tensor:
            if project is None:
                return x1
            return torch.cat([project(x1[j:j + 1], p.start, p.stop, p.gen_from) for j, p in enumerate(ps)])

        if direct:
            x1 = proj(denoiser(torch.zeros(b, n, latent_dim, device=device), torch.zeros(b, device=device),
                               starts, n, context(out), ctx_mask))
            tick()
        else:
            x = torch.cat([window_noise(seed, k, (1, n, latent_dim)) for k in group]).to(device)
            ts = time_grid(steps, shift)
            for i in range(steps):
                t, t_next = float(ts[i]), float(ts[i + 1])
                if mode == "lockstep":
                    mask = ctx_mask if i > 0 else torch.zeros_like(ctx_mask)
                    ctx = context(estimate)
                else:
                    mask, ctx = ctx_mask, context(out)
                v = denoiser(x, torch.full((b,), t, device=device), starts, n, ctx, mask)
                x, x1 = euler_step(x, v, t, t_next, i == steps - 1, proj)
                for j, p in enumerate(ps):
                    estimate[p.gen_from:p.stop] = x1[j, n_ctx[j]:]
                tick()
        for j, p in enumerate(ps):
            out[p.gen_from:p.stop] = x1[j, n_ctx[j]:]
    if mode == "lockstep" and not direct:
        for p in plans[1:]:
            smooth_join(out, p.gen_from, p.stop, join_ramp)
    return out
