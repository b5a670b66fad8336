"""The app's long-lived worker process (app.engines.runner): one child for many jobs, same results as in the GUI's
process, typed jobs (generate, transcribe, read audio), cancellation, failures, and recovery when the child dies."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from app.core.cancel import Cancelled
from app.core.paths import resources_dir
from app.core.settings import GenerationSettings
from app.engines.runner import Generate, JobFailed, LoadAudio, ProcessRunner, Transcribe, WarmUp, run_generation
from app.io.audio import load_audio


@pytest.fixture(scope="module")
def clip_and_request():
    clip = load_audio(resources_dir() / "examples" / "example_dialogue.wav")
    clip = type(clip)(clip.samples[: 3 * clip.sample_rate], clip.sample_rate, None, clip.source_rate,
                      clip.source_channels, "test")
    # The neural engine needs no transcript and no recogniser: a short, fast take.
    return clip, GenerationSettings.of(engine="neural", seed=3)


@pytest.fixture()
def worker():
    w = ProcessRunner(cancel_grace_s=10.0)
    yield w
    w.close()


def test_one_child_serves_many_takes_with_the_in_process_result(worker, clip_and_request):
    clip, request = clip_and_request
    description = worker.run(WarmUp())
    assert "CPU" in description or "GPU" in description
    pid = worker._proc.pid
    base, meta = worker.run(Generate(clip, request))
    again, _ = worker.run(Generate(clip, request))
    assert worker._proc.pid == pid  # the same process: torch and the model were loaded once
    local, local_meta = run_generation(clip, request)
    np.testing.assert_array_equal(base, again)
    np.testing.assert_allclose(base, local, atol=1e-5)
    assert meta.engine == local_meta.engine == "neural" and meta.settings.performance.seed == 3
    assert meta.provenance.steps == local_meta.provenance.steps == 2


def test_cancel_and_a_dead_child(worker, clip_and_request):
    clip, request = clip_and_request
    with pytest.raises(Cancelled):
        worker.run(Generate(clip, request), cancel=lambda: True)
    progress = []
    base, _ = worker.run(Generate(clip, request), progress=lambda f, m: progress.append(f))  # still usable
    assert base.shape[1] == 180 and progress and max(progress) <= 1.0
    pid = worker._proc.pid
    os.kill(pid, signal.SIGKILL)
    worker._proc.join(5)
    again, _ = worker.run(Generate(clip, request))  # a fresh child takes over
    assert worker._proc.pid != pid
    np.testing.assert_array_equal(base, again)


def test_transcribe_and_read_audio_jobs(worker, tmp_path):
    path = resources_dir() / "examples" / "example_dialogue.wav"
    clip, found = worker.run(LoadAudio(str(path), sidecars=True))
    assert clip.sample_rate == 16000 and clip.duration > 3 and found.transcript  # the example's .txt beside it
    progress = []
    result = worker.run(Transcribe(clip), progress=lambda f, m: progress.append(m))
    assert result.words >= 5 and len(result.text.split()) == result.words and "Transcribing" in progress
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(JobFailed, match="noise.wav"):
        worker.run(LoadAudio(str(bad)))
    assert worker.alive  # a failed job leaves the child running for the next one


def test_settings_are_refused_before_they_reach_an_engine():
    from app.core.settings import SettingsError

    with pytest.raises(SettingsError, match="head distance"):
        GenerationSettings.of(head_distance=5.0)
    with pytest.raises(SettingsError, match="sampling steps"):
        GenerationSettings.of(engine="neural", steps=0)
    with pytest.raises(TypeError, match="nonesuch"):
        GenerationSettings.of(nonesuch=1)
