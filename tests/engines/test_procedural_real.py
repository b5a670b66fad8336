"""The quality targets of quality_metrics.md on real speech from several voices (slow: aligns ~25 clips)."""

from __future__ import annotations

import argparse

import pytest

from app.commands import bench

pytestmark = pytest.mark.slow


def test_targets_met_on_real_voices():
    from app.engines import metrics as M
    from app.engines.generate import GenerationSettings, phone_alignment
    from app.engines.procedural.engine import PerformanceControls, synthesize

    items = bench.quality_items(20)
    if len({i.voice for i in items}) < 2:
        pytest.skip("needs asterisk-core-sounds-en-wav and pocketsphinx-testdata")
    figures = []
    for item in items:
        clip = bench.load_item(item)
        alignment = phone_alignment(clip, GenerationSettings.of(transcript=item.transcript))
        curves = synthesize(alignment.phones, clip.samples, clip.sample_rate, PerformanceControls(seed=11))
        figures.append(M.evaluate(curves, alignment.phones, clip.samples, clip.sample_rate))
    pooled = M.pool(figures)
    failed = {name for name, ok in pooled.checks().items() if not ok}
    assert not failed, (failed, pooled)
    assert pooled.bilabials >= 50


def test_bench_command_runs(capsys):
    code = bench.run(argparse.Namespace(sections=["quality"], clips=5, seed=0, word_recognition=False))
    out = capsys.readouterr().out
    assert "bilabial closure" in out and "blinks per minute" in out
    assert code in (0, 1)
