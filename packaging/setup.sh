#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu machine: system libraries, a virtual environment in .venv, the app.
#   bash packaging/setup.sh            # the app
#   bash packaging/setup.sh --tests    # the app plus everything the test suite needs
# TORCH_SPEC picks the PyTorch build (default: torch==2.13.0; e.g. TORCH_SPEC=torch for the newest CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[[ "${1:-}" == "--tests" ]] && with_tests=1

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Qt's xcb platform plugin, OpenGL/EGL for the 3D preview, PortAudio for playback.
APT_APP=(python3-venv python3-dev libportaudio2 libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0
         libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
         libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libdbus-1-3 libfontconfig1)
# A virtual display for GUI tests; real speech and TTS voices the tests align and measure.
APT_TESTS=(xvfb asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata flite espeak-ng)

if command -v apt-get >/dev/null 2>&1; then
  pkgs=("${APT_APP[@]}")
  [[ $with_tests -eq 1 ]] && pkgs+=("${APT_TESTS[@]}")
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# PyTorch first, so the app's wide torch range does not pull a different (multi-GB) build.
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
if [[ $with_tests -eq 1 ]]; then
  .venv/bin/python -m pip install -q -e ".[test,data,cluster]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "VASA-Rig Studio is installed in $(pwd)/.venv"
