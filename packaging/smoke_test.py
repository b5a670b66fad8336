"""Smoke test of a built (frozen) VASA-Rig Studio, or of any `vasa-rig` executable.

    python packaging/smoke_test.py dist/vasa-rig-0.1.0          # the PyInstaller folder
    python packaging/smoke_test.py --exe .venv/bin/vasa-rig     # an installed command, same checks

Runs the executable headless: version, generation of the bundled example with each engine that is available,
FBX and CSV export, a rendered preview frame, and the GUI opening and closing under a virtual display. Prints
each step's wall time and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "examples" / "example_dialogue.wav"
TRANSCRIPT = ROOT / "resources" / "examples" / "example_dialogue.txt"


class SmokeFailure(Exception):
    pass


def run(cmd: list[str], timeout: float = 600, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise SmokeFailure(f"timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SmokeFailure(f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return dt, proc.stdout + proc.stderr


def find_exe(folder: Path) -> Path:
    for name in ("vasa-rig", "vasa-rig.exe"):
        if (folder / name).exists():
            return folder / name
    raise SmokeFailure(f"no vasa-rig executable in {folder}")


def gui_env() -> tuple[dict, subprocess.Popen | None]:
    env = dict(os.environ, VASA_RIG_SMOKE_EXIT_MS="4000", VASA_RIG_NO_AUDIO="1")
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return env, None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SmokeFailure("no display and no Xvfb to open the GUI on")
    display = ":87"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    env["DISPLAY"] = display
    return env, server


def smoke(exe: Path, work: Path, engines: list[str], gui: bool = True) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []

    def step(label: str, cmd: list[str], expect: str | None = None, **kw) -> str:
        dt, out = run(cmd, **kw)
        if expect and expect not in out:
            raise SmokeFailure(f"{label}: expected {expect!r} in the output, got:\n{out[-1500:]}")
        steps.append((label, dt))
        print(f"ok  {label:28s} {dt:6.2f} s", flush=True)
        return out

    step("version (startup)", [str(exe), "--version"], expect="vasa-rig")
    step("help", [str(exe), "--help"], expect="generate")
    transcript = TRANSCRIPT.read_text().strip()
    for engine in engines:
        project = work / f"example_{engine}.vrig"
        step(f"generate ({engine})", [str(exe), "generate", str(EXAMPLE), "-o", str(project), "--engine", engine,
                                      "--transcript", transcript, "--quiet"])
        if not project.exists():
            raise SmokeFailure(f"generate ({engine}) wrote no project")
    project = work / f"example_{engines[0]}.vrig"
    step("export FBX", [str(exe), "export", str(project), "-o", str(work / "example.fbx")], expect="wrote")
    step("export CSV", [str(exe), "export", str(project), "-o", str(work / "example.csv"), "--fps", "30"],
         expect="wrote")
    header = (work / "example.csv").read_text().splitlines()[0]
    if not header.startswith("Timecode,BlendShapeCount,EyeBlinkLeft"):
        raise SmokeFailure(f"CSV header is wrong: {header[:80]}")
    step("render PNG", [str(exe), "render", str(project), "-o", str(work / "frame.png"), "--frame", "120"])
    if (work / "frame.png").stat().st_size < 10_000:
        raise SmokeFailure("rendered PNG is suspiciously small")
    if gui:
        env, server = gui_env()
        try:
            step("GUI opens and closes", [str(exe), str(project)], env=env, timeout=180)
        finally:
            if server is not None:
                server.terminate()
    return steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", help="the built folder (dist/vasa-rig-VERSION)")
    p.add_argument("--exe", help="an executable to test instead of a built folder")
    p.add_argument("--engines", default="procedural,neural",
                   help="engines to generate with (neural is skipped when no weights ship)")
    p.add_argument("--no-gui", action="store_true")
    args = p.parse_args(argv)
    try:
        exe = Path(args.exe) if args.exe else find_exe(Path(args.folder or ""))
        engines = [e for e in args.engines.split(",") if e]
        if "neural" in engines and not any((ROOT / "models" / "weights").glob("*.pt")):
            engines.remove("neural")
        with tempfile.TemporaryDirectory() as tmp:
            steps = smoke(exe, Path(tmp), engines, gui=not args.no_gui)
    except SmokeFailure as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {len(steps)} steps, {sum(dt for _, dt in steps):.1f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
