"""Shared machinery of the fuzz and fault campaign: run one mutated input through the real CLI, classify the
outcome, and count every case for the summary line printed at the end of the test run.

Outcomes: ``ok`` (exit 0), ``clean`` (exit 2 with a one-line ``vasa-rig CMD: error: ...`` message that names the
file), ``crash`` (any exception out of main(), another exit code, or a malformed error message) and ``hang`` (over
the per-case time limit, enforced with SIGALRM in the main thread).
"""

from __future__ import annotations

import contextlib
import io
import signal
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

TALLY: Counter = Counter()
FAILURES: list[str] = []
CASE_LIMIT_S = 20.0


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that ran past its limit (a BaseException, so no ``except Exception`` eats it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise CaseTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CliRunner:
    """``run(argv, names=...)`` runs ``app.__main__.main(argv)`` in-process and returns the outcome."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def run(self, argv: list[str], names: str | Path | None = None, limit_s: float = CASE_LIMIT_S,
            label: str = "") -> str:
        from app.__main__ import main

        out, err = io.StringIO(), io.StringIO()
        command = argv[0]
        what = f"{label or ''} {' '.join(str(a) for a in argv)}".strip()
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(limit_s):
                rc = main([str(a) for a in argv])
        except CaseTimeout:
            return self._record("hang", f"{what}: over {limit_s:g} s")
        except SystemExit as exc:  # argparse refusing the command line is not a crash
            rc = exc.code
            if rc == 2:
                return self._record("clean", "")
        except BaseException:
            return self._record("crash", f"{what}: exception escaped main()\n{traceback.format_exc()}")
        elapsed = time.perf_counter() - t0
        message = err.getvalue().strip()
        if rc == 0:
            return self._record("ok", "")
        if rc != 2:
            return self._record("crash", f"{what}: exit code {rc!r}; stderr: {message[:500]}")
        lines = message.splitlines()
        prefix = f"vasa-rig {command}: error: "
        if len(lines) != 1 or not lines[0].startswith(prefix):
            return self._record("crash", f"{what}: exit 2 without a one-line error: {message[:800]!r}")
        if names is not None and Path(names).name not in lines[0]:
            return self._record("crash", f"{what}: the error does not name {Path(names).name}: {lines[0]!r}")
        assert elapsed < limit_s
        return self._record("clean", "")

    def _record(self, outcome: str, detail: str) -> str:
        TALLY["inputs"] += 1
        TALLY[outcome] += 1
        if detail:
            self.failures.append(detail)
            FAILURES.append(detail.splitlines()[0])
        return outcome

    def check(self) -> None:
        """Fail the test with every bad case it saw."""
        assert not self.failures, f"{len(self.failures)} bad cases:\n" + "\n".join(self.failures[:10])


@pytest.fixture
def cli() -> CliRunner:
    runner = CliRunner()
    yield runner
    runner.check()


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded by the test's name: the same cases on every run, different cases per test."""
    seed = sum(request.node.name.encode()) * 7919 + len(request.node.name)
    return np.random.default_rng(seed)


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """One random corruption: flip bits, overwrite a run, truncate, insert, delete or duplicate a slice."""
    b = bytearray(data)
    kind = int(rng.integers(6))
    if not b:
        return bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        i = int(rng.integers(len(b)))
        n = int(rng.integers(1, 17))
        b[i:i + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    elif kind == 2:
        b = b[:int(rng.integers(len(b)))]
    elif kind == 3:
        i = int(rng.integers(len(b) + 1))
        b[i:i] = rng.integers(0, 256, int(rng.integers(1, 33)), dtype=np.uint8).tobytes()
    elif kind == 4:
        i = int(rng.integers(len(b)))
        del b[i:i + int(rng.integers(1, 65))]
    else:
        i, j = sorted(int(x) for x in rng.integers(0, len(b) + 1, 2))
        b[j:j] = b[i:i + 64]
    return bytes(b)


@pytest.fixture
def tally() -> Counter:
    """The campaign's counters, for tests that classify their own cases (decoders, kill tests, loaders)."""
    return TALLY


@pytest.fixture
def mutate():
    return mutate_bytes


def pytest_terminal_summary(terminalreporter):
    if not TALLY["inputs"] and not TALLY["kills"] and not TALLY["loaders"] and not TALLY["app_kills"]:
        return
    t = TALLY
    terminalreporter.write_sep("-", "fuzz and fault summary")
    if t["inputs"]:
        terminalreporter.write_line(
            f"fuzz: {t['inputs']} inputs tried, {t['clean']} clean errors, {t['ok']} successes, {t['crash']} crashes, "
            f"{t['hang']} hangs")
    if t["kills"]:
        terminalreporter.write_line(
            f"kill -9: {t['kills']} kills during saves and exports ({t['mid_write']} mid-write, leaving a temp "
            f"file), {t['damaged']} files damaged, {t['left_temps']} temp files left after the next save")
    if t["app_kills"]:
        terminalreporter.write_line(
            f"kill -9 of the app mid-edit: {t['app_kills']} kills, {t['app_restored']} restored from the autosave, "
            f"{t['app_nothing_saved']} before the first autosave; at most {t['app_lost_ms_max']} ms of edits lost")
    if t["loaders"]:
        terminalreporter.write_line(
            f"malicious checkpoint: {t['loaders']} loaders tried, {t['payloads_run']} payloads executed")
    for line in FAILURES[:20]:
        terminalreporter.write_line(f"  bad case: {line}")
