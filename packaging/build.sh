#!/usr/bin/env bash
# Build the one-folder desktop app into dist/vasa-rig-VERSION/ and report time and size.
# Needs the app installed in .venv (bash packaging/setup.sh) plus PyInstaller: .venv/bin/pip install '.[package]'
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip install -q "pyinstaller>=6"
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/vasa_rig.spec
end=$(date +%s)
out=$(ls -d dist/vasa-rig-* | tail -n 1)
echo "built $out in $((end - start)) s; size $(du -sh "$out" | cut -f1)"
echo "smoke test: $PY packaging/smoke_test.py $out"
