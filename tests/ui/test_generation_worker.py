"""The app's long-lived generation process: one child for many takes, same results as in the GUI's process,
cancellation, and recovery when the child dies."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from app.core.paths import resources_dir
from app.io.audio import load_audio
from app.ui.engine_bridge import GenerationCancelled, GenerationRequest, GenerationWorker, run_generation


@pytest.fixture(scope="module")
def clip_and_request():
    clip = load_audio(resources_dir() / "examples" / "example_dialogue.wav")
    clip = type(clip)(clip.samples[: 3 * clip.sample_rate], clip.sample_rate, None, clip.source_rate,
                      clip.source_channels, "test")
    # The neural engine needs no transcript and no recogniser: a short, fast take.
    return clip, GenerationRequest(engine="neural", seed=3)


@pytest.fixture()
def worker():
    w = GenerationWorker(cancel_grace_s=10.0)
    yield w
    w.close()


def test_one_child_serves_many_takes_with_the_in_process_result(worker, clip_and_request):
    clip, request = clip_and_request
    assert "CPU" in worker.warm_up() or "GPU" in worker.warm_up()
    pid = worker._proc.pid
    base, meta = worker.run(clip, request)
    again, _ = worker.run(clip, request)
    assert worker._proc.pid == pid  # the same process: torch and the model were loaded once
    local, local_meta = run_generation(clip, request)
    np.testing.assert_array_equal(base, again)
    np.testing.assert_allclose(base, local, atol=1e-5)
    assert meta.engine == local_meta.engine == "neural" and meta.seed == 3


def test_cancel_and_a_dead_child(worker, clip_and_request):
    clip, request = clip_and_request
    with pytest.raises(GenerationCancelled):
        worker.run(clip, request, cancel=lambda: True)
    progress = []
    base, _ = worker.run(clip, request, progress=lambda f, m: progress.append(f))  # still usable
    assert base.shape[1] == 180 and progress and max(progress) <= 1.0
    pid = worker._proc.pid
    os.kill(pid, signal.SIGKILL)
    worker._proc.join(5)
    again, _ = worker.run(clip, request)  # a fresh child takes over
    assert worker._proc.pid != pid
    np.testing.assert_array_equal(base, again)
