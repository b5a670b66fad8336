"""``vasa-rig batch``: folders and lists of real speech lines, the manifest, resuming, failures kept per line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.__main__ import main
from app.engines.batch import MANIFEST_NAME, BatchError, BatchOptions, plan_lines, read_manifest, run_batch
from app.engines.generate import GenerationSettings

DATA = Path(__file__).parent / "data"
PASS = DATA / "asterisk-agent-pass.wav"
BUSY = DATA / "asterisk-all-circuits-busy-now.wav"
CHANNEL = DATA / "asterisk-conf-getchannel.wav"


@pytest.fixture
def lines_dir(tmp_path):
    root = tmp_path / "dialogue"
    (root / "act1").mkdir(parents=True)
    (root / "act2" / "scene3").mkdir(parents=True)
    shutil.copy(PASS, root / "act1" / "pass.wav")
    shutil.copy(BUSY, root / "act2" / "scene3" / "busy.wav")
    (root / "act2" / "scene3" / "busy.txt").write_text("All circuits are busy now.\n")
    (root / "act2" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (root / "act2" / "notes.md").write_text("not audio")
    return root


def test_a_folder_keeps_its_layout_resumes_and_reports_failures(lines_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["batch", str(lines_dir), "-o", str(out), "--format", "json", "--workers", "1", "--quiet"]
    assert main(argv) == 1  # one line failed
    printed = capsys.readouterr()
    assert "3 lines: 2 done, 0 unchanged, 1 failed" in printed.out
    assert "broken.wav" in printed.err
    assert (out / "act1" / "pass.json").is_file() and (out / "act2" / "scene3" / "busy.json").is_file()
    assert not (out / "act2" / "broken.json").exists()
    manifest = read_manifest(out)
    assert set(manifest) == {"act1/pass", "act2/scene3/busy", "act2/broken"}
    busy = manifest["act2/scene3/busy"]
    assert busy["status"] == "done" and busy["phones_source"] == "forced"  # the transcript beside it was used
    assert manifest["act1/pass"]["phones_source"] == "recognised" and manifest["act1/pass"]["audio_seconds"] > 3
    assert manifest["act2/broken"]["status"] == "failed" and "broken.wav" in manifest["act2/broken"]["error"]
    assert len(busy["input_sha256"]) == 64 and busy["engine"] == "procedural"
    first = (out / "act1" / "pass.json").stat().st_mtime_ns

    # Rerun: finished lines are skipped, the failed one is tried again.
    assert main(argv) == 1
    assert "3 lines: 0 done, 2 unchanged, 1 failed" in capsys.readouterr().out
    assert (out / "act1" / "pass.json").stat().st_mtime_ns == first

    # Fix the broken line and change a setting: everything is redone with the new seed.
    shutil.copy(CHANNEL, lines_dir / "act2" / "broken.wav")
    assert main(argv[:-1] + ["--seed", "4", "--quiet"]) == 0
    assert "3 lines: 3 done, 0 unchanged, 0 failed" in capsys.readouterr().out
    doc = json.loads((out / "act1" / "pass.json").read_text())
    assert doc["meta"]["seed"] == 4


def test_a_csv_list_gives_each_line_its_transcript_emotion_seed_and_output(tmp_path):
    listing = tmp_path / "lines.csv"
    listing.write_text("audio,transcript,emotion,seed,output\n"
                       f"{PASS},,happy:0.5,7,hero/l01\n"
                       f"{BUSY},All circuits are busy now.,,,\n"
                       ",,,,\n")
    lines = plan_lines(listing)
    assert [line.name for line in lines] == ["hero/l01", "asterisk-all-circuits-busy-now"]
    assert lines[0].seed == 7 and lines[0].emotion == "happy:0.5" and lines[0].transcript is None
    assert lines[1].transcript == "All circuits are busy now."
    summary = run_batch(lines, tmp_path / "out", BatchOptions(base=GenerationSettings.of(), suffix=".vrig"))
    assert (summary.done, summary.failed) == (2, 0) and summary.audio_seconds > 5
    from app.core.project import load_project

    take = load_project(tmp_path / "out" / "hero" / "l01.vrig")
    p = take.meta.settings.performance
    assert p.seed == 7 and p.emotion_keys[0].emotion == "happy"
    assert take.meta.settings.performance.emotion_keys[0].intensity == pytest.approx(0.5)


@pytest.mark.parametrize("text,message", [
    ("file_name,x\na.wav,1\n", "no audio column"),
    (f"audio,seed\n{PASS},seven\n", "line 2: seed must be a whole number"),
    (f"audio,output\n{PASS},../../escape\n", "must stay inside the output folder"),
    ("audio\n", "lists no recordings"),
])
def test_bad_lists_are_refused_by_line(tmp_path, text, message):
    listing = tmp_path / "lines.csv"
    listing.write_text(text)
    with pytest.raises(BatchError, match=message):
        plan_lines(listing)


def test_duplicate_output_names_fail_the_later_line_only(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(PASS, root / "line.wav")
    import soundfile as sf

    data, rate = sf.read(BUSY)
    sf.write(root / "line.flac", data, rate)
    summary = run_batch(plan_lines(root), tmp_path / "out", BatchOptions(suffix=".csv"))
    assert (summary.done, summary.failed) == (1, 1)
    assert "duplicate output name line.csv" in summary.failures[0][1]


def test_two_workers_write_the_same_files_as_one(tmp_path):
    listing = tmp_path / "lines.txt"
    listing.write_text(f"# three lines\n{PASS}\n{BUSY}\n{CHANNEL}\n")
    lines = plan_lines(listing)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        summary = run_batch(lines, out, BatchOptions(suffix=".json", workers=workers))
        assert summary.done == 3
        outs.append({p.name: p.read_bytes() for p in out.glob("*.json") if p.name != MANIFEST_NAME})
    assert len(outs[0]) == 3 and outs[0] == outs[1]
    pids = {e["worker"] for e in read_manifest(tmp_path / "out2").values()}
    assert len(pids) >= 1  # which worker took which line is up to the pool; the outputs are not


def test_a_damaged_manifest_redoes_the_lines_and_is_replaced(tmp_path):
    listing = tmp_path / "lines.txt"
    listing.write_text(f"{BUSY}\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("{ not json")
    summary = run_batch(plan_lines(listing), out, BatchOptions(suffix=".txt"))
    assert summary.done == 1
    assert read_manifest(out)["asterisk-all-circuits-busy-now"]["status"] == "done"


def test_batch_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["batch", str(empty), "-o", str(tmp_path / "o")]) == 2
    assert "no recordings found" in capsys.readouterr().err
    assert main(["batch", str(empty), "-o", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "--workers must be between 1 and 256" in capsys.readouterr().err


def test_a_killed_worker_costs_no_line(tmp_path):
    """kill -9 of a worker mid-batch: its lines go round again in a fresh pool and every output is whole."""
    import multiprocessing
    import os
    import signal

    listing = tmp_path / "lines.csv"
    rows = [f"{[PASS, BUSY, CHANNEL][i % 3]},l{i:02d}" for i in range(12)]
    listing.write_text("audio,output\n" + "\n".join(rows) + "\n")
    killed = []

    def progress(summary, finished):
        if finished >= 2 and not killed:
            workers = multiprocessing.active_children()
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)

    out = tmp_path / "out"
    summary = run_batch(plan_lines(listing), out, BatchOptions(suffix=".json", workers=2), progress=progress)
    assert killed and (summary.done, summary.failed) == (12, 0)
    for i in range(12):
        json.loads((out / f"l{i:02d}.json").read_text())  # whole files only
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_local_ray_cluster_writes_the_same_files_as_the_local_pool(tmp_path):
    pytest.importorskip("ray")
    listing = tmp_path / "lines.txt"
    listing.write_text(f"{PASS}\n{BUSY}\n{tmp_path / 'missing.wav'}\n")
    lines = plan_lines(listing)
    pool = run_batch(lines, tmp_path / "pool", BatchOptions(suffix=".json", workers=2))
    ray = run_batch(lines, tmp_path / "ray", BatchOptions(suffix=".json", workers=2, ray="local"))
    assert (pool.done, pool.failed) == (ray.done, ray.failed) == (2, 1)
    for name in ("asterisk-agent-pass.json", "asterisk-all-circuits-busy-now.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    a, b = read_manifest(tmp_path / "pool"), read_manifest(tmp_path / "ray")
    assert {k: v["settings_hash"] for k, v in a.items() if "settings_hash" in v} == \
        {k: v["settings_hash"] for k, v in b.items() if "settings_hash" in v}


def test_a_full_disk_for_the_manifest_is_one_clear_error_and_keeps_the_outputs(tmp_path, monkeypatch):
    import errno

    import app.engines.batch as B

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(B, "atomic_write_text", full)
    listing = tmp_path / "lines.txt"
    listing.write_text(f"{BUSY}\n")
    with pytest.raises(BatchError, match="No space left on device; the outputs written so far are whole"):
        run_batch(plan_lines(listing), tmp_path / "out", BatchOptions(suffix=".txt"))
    assert (tmp_path / "out" / "asterisk-all-circuits-busy-now.txt").stat().st_size > 1000


def test_ctrl_c_keeps_the_finished_lines_and_a_rerun_finishes_the_rest(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    LINES = 90  # enough that a loaded machine cannot finish them all between the third output and the signal
    listing = tmp_path / "lines.csv"
    listing.write_text("audio,output\n" + "\n".join(f"{[PASS, BUSY, CHANNEL][i % 3]},l{i:02d}"
                                                    for i in range(LINES)) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "app", "batch", str(listing), "-o", str(out), "--format", "json", "--workers", "1"]
    # Ctrl+C as a terminal delivers it: the child starts with SIGINT at its default, whatever this process inherited.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("l*.json"))) < 3:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stdout, (proc.returncode, stdout[-500:], stderr[-500:])
    done = {k for k, v in read_manifest(out).items() if v["status"] == "done"}
    assert 3 <= len(done) < LINES
    for name in done:
        json.loads((out / f"{name}.json").read_text())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    rerun = subprocess.run(cmd + ["--quiet"], capture_output=True, text=True, timeout=300,
                           cwd=Path(__file__).resolve().parents[2])
    assert rerun.returncode == 0
    assert f"{LINES} lines: {LINES - len(done)} done, {len(done)} unchanged, 0 failed" in rerun.stdout


def test_an_unreachable_ray_address_fails_fast_and_clearly(tmp_path):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listing = tmp_path / "lines.txt"
    listing.write_text(f"{BUSY}\n")
    with pytest.raises(BatchError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        run_batch(plan_lines(listing), tmp_path / "out", BatchOptions(ray=f"127.0.0.1:{port}"))
    with pytest.raises(BatchError, match="give HOST:PORT"):
        run_batch(plan_lines(listing), tmp_path / "out", BatchOptions(ray="nonsense"))


def _worker_threads() -> dict:
    import torch
    from threadpoolctl import threadpool_info

    return {"torch": torch.get_num_threads(),
            "blas": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})}


def test_a_worker_holds_torch_and_numpy_blas_to_its_share_of_the_cores():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from app.engines.batch import _init_worker, _worker_context

    with ProcessPoolExecutor(max_workers=1, mp_context=_worker_context(multiprocessing), initializer=_init_worker,
                             initargs=(1,)) as pool:
        seen = pool.submit(_worker_threads).result(timeout=120)
    assert seen["torch"] == 1
    assert seen["blas"] == [1]  # numpy's BLAS was loaded in the fork server, before the worker was told


def test_every_module_the_workers_preload_exists():
    import importlib

    from app.engines.batch import WORKER_PRELOAD

    for name in WORKER_PRELOAD:  # the fork server skips a name it cannot import without a word
        importlib.import_module(name)
